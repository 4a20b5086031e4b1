"""Whole-pose edits: mirror, copy one side to the other, reset, limb groups,
and placing a pose on the ground.

All work on SMPL-24 PoseStates (DESIGN.md) and return new states.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Literal

import numpy as np

from posebooth.assets.smpl_skeleton import JOINT_INDEX, JOINT_NAMES, MIRROR, REST_JOINTS, forward_kinematics
from posebooth.scene.tracks import PoseState

# Reflection across the sagittal plane x = 0 conjugates a rotation R to P R P
# with P = diag(-1, 1, 1); for a rotation vector w that is -P w = (x, -y, -z).
_MIRROR_ROTVEC = np.array([1.0, -1.0, -1.0])
_MIRROR_POINT = np.array([-1.0, 1.0, 1.0])

# Ground contact model for the generic REST_JOINTS skeleton: how far above the
# sole the ankle and the foot (ball of the foot) joints sit. With these the
# rest pose stands with its pelvis ~0.963 m above the ground.
ANKLE_ABOVE_SOLE = 0.08
FOOT_ABOVE_SOLE = 0.025

_LIMBS: dict[str, tuple[str, ...]] = {
    "left_arm": ("left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand"),
    "right_arm": ("right_collar", "right_shoulder", "right_elbow", "right_wrist", "right_hand"),
    "left_leg": ("left_hip", "left_knee", "left_ankle", "left_foot"),
    "right_leg": ("right_hip", "right_knee", "right_ankle", "right_foot"),
    "spine": ("spine1", "spine2", "spine3"),
    "head": ("neck", "head"),
}
LIMB_NAMES: tuple[str, ...] = tuple(_LIMBS)


def _copy(pose: PoseState) -> PoseState:
    return pose.with_body()


def mirror_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """The rotation vector of a rotation reflected across x = 0."""
    return np.asarray(rotvec, dtype=np.float64) * _MIRROR_ROTVEC


def mirror_pose(pose: PoseState) -> PoseState:
    """Reflect the pose across the body's sagittal plane (x = 0).

    Left and right joints swap, each rotation vector becomes (x, -y, -z) and
    transl.x flips sign. Only sign flips and a permutation: its own inverse exactly.
    """
    rot = pose.rotvecs()[list(MIRROR)] * _MIRROR_ROTVEC
    # The hands swap too: MANO's left and right rest frames mirror each other the same way.
    return replace(pose.with_rotvecs(rot, np.asarray(pose.transl, dtype=np.float64) * _MIRROR_POINT),
                   left_hand_pose=np.asarray(pose.right_hand_pose, dtype=np.float64) * _MIRROR_ROTVEC,
                   right_hand_pose=np.asarray(pose.left_hand_pose, dtype=np.float64) * _MIRROR_ROTVEC,
                   expression=mirror_expression(pose.expression))


def mirror_expression(expression: dict) -> dict:
    """The face's left and right actions swapped (eyeBlinkLeft <-> eyeBlinkRight, jawLeft <-> jawRight)."""
    def swap(name: str) -> str:
        for a, b in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(a):
                return name[: -len(a)] + b
        return name
    return {swap(k): v for k, v in expression.items()}


def copy_side(pose: PoseState, from_side: Literal["left", "right"] = "left") -> PoseState:
    """Mirror one side's joint rotations onto the other; centre joints untouched."""
    if from_side not in ("left", "right"):
        raise ValueError(f"from_side must be 'left' or 'right', not {from_side!r}")
    rot = pose.rotvecs().copy()
    for j, name in enumerate(JOINT_NAMES):
        if name.startswith(from_side + "_"):
            rot[MIRROR[j]] = rot[j] * _MIRROR_ROTVEC
    out = pose.with_rotvecs(rot)
    src = out.left_hand_pose if from_side == "left" else out.right_hand_pose
    dst = out.right_hand_pose if from_side == "left" else out.left_hand_pose
    dst[:] = src * _MIRROR_ROTVEC
    return out


def reset_pose() -> PoseState:
    """The rest (T) pose standing on the ground at the origin."""
    rest = PoseState(np.zeros(3), np.zeros((23, 3)), np.zeros(3))
    return place_on_ground(rest)


def reset_joints(pose: PoseState, joint_indices: Iterable[int]) -> PoseState:
    """Zero the rotations of the given SMPL-24 joints (0 = the root's global_orient)."""
    rot = pose.rotvecs().copy()
    for j in joint_indices:
        j = int(j)
        if not 0 <= j < 24:
            raise IndexError(f"joint index {j} is outside SMPL's 0..23")
        rot[j] = 0.0
    return pose.with_rotvecs(rot)


def limb_joints(name: str) -> tuple[int, ...]:
    """SMPL-24 indices of a named limb: left_arm, right_arm, left_leg, right_leg, spine, head."""
    try:
        return tuple(JOINT_INDEX[n] for n in _LIMBS[name])
    except KeyError:
        raise KeyError(f"unknown limb {name!r}; known limbs: {', '.join(LIMB_NAMES)}") from None


def sole_height(pose: PoseState, rest_joints: np.ndarray = REST_JOINTS) -> float:
    """Height of the lowest sole point, estimated from the ankle and foot joints."""
    joints, _ = forward_kinematics(pose.global_orient, pose.body_pose, pose.transl, rest_joints)
    ids = [JOINT_INDEX[n] for n in ("left_ankle", "right_ankle")]
    feet = [JOINT_INDEX[n] for n in ("left_foot", "right_foot")]
    return float(min(joints[ids, 1].min() - ANKLE_ABOVE_SOLE, joints[feet, 1].min() - FOOT_ABOVE_SOLE))


def place_on_ground(pose: PoseState, ground_y: float = 0.0) -> PoseState:
    """Shift the pose vertically so its lowest sole point touches y = ground_y."""
    out = _copy(pose)
    out.transl[1] += ground_y - sole_height(pose)
    return out
