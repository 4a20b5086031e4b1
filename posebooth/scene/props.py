"""Props and the camera's reference image: pure data (pydantic), bounded like
the rest of the scene (scene.model builds on the types here).

A prop is static scene geometry that occludes people: a primitive (box,
cylinder, plane/wall, seat block) or a mesh file (OBJ/GLB/PLY) stored as a
path and its sha256. Its placement is position (the centre of its base,
metres, Y up), rotation (axis-angle, radians) and scale (per axis, of
`size`). `in_depth` says whether the depth control image shows it (the
depth pass, mask and visibility always account for it: FORMAT.md "props").

The reference image is drawn behind the bodies when looking through the
render camera: a path and its sha256, an opacity, and fit (the whole image
inside the frame) or fill (the frame covered, the image cropped).
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_PROPS = 64                      # instance ids: people (<= 16) + props stay below 256
MAX_COORD = 10_000.0                # as scene.model: metres from the origin
MAX_ROTATION = 4 * math.pi
SIZE_RANGE = (1e-3, 1000.0)         # metres per side of a primitive
SCALE_RANGE = (1e-3, 1000.0)        # factor per axis
PropKind = Literal["box", "cylinder", "plane", "seat", "mesh"]
PRIMITIVES = ("box", "cylinder", "plane", "seat")
# A primitive's default size (width x, height y, depth z), metres. A plane is
# a wall: upright, 2 cm thick. A seat block is chair-seat height.
DEFAULT_SIZES = {"box": (0.5, 0.5, 0.5), "cylinder": (0.4, 0.8, 0.4), "plane": (3.0, 2.5, 0.02),
                 "seat": (0.45, 0.45, 0.45), "mesh": (1.0, 1.0, 1.0)}


def _text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.6g}"


def _bounded(lo: float, hi: float):
    def check(v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"must be a finite number (got {v})")
        if not lo <= v <= hi:
            raise ValueError(f"must be between {_text(lo)} and {_text(hi)} (got {_text(v)})")
        return v
    return Annotated[float, AfterValidator(check)]


def _rotation(v: list[float]) -> list[float]:
    norm = math.hypot(*v)
    if norm > MAX_ROTATION:
        raise ValueError(f"an axis-angle rotation must be at most 4 pi = {MAX_ROTATION:.4g} radians long "
                         f"(got {_text(norm)})")
    return v


Coord = _bounded(-MAX_COORD, MAX_COORD)
Vec3 = Annotated[list[Coord], Field(min_length=3, max_length=3)]
RotVec = Annotated[list[_bounded(-MAX_ROTATION, MAX_ROTATION)], Field(min_length=3, max_length=3),
                   AfterValidator(_rotation)]
Sizes = Annotated[list[_bounded(*SIZE_RANGE)], Field(min_length=3, max_length=3)]
Scales = Annotated[list[_bounded(*SCALE_RANGE)], Field(min_length=3, max_length=3)]
Color = Annotated[list[_bounded(0.0, 1.0)], Field(min_length=3, max_length=3)]
FilePath = Annotated[str, Field(min_length=1, max_length=4096)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FileRef(_Strict):
    """A user's file: where it was, and its content's sha256 when it was added
    (a changed or missing file is reported, never silently used)."""

    path: FilePath
    sha256: Sha256


class Prop(_Strict):
    name: str = Field(default="Prop", max_length=200)
    kind: PropKind = "box"
    mesh: FileRef | None = None          # kind "mesh" only
    size: Sizes = Field(default_factory=lambda: [0.5, 0.5, 0.5])
    position: Vec3 = Field(default_factory=lambda: [0.0, 0.0, 0.0])
    rotation: RotVec = Field(default_factory=lambda: [0.0, 0.0, 0.0])
    scale: Scales = Field(default_factory=lambda: [1.0, 1.0, 1.0])
    color: Color = Field(default_factory=lambda: [0.55, 0.58, 0.62])
    in_depth: bool = True                # shown in the depth control image

    @model_validator(mode="after")
    def _mesh_for_meshes(self):
        if (self.kind == "mesh") != (self.mesh is not None):
            raise ValueError("a prop of kind 'mesh' needs `mesh` (path and sha256), and only it may have one")
        return self


class ImageReference(_Strict):
    """A reference image seen through the render camera."""

    image: FileRef
    opacity: _bounded(0.0, 1.0) = 0.5
    fit: Literal["fit", "fill"] = "fit"
    init_image: bool = False     # also the init image of img2img generations (Generation.img2img_strength)


def primitive(kind: str, name: str | None = None, **fields) -> Prop:
    """A primitive prop of `kind` with its default size, standing at the origin."""
    if kind not in PRIMITIVES:
        raise ValueError(f"unknown primitive {kind!r}; choose from {', '.join(PRIMITIVES)}")
    fields.setdefault("size", list(DEFAULT_SIZES[kind]))
    return Prop(name=name or kind.capitalize(), kind=kind, **fields)
