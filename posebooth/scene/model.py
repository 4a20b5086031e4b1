"""The scene document: people, poses and keyframes, camera, timeline, prompt,
generation settings. Pure data (pydantic), no Qt; the single source of truth.

Pose is SMPL-24 (DESIGN.md): global_orient (3) and body_pose (23 x 3)
axis-angle, transl (3) = world position of the pelvis joint, metres, Y up.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

SCENE_FORMAT = "posebooth-scene"
SCENE_VERSION = 1
MAX_PEOPLE = 16
MAX_KEYS = 100_000


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


Finite = Annotated[float, AfterValidator(_finite)]
Vec3 = Annotated[list[Finite], Field(min_length=3, max_length=3)]
BodyPose = Annotated[list[Finite], Field(min_length=69, max_length=69)]
Interp = Literal["linear", "smooth", "step"]
"""How a key eases into the next: `linear` (slerp / lerp), `smooth` (ease
in-out on the same paths) or `step` (hold until the next key)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PoseKey(Strict):
    frame: int = Field(ge=0, le=10_000_000)
    global_orient: Vec3 = Field(default_factory=lambda: [0.0, 0.0, 0.0])
    body_pose: BodyPose = Field(default_factory=lambda: [0.0] * 69)
    transl: Vec3 = Field(default_factory=lambda: [0.0, 0.93, 0.0])
    interp: Interp = "linear"


class BodySpec(Strict):
    model: Literal["anny", "smpl", "smplh", "smplx"] = "anny"
    gender: Literal["neutral", "male", "female"] = "neutral"   # SMPL family only
    # anny phenotypes by name (0..1), or SMPL betas under "beta0".. "beta15".
    shape: dict[Annotated[str, Field(max_length=64)], Finite] = Field(default_factory=dict, max_length=64)


class Person(Strict):
    name: str = Field(default="Person", max_length=200)
    body: BodySpec = Field(default_factory=BodySpec)
    color: Vec3 = Field(default_factory=lambda: [0.75, 0.72, 0.68])
    keys: list[PoseKey] = Field(default_factory=lambda: [PoseKey(frame=0)], min_length=1, max_length=MAX_KEYS)

    @model_validator(mode="after")
    def _keys_unique_sorted(self):
        frames = [k.frame for k in self.keys]
        if len(set(frames)) != len(frames):
            raise ValueError("two pose keys share a frame")
        if frames != sorted(frames):
            object.__setattr__(self, "keys", sorted(self.keys, key=lambda k: k.frame))
        return self


class CameraKey(Strict):
    frame: int = Field(ge=0, le=10_000_000)
    position: Vec3 = Field(default_factory=lambda: [0.0, 1.0, 4.0])
    target: Vec3 = Field(default_factory=lambda: [0.0, 0.9, 0.0])
    roll: Finite = 0.0
    focal_mm: Finite = Field(default=50.0, gt=1.0, le=2000.0)
    interp: Interp = "linear"

    @model_validator(mode="after")
    def _distinct(self):
        if sum((a - b) ** 2 for a, b in zip(self.position, self.target)) < 1e-12:
            raise ValueError("camera position and target coincide")
        return self


class Intrinsics(Strict):
    """Explicit pinhole intrinsics in pixels (FORMAT.md pixel convention). When
    set, they replace the focal length in mm and the sensor width."""

    fx: Finite = Field(gt=0.0)
    fy: Finite = Field(gt=0.0)
    cx: Finite
    cy: Finite


class CameraSpec(Strict):
    width: int = Field(default=512, ge=8, le=8192)
    height: int = Field(default=512, ge=8, le=8192)
    sensor_width_mm: Finite = Field(default=36.0, gt=1.0, le=100.0)
    intrinsics: Intrinsics | None = None   # K given directly (keys' focal_mm then unused)
    near: Finite = Field(default=0.05, gt=0.0)
    far: Finite = Field(default=100.0, gt=0.0)
    keys: list[CameraKey] = Field(default_factory=lambda: [CameraKey(frame=0)], min_length=1, max_length=MAX_KEYS)

    @model_validator(mode="after")
    def _check(self):
        if self.far <= self.near:
            raise ValueError("camera far must be beyond near")
        frames = [k.frame for k in self.keys]
        if len(set(frames)) != len(frames):
            raise ValueError("two camera keys share a frame")
        if frames != sorted(frames):
            object.__setattr__(self, "keys", sorted(self.keys, key=lambda k: k.frame))
        return self


class Timeline(Strict):
    fps: Finite = Field(default=24.0, gt=0.0, le=1000.0)
    start: int = Field(default=0, ge=0)
    end: int = Field(default=0, ge=0, le=10_000_000)

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError("timeline end is before start")
        return self

    @property
    def frames(self) -> range:
        return range(self.start, self.end + 1)


class ControlSetting(Strict):
    kind: Literal["depth", "openpose", "normal"] = "depth"
    scale: Finite = Field(default=1.0, ge=0.0, le=5.0)
    start: Finite = Field(default=0.0, ge=0.0, le=1.0)
    end: Finite = Field(default=1.0, ge=0.0, le=1.0)


class Generation(Strict):
    model: str = Field(default="sd15-depth", max_length=4096)
    prompt: str = Field(default="a photo of a person, studio lighting, high quality", max_length=10_000)
    negative_prompt: str = Field(default="blurry, deformed, extra limbs, low quality", max_length=10_000)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    seed_locked: bool = True
    steps: int = Field(default=20, ge=1, le=1000)
    guidance: Finite = Field(default=7.5, ge=0.0, le=50.0)
    scheduler: str | None = Field(default=None, max_length=200)
    controls: list[ControlSetting] = Field(default_factory=lambda: [ControlSetting()], max_length=8)
    clip_strategy: Literal["fixed-seed", "previous-frame", "cross-frame-attention"] = "fixed-seed"
    img2img_strength: Finite = Field(default=0.6, ge=0.0, le=1.0)


class Scene(Strict):
    format: Literal["posebooth-scene"] = SCENE_FORMAT
    version: Literal[1] = SCENE_VERSION
    people: list[Person] = Field(default_factory=lambda: [Person()], max_length=MAX_PEOPLE)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    timeline: Timeline = Field(default_factory=Timeline)
    generation: Generation = Field(default_factory=Generation)
