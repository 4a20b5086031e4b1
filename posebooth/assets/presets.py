"""The pose preset library shipped in resources/pose_presets.json.

Each preset is SMPL-24 parameters: global_orient, body_pose as a sparse map
joint name -> rotation vector (joints left out are at rest), and transl (the
pelvis world position) chosen for the generic REST_JOINTS skeleton so the body
rests on the ground y = 0. `contact` says how: "feet" (soles on the ground,
see pose_tools.ANKLE_ABOVE_SOLE), "seat" (feet on the ground, pelvis at chair
height), "knees", "back" (lying) or "air" (soles 0.3 m up). A preset may
carry props (scene.props primitives, e.g. the seat of "sitting"), placed
relative to the point on the ground under its pelvis.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from posebooth.assets.smpl_skeleton import JOINT_INDEX, JOINT_NAMES
from posebooth.files.json_model import JsonFileError, got, load_model
from posebooth.scene.tracks import PoseState

PRESETS_FORMAT = "posebooth-pose-presets"
CONTACTS = ("feet", "seat", "knees", "back", "air")
PRESETS_FILE = "pose_presets.json"


class UnknownPresetError(KeyError):
    """No preset of that name; the message lists the available ones."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class PresetFileError(JsonFileError):
    """A pose preset file that cannot be used; the message is one line naming the file and key."""


@dataclass(frozen=True)
class PresetInfo:
    name: str
    label: str
    contact: str
    description: str
    props: tuple = ()   # PresetProp: what the pose rests on


def _finite(v: float) -> float:
    if not np.isfinite(v):
        raise ValueError("must be a finite number")
    return v


Vec3 = Annotated[list[Annotated[float, AfterValidator(_finite)]], Field(min_length=3, max_length=3)]
BodyJoint = Literal[JOINT_NAMES[1:]]   # the root is global_orient, never a body_pose entry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PresetProp(_Strict):
    """A primitive prop that comes with a preset: kind, size (m) and base
    position relative to the ground point under the preset's pelvis."""

    kind: Literal["box", "cylinder", "plane", "seat"]
    size: Annotated[list[Annotated[float, AfterValidator(_finite), Field(gt=0, le=100)]],
                    Field(min_length=3, max_length=3)]
    position: Vec3


class PoseEntry(_Strict):
    name: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=100)
    contact: Literal[CONTACTS]
    description: str = Field(max_length=1000)
    global_orient: Vec3
    body_pose: dict[BodyJoint, Vec3]  # joint name -> rotation vector; joints left out are at rest
    transl: Vec3
    props: list[PresetProp] = Field(default_factory=list, max_length=8)


class PosePresetsFile(_Strict):
    format: Literal["posebooth-pose-presets"]
    version: Literal[1]
    presets: list[PoseEntry] = Field(min_length=1, max_length=1000)


def _pose(entry: PoseEntry) -> PoseState:
    body = np.zeros((23, 3))
    for joint, rotvec in entry.body_pose.items():
        body[JOINT_INDEX[joint] - 1] = rotvec
    return PoseState(np.asarray(entry.global_orient, dtype=np.float64), body,
                     np.asarray(entry.transl, dtype=np.float64))


def parse_presets(text: str | bytes, origin: str) -> dict[str, tuple[PresetInfo, PoseState]]:
    """A pose preset library; every fault is one line naming `origin` and the key path."""
    data = load_model(PosePresetsFile, text, origin, PresetFileError)
    lib = {}
    for i, entry in enumerate(data.presets):
        if entry.name in lib:
            raise PresetFileError(f"{origin}: presets[{i}].name: appears twice (got {got(entry.name)})")
        lib[entry.name] = (PresetInfo(entry.name, entry.label, entry.contact, entry.description,
                                      tuple(entry.props)), _pose(entry))
    return lib


@lru_cache(maxsize=1)
def _library() -> dict[str, tuple[PresetInfo, PoseState]]:
    resource = resources.files("posebooth").joinpath("resources", PRESETS_FILE)
    return parse_presets(resource.read_bytes(), str(resource))


def list_presets() -> list[str]:
    """The shipped preset names in library order (what datasets sample: the
    same on every machine)."""
    return list(_library())


def builtin_names() -> set[str]:
    return set(_library())


def list_all_presets() -> list[str]:
    """The shipped presets, then the user's own (assets.user_presets)."""
    from posebooth.assets.user_presets import user_library
    return [*_library(), *(n for n in user_library() if n not in _library())]


def _all() -> dict[str, tuple[PresetInfo, PoseState]]:
    from posebooth.assets.user_presets import user_library
    return {**user_library(), **_library()}


def preset_info(name: str) -> PresetInfo:
    return _lookup(name)[0]


def get_preset(name: str) -> PoseState:
    """A fresh copy of the named preset's pose (safe to modify)."""
    pose = _lookup(name)[1]
    return pose.with_body()


def _lookup(name: str) -> tuple[PresetInfo, PoseState]:
    lib = _all()
    if name in lib:
        return lib[name]
    for info, pose in lib.values():  # labels work too, any case
        if info.label.lower() == str(name).lower():
            return info, pose
    raise UnknownPresetError(f"unknown pose preset {name!r}; available presets: {', '.join(lib)}")


def preset_props(name: str, ground=(0.0, 0.0)) -> list:
    """The named preset's props (scene.props.Prop) for a body whose pelvis
    stands over `ground` (x, z), as the preset places it."""
    from posebooth.scene.props import primitive

    info, pose = _lookup(name)
    x, z = ground[0] + pose.transl[0], ground[1] + pose.transl[2]
    return [primitive(p.kind, size=list(p.size), position=[x + p.position[0], p.position[1], z + p.position[2]])
            for p in info.props]
