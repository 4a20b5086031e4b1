"""The scene document: people, poses and keyframes, camera, timeline, prompt,
generation settings. Pure data (pydantic), no Qt; the single source of truth.

Pose is SMPL-24 (DESIGN.md): global_orient (3) and body_pose (23 x 3)
axis-angle, transl (3) = world position of the pelvis joint, metres, Y up.

Every number is bounded here, at load, to a range that makes physical sense:
anything beyond it (a camera 1e308 m away, a 1e-300 px focal length) would
only overflow downstream into NaN images and annotations, or a traceback.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)

from posebooth.scene.props import MAX_PROPS, FileRef, ImageReference, Prop

SCENE_FORMAT = "posebooth-scene"
SCENE_VERSION = 2                  # 2: hand poses and expressions per key (version 1 files still load)
MAX_PEOPLE = 16
MAX_KEYS = 100_000
MAX_FRAME = 10_000_000
MAX_COORD = 10_000.0               # metres from the origin: 10 km is more than any studio or street scene
MAX_ROTATION = 4 * math.pi         # radians per axis-angle vector: two full turns, any way of writing a rotation
MAX_IMAGE = 8192                   # pixels per side
MIN_FPS, MAX_FPS = 1.0, 1000.0
ANNY_SHAPE_RANGE = (0.0, 1.0)      # anny's phenotypes (gender, age, muscle, ...) are 0..1
BETA_RANGE = (-10.0, 10.0)         # SMPL betas are in standard deviations of the shape space
# The focal lengths in pixels that focal_mm (1..2000) over a sensor of 1..100 mm gives: W/100 .. 2000 W.
MIN_FOCAL_PER_PX, MAX_FOCAL_PER_PX = 0.01, 2000.0


def number_text(v) -> str:
    """A number as a person writes it: 10000000, not 1e+07; 1e+308 stays short."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return repr(v)
    if math.isfinite(v) and float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError(f"must be a finite number (got {v})")
    return v


def _between(lo: float, hi: float):
    def check(v):
        if not lo <= v <= hi:
            raise ValueError(f"must be between {number_text(lo)} and {number_text(hi)} (got {number_text(v)})")
        return v
    return AfterValidator(check)


def Range(lo: float, hi: float, kind=float):
    """A number within [lo, hi], with the bounds in the JSON schema too. Not
    Field(ge=, le=): its message names one bound only, not what is allowed."""
    checks = (AfterValidator(_finite),) if kind is float else ()
    return Annotated[(kind, *checks, _between(lo, hi), Field(json_schema_extra={"minimum": lo, "maximum": hi}))]


def _rotation(v: list[float]) -> list[float]:
    for j in range(len(v) // 3):
        norm = math.hypot(*v[3 * j:3 * j + 3])   # hypot: no OverflowError, inf at worst
        if norm > MAX_ROTATION:
            where = f"joint {j + 1} (values {3 * j}..{3 * j + 2}): " if len(v) > 3 else ""
            raise ValueError(f"{where}an axis-angle rotation must be at most 4 pi = {MAX_ROTATION:.4g} "
                             f"radians long (got {number_text(norm)})")
    return v


Finite = Annotated[float, AfterValidator(_finite)]
Coord = Range(-MAX_COORD, MAX_COORD)
Position = Annotated[list[Coord], Field(min_length=3, max_length=3)]
RotVec = Annotated[list[Finite], Field(min_length=3, max_length=3), AfterValidator(_rotation)]
BodyPose = Annotated[list[Finite], Field(min_length=69, max_length=69), AfterValidator(_rotation)]
HandPose = Annotated[list[Finite], Field(min_length=45, max_length=45), AfterValidator(_rotation)]
Unit = Range(0.0, 1.0)
ExpressionName = Annotated[str, Field(min_length=1, max_length=64)]
Color = Annotated[list[Unit], Field(min_length=3, max_length=3)]
FrameNumber = Range(0, MAX_FRAME, int)
Roll = Range(-MAX_ROTATION, MAX_ROTATION)
FocalMm = Range(1.0, 2000.0)
FocalPx = Range(MIN_FOCAL_PER_PX * 8, MAX_FOCAL_PER_PX * MAX_IMAGE)   # any image size; CameraSpec checks its own
PrincipalPx = Range(-MAX_IMAGE, 2 * MAX_IMAGE)
ImageSide = Range(8, MAX_IMAGE, int)
SensorMm = Range(1.0, 100.0)
Near, Far = Range(1e-4, 1e4), Range(1e-3, 1e5)   # metres: 0.1 mm .. 10 km, 1 mm .. 100 km
FrameRate = Range(MIN_FPS, MAX_FPS)
ControlScale, Guidance = Range(0.0, 5.0), Range(0.0, 50.0)
Seed, Steps = Range(0, 2**63 - 1, int), Range(1, 1000, int)
Interp = Literal["linear", "smooth", "step"]
"""How a key eases into the next: `linear` (slerp / lerp), `smooth` (ease
in-out on the same paths) or `step` (hold until the next key)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PoseKey(Strict):
    frame: FrameNumber
    global_orient: RotVec = Field(default_factory=lambda: [0.0, 0.0, 0.0])
    body_pose: BodyPose = Field(default_factory=lambda: [0.0] * 69)
    transl: Position = Field(default_factory=lambda: [0.0, 0.93, 0.0])
    # MANO / SMPL-H finger joints (15 x 3 axis-angle, MANO order and rest
    # frames); all zeros is the flat hand.
    left_hand_pose: HandPose = Field(default_factory=lambda: [0.0] * 45)
    right_hand_pose: HandPose = Field(default_factory=lambda: [0.0] * 45)
    # Facial expression: named weights 0..1 (anny's ARKit-named blendshapes); absent = 0.
    expression: dict[ExpressionName, Unit] = Field(default_factory=dict, max_length=64)
    interp: Interp = "linear"


class BodySpec(Strict):
    model: Literal["anny", "smpl", "smplh", "smplx"] = "anny"
    gender: Literal["neutral", "male", "female"] = "neutral"   # SMPL family only
    # anny phenotypes by name (0..1), or SMPL betas under "beta0".. "beta15".
    shape: dict[Annotated[str, Field(max_length=64)], Finite] = Field(default_factory=dict, max_length=64)

    @field_validator("shape")
    @classmethod
    def _shape_range(cls, shape: dict, info: ValidationInfo) -> dict:
        model = info.data.get("model", "anny")   # declared before shape, so already validated
        lo, hi = ANNY_SHAPE_RANGE if model == "anny" else BETA_RANGE
        what = "anny phenotype values" if model == "anny" else f"{model} betas"
        for name, v in shape.items():
            if not lo <= v <= hi:
                raise ValueError(f"{name!r}: {what} must be between {number_text(lo)} and {number_text(hi)} "
                                 f"(got {number_text(v)})")
        return shape


class Person(Strict):
    name: str = Field(default="Person", max_length=200)
    body: BodySpec = Field(default_factory=BodySpec)
    color: Color = Field(default_factory=lambda: [0.75, 0.72, 0.68])
    keys: list[PoseKey] = Field(default_factory=lambda: [PoseKey(frame=0)], min_length=1, max_length=MAX_KEYS)
    # The lowest point of the posed body sits exactly on y = 0 (assets.posing:
    # one vertical offset per person, from its lowest keyed pose). Version-1
    # files load with it off, so old scenes do not move.
    on_ground: bool = True

    @model_validator(mode="after")
    def _keys_unique_sorted(self):
        frames = [k.frame for k in self.keys]
        if len(set(frames)) != len(frames):
            raise ValueError("two pose keys share a frame")
        if frames != sorted(frames):
            object.__setattr__(self, "keys", sorted(self.keys, key=lambda k: k.frame))
        return self


class CameraKey(Strict):
    frame: FrameNumber
    position: Position = Field(default_factory=lambda: [0.0, 1.0, 4.0])
    target: Position = Field(default_factory=lambda: [0.0, 0.9, 0.0])
    roll: Roll = 0.0
    focal_mm: FocalMm = 50.0
    interp: Interp = "linear"

    @model_validator(mode="after")
    def _distinct(self):
        if math.dist(self.position, self.target) < 1e-6:
            raise ValueError("camera position and target coincide (they must be at least 1e-06 m apart)")
        return self


class Intrinsics(Strict):
    """Explicit pinhole intrinsics in pixels (FORMAT.md pixel convention). When
    set, they replace the focal length in mm and the sensor width. The bounds
    here hold for any image size; CameraSpec checks them against its own."""

    fx: FocalPx
    fy: FocalPx
    cx: PrincipalPx
    cy: PrincipalPx


class CameraSpec(Strict):
    width: ImageSide = 512
    height: ImageSide = 512
    sensor_width_mm: SensorMm = 36.0
    intrinsics: Intrinsics | None = None   # K given directly (keys' focal_mm then unused)
    near: Near = 0.05
    far: Far = 100.0
    reference: ImageReference | None = None   # image seen behind the bodies through this camera
    keys: list[CameraKey] = Field(default_factory=lambda: [CameraKey(frame=0)], min_length=1, max_length=MAX_KEYS)

    @model_validator(mode="after")
    def _check(self):
        if self.far <= self.near:
            raise ValueError(f"far must be beyond near (far {number_text(self.far)}, near {number_text(self.near)})")
        if self.intrinsics is not None:
            self._check_intrinsics(self.intrinsics)
        frames = [k.frame for k in self.keys]
        if len(set(frames)) != len(frames):
            raise ValueError("two camera keys share a frame")
        if frames != sorted(frames):
            object.__setattr__(self, "keys", sorted(self.keys, key=lambda k: k.frame))
        return self

    def _check_intrinsics(self, k: Intrinsics) -> None:
        """Focal lengths the lens settings could give, and a principal point
        within one image size of the image, for this image's size."""
        size = f"a {self.width} x {self.height} image"
        for name, v, side in (("fx", k.fx, self.width), ("fy", k.fy, self.height)):
            lo, hi = MIN_FOCAL_PER_PX * side, MAX_FOCAL_PER_PX * side
            if not lo <= v <= hi:
                raise ValueError(f"intrinsics.{name} must be between {number_text(lo)} and {number_text(hi)} "
                                 f"pixels for {size} (got {number_text(v)})")
        for name, v, side in (("cx", k.cx, self.width), ("cy", k.cy, self.height)):
            if not -side <= v <= 2 * side:
                raise ValueError(f"intrinsics.{name} must be between {-side} and {2 * side} pixels for "
                                 f"{size} (got {number_text(v)})")


class Timeline(Strict):
    fps: FrameRate = 24.0
    start: FrameNumber = 0
    end: FrameNumber = 0

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError(f"end is before start (end {self.end}, start {self.start})")
        return self

    @property
    def frames(self) -> range:
        return range(self.start, self.end + 1)


class ControlSetting(Strict):
    kind: Literal["depth", "openpose", "normal"] = "depth"
    # openpose only: body, body and hands, or body, hands and face (controlnet_aux "openpose_full")
    openpose: Literal["body", "body+hands", "full"] = "body"
    scale: ControlScale = 1.0
    start: Unit = 0.0
    end: Unit = 1.0


class IdentityReference(Strict):
    """A character's reference image (IP-Adapter): the same person across frames and samples.
    A missing or changed file is reported when generating (frame.identity); the scene still opens."""

    image: FileRef
    scale: Range(0.0, 2.0) = 0.6   # IP-Adapter scale: 0 ignores the image, ~1 follows it closely


class Generation(Strict):
    model: str = Field(default="sd15-depth", max_length=4096)
    prompt: str = Field(default="a photo of a person, studio lighting, high quality", max_length=10_000)
    negative_prompt: str = Field(default="blurry, deformed, extra limbs, low quality", max_length=10_000)
    seed: Seed = 0
    seed_locked: bool = True
    steps: Steps = 20
    guidance: Guidance = 7.5
    scheduler: str | None = Field(default=None, max_length=200)
    controls: list[ControlSetting] = Field(default_factory=lambda: [ControlSetting()], max_length=8)
    clip_strategy: Literal["fixed-seed", "previous-frame", "cross-frame-attention"] = "fixed-seed"
    img2img_strength: Unit = 0.6
    identity: IdentityReference | None = None


class Scene(Strict):
    format: Literal["posebooth-scene"] = SCENE_FORMAT
    version: Literal[1, 2] = SCENE_VERSION

    @field_validator("version")
    @classmethod
    def _upgraded(cls, v: int) -> int:
        """An older file loads as the current version (its new fields take their defaults)."""
        return SCENE_VERSION

    @model_validator(mode="before")
    @classmethod
    def _version1_people_float(cls, data):
        """Version 1 placed bodies by transl alone: its people keep that (on_ground off)."""
        if isinstance(data, dict) and data.get("version") == 1 and isinstance(data.get("people"), list):
            data = dict(data, people=[dict({"on_ground": False}, **p) if isinstance(p, dict) else p
                                      for p in data["people"]])
        return data
    people: list[Person] = Field(default_factory=lambda: [Person()], max_length=MAX_PEOPLE)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    timeline: Timeline = Field(default_factory=Timeline)
    generation: Generation = Field(default_factory=Generation)
    props: list[Prop] = Field(default_factory=list, max_length=MAX_PROPS)   # static, after the people in ids
