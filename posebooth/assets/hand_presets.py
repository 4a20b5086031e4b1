"""Hand presets (resources/hand_presets.json): MANO-15 poses for either hand.

The file holds right-hand poses (joint name -> rotation vector; joints left
out are straight); the left hand is the mirror (hand_skeleton.mirror_hand).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from posebooth.assets.hand_skeleton import HAND_JOINT_INDEX, HAND_JOINT_NAMES, mirror_hand
from posebooth.assets.presets import UnknownPresetError
from posebooth.files.json_model import JsonFileError, got, load_model

HAND_PRESETS = ("relaxed", "fist", "open", "point", "pinch", "grip", "v", "thumbs-up", "ok")
HAND_PRESETS_FILE = "hand_presets.json"
SIDES = ("left", "right")


class HandPresetFileError(JsonFileError):
    """A hand preset file that cannot be used; the message is one line naming the file and key."""


def _finite(v: float) -> float:
    if not np.isfinite(v) or abs(v) > 2 * np.pi:
        raise ValueError("must be a finite angle of at most 2 pi radians")
    return v


Vec3 = Annotated[list[Annotated[float, AfterValidator(_finite)]], Field(min_length=3, max_length=3)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HandEntry(_Strict):
    name: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=100)
    description: str = Field(max_length=1000)
    right: dict[Literal[HAND_JOINT_NAMES], Vec3]


class HandPresetsFile(_Strict):
    format: Literal["posebooth-hand-presets"]
    version: Literal[1]
    note: str = Field(default="", max_length=2000)
    presets: list[HandEntry] = Field(min_length=1, max_length=1000)


def parse_hand_presets(text: str | bytes, origin: str) -> dict[str, tuple[HandEntry, np.ndarray]]:
    """name -> (entry, right-hand pose (15, 3)); every fault is one line naming `origin`."""
    data = load_model(HandPresetsFile, text, origin, HandPresetFileError)
    lib = {}
    for i, entry in enumerate(data.presets):
        if entry.name in lib:
            raise HandPresetFileError(f"{origin}: presets[{i}].name: appears twice (got {got(entry.name)})")
        pose = np.zeros((15, 3))
        for joint, rotvec in entry.right.items():
            pose[HAND_JOINT_INDEX[joint]] = rotvec
        lib[entry.name] = entry, pose
    return lib


@lru_cache(maxsize=1)
def _library() -> dict[str, tuple[HandEntry, np.ndarray]]:
    resource = resources.files("posebooth").joinpath("resources", HAND_PRESETS_FILE)
    return parse_hand_presets(resource.read_bytes(), str(resource))


def hand_preset_label(name: str) -> str:
    return _entry(name)[0].label


def hand_preset_description(name: str) -> str:
    return _entry(name)[0].description


def hand_preset(name: str, side: str) -> np.ndarray:
    """The named preset for one hand: a fresh (15, 3) MANO-15 axis-angle array."""
    if side not in SIDES:
        raise ValueError(f"hand side must be 'left' or 'right' (got {side!r})")
    pose = _entry(name)[1]
    return pose.copy() if side == "right" else mirror_hand(pose)


def _entry(name: str) -> tuple[HandEntry, np.ndarray]:
    lib = _library()
    if name in lib:
        return lib[name]
    for entry, pose in lib.values():   # labels work too, any case
        if entry.label.lower() == str(name).lower():
            return entry, pose
    raise UnknownPresetError(f"unknown hand preset {name!r}; available: {', '.join(lib)}")
