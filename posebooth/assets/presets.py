"""The pose preset library shipped in resources/pose_presets.json.

Each preset is SMPL-24 parameters: global_orient, body_pose as a sparse map
joint name -> rotation vector (joints left out are at rest), and transl (the
pelvis world position) chosen for the generic REST_JOINTS skeleton so the body
rests on the ground y = 0. `contact` says how: "feet" (soles on the ground,
see pose_tools.ANKLE_ABOVE_SOLE), "seat" (feet on the ground, pelvis at chair
height), "knees", "back" (lying) or "air" (soles 0.3 m up).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from posebooth.assets.smpl_skeleton import JOINT_INDEX
from posebooth.scene.tracks import PoseState

PRESETS_FORMAT = "posebooth-pose-presets"
CONTACTS = ("feet", "seat", "knees", "back", "air")


class UnknownPresetError(KeyError):
    """No preset of that name; the message lists the available ones."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True)
class PresetInfo:
    name: str
    label: str
    contact: str
    description: str


def _parse(entry: dict) -> tuple[PresetInfo, PoseState]:
    name = entry["name"]
    if entry["contact"] not in CONTACTS:
        raise ValueError(f"preset {name!r}: unknown contact {entry['contact']!r}")
    body = np.zeros((23, 3))
    for joint, rotvec in entry["body_pose"].items():
        j = JOINT_INDEX.get(joint, 0)
        if j == 0:  # the root is global_orient, never a body_pose entry
            raise ValueError(f"preset {name!r}: {joint!r} is not an SMPL body joint")
        body[j - 1] = rotvec
    pose = PoseState(np.asarray(entry["global_orient"], dtype=np.float64), body,
                     np.asarray(entry["transl"], dtype=np.float64))
    if pose.global_orient.shape != (3,) or pose.transl.shape != (3,) or not np.isfinite(pose.rotvecs()).all():
        raise ValueError(f"preset {name!r}: malformed numbers")
    return PresetInfo(name, entry["label"], entry["contact"], entry["description"]), pose


@lru_cache(maxsize=1)
def _library() -> dict[str, tuple[PresetInfo, PoseState]]:
    text = resources.files("posebooth").joinpath("resources/pose_presets.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("format") != PRESETS_FORMAT or data.get("version") != 1:
        raise ValueError("pose_presets.json: not a version 1 PoseBooth preset library")
    lib = {}
    for entry in data["presets"]:
        info, pose = _parse(entry)
        if info.name in lib:
            raise ValueError(f"pose_presets.json: preset {info.name!r} appears twice")
        lib[info.name] = (info, pose)
    return lib


def list_presets() -> list[str]:
    """Preset names in library order."""
    return list(_library())


def preset_info(name: str) -> PresetInfo:
    return _lookup(name)[0]


def get_preset(name: str) -> PoseState:
    """A fresh copy of the named preset's pose (safe to modify)."""
    pose = _lookup(name)[1]
    return PoseState(pose.global_orient.copy(), pose.body_pose.copy(), pose.transl.copy())


def _lookup(name: str) -> tuple[PresetInfo, PoseState]:
    lib = _library()
    if name in lib:
        return lib[name]
    for info, pose in lib.values():  # labels work too, any case
        if info.label.lower() == str(name).lower():
            return info, pose
    raise UnknownPresetError(f"unknown pose preset {name!r}; available presets: {', '.join(lib)}")
