"""Plausible rotation limits for SMPL's 23 body joints, and clamping to them.

Decomposition: swing-twist. Each joint has a twist axis (the world axis its
child bone lies along in SMPL's T-pose rest: X for arms, Y for legs and
spine, Z for the toes). A local rotation R is split as R = S . T, where T
twists about that axis (applied first) and S is the shortest rotation taking
the axis to R(axis). Limits are boxes: [lo, hi] for the twist angle and for
the two components of S's rotation vector along the other two world axes.
Clamping clips each number to its box and recomposes; a rotation already
inside is returned unchanged (bit for bit).

Signs (SMPL rest frames, checked against forward_kinematics in the tests;
the body faces +Z, its left is +X, Y up):
  hips      x < 0 flexes the thigh forward; left z > 0 abducts; left y > 0 turns the toes out
  knees     x > 0 flexes (the shank swings backwards); bends one way only
  ankles    x > 0 points the toes down (plantarflexion), x < 0 lifts them
  spine, neck, head   x > 0 bends forwards; z > 0 bends towards the body's right
  shoulders left z > 0 raises the arm, z < 0 lowers it; left y < 0 swings it forwards;
            x < 0 rotates it externally (forearm up when the elbow is bent)
  elbows    left y < 0 / right y > 0 flexes (forearm forwards); x < 0 supinates
Elbows and knees are hinges: their twist and side swing stay within a few
tens of degrees, so no slider, drag or solver can twist an elbow into a
collapsed "candy wrapper"; the forearm's pronation is shared with the wrist.
Finger joints (MANO-15 per hand) have their own limits: assets.hand_limits.
  wrists    left z < 0 / right z > 0 flexes (palm side of a palm-down hand)
Right-side limits are the left ones mirrored: x ranges kept, y and z ranges
negated (mirror_pose maps (x, y, z) to (x, -y, -z)), so clamping commutes
with mirroring.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from posebooth.assets.hand_limits import clamp_hand, hand_violations
from posebooth.assets.swing_twist import swing_twist
from posebooth.assets.smpl_skeleton import JOINT_INDEX, JOINT_NAMES, MIRROR
from posebooth.scene.rotation import Rotation
from posebooth.scene.tracks import PoseState

_AXES = {"x": 0, "y": 1, "z": 2}


@dataclass(frozen=True)
class JointLimit:
    twist_axis: int          # 0, 1, 2: the world axis of the bone at rest
    lo: np.ndarray           # (3,) per axis: twist angle on twist_axis, swing rotvec components elsewhere
    hi: np.ndarray           # (3,)


# Left and centre joints, degrees: twist axis, then (lo, hi) for x, y, z.
_DEG: dict[str, tuple[str, tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "left_hip":      ("y", (-125, 35), (-45, 50), (-35, 70)),
    "left_knee":     ("y", (-5, 150), (-15, 15), (-5, 5)),       # a hinge: little twist, no side bend
    "left_ankle":    ("y", (-35, 60), (-30, 35), (-35, 25)),
    "left_foot":     ("z", (-70, 45), (-15, 15), (-15, 15)),
    "spine1":        ("y", (-30, 50), (-30, 30), (-30, 30)),
    "spine2":        ("y", (-30, 50), (-30, 30), (-30, 30)),
    "spine3":        ("y", (-30, 50), (-30, 30), (-30, 30)),
    "neck":          ("y", (-40, 45), (-50, 50), (-35, 35)),
    "head":          ("y", (-40, 40), (-50, 50), (-35, 35)),
    "left_collar":   ("x", (-25, 25), (-30, 25), (-20, 35)),
    "left_shoulder": ("x", (-100, 95), (-140, 70), (-105, 100)),
    "left_elbow":    ("x", (-35, 35), (-150, 10), (-5, 5)),      # a hinge: the forearm's twist is shared with the wrist
    "left_wrist":    ("x", (-70, 70), (-30, 45), (-80, 70)),
    "left_hand":     ("x", (-20, 20), (-20, 20), (-90, 30)),
}


def _build() -> dict[int, JointLimit]:
    limits: dict[int, JointLimit] = {}
    for name, (axis, *ranges) in _DEG.items():
        lo = np.radians([r[0] for r in ranges])
        hi = np.radians([r[1] for r in ranges])
        j = JOINT_INDEX[name]
        limits[j] = JointLimit(_AXES[axis], lo, hi)
        m = MIRROR[j]
        if m != j:  # mirrored partner: y and z ranges negated and swapped
            sign = np.array([1.0, -1.0, -1.0])
            a, b = lo * sign, hi * sign
            limits[m] = JointLimit(_AXES[axis], np.minimum(a, b), np.maximum(a, b))
        elif not (np.allclose(lo[1:], -hi[1:])):
            raise AssertionError(f"{name}: a centre joint needs symmetric y and z limits")
    return limits


JOINT_LIMITS: dict[int, JointLimit] = _build()
assert sorted(JOINT_LIMITS) == list(range(1, 24)), "every body joint needs limits"


def decompose(joint_index: int, rotvec) -> tuple[np.ndarray, float]:
    """(swing rotation vector (3,), twist angle) of a joint's local rotation."""
    lim = JOINT_LIMITS[joint_index]
    return _swing_twist(Rotation.from_rotvec(np.asarray(rotvec, dtype=np.float64)), lim.twist_axis)


def _swing_twist(rot: Rotation, k: int) -> tuple[np.ndarray, float]:
    swing, twist = swing_twist(rot, np.eye(3)[k], np.eye(3)[(k + 1) % 3])
    return swing, float(twist[k])


def compose(joint_index: int, swing: np.ndarray, twist: float) -> np.ndarray:
    """Rotation vector of S(swing) . T(twist) for a joint (inverse of decompose)."""
    k = JOINT_LIMITS[joint_index].twist_axis
    rot = Rotation.from_rotvec(np.asarray(swing, dtype=np.float64)) * Rotation.from_rotvec(twist * np.eye(3)[k])
    return rot.as_rotvec()


def _params(joint_index: int, rotvec) -> np.ndarray:
    """The three limited numbers of a rotation: swing components, twist angle on its axis."""
    swing, twist = decompose(joint_index, rotvec)
    p = swing.copy()
    p[JOINT_LIMITS[joint_index].twist_axis] = twist
    return p


def within_limits(joint_index: int, rotvec, tol: float = 1e-9) -> bool:
    if joint_index == 0:
        return True
    lim = JOINT_LIMITS[joint_index]
    p = _params(joint_index, rotvec)
    return bool(np.all(p >= lim.lo - tol) and np.all(p <= lim.hi + tol))


def clamp_rotvec(joint_index: int, rotvec) -> np.ndarray:
    """Clamp one joint's local rotation (SMPL-24 index; 0, the root, is free)."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    if not 0 <= joint_index < 24:
        raise IndexError(f"joint index {joint_index} is outside SMPL's 0..23")
    if joint_index == 0:
        return rotvec.copy()
    return _clamp_joint(joint_index, rotvec[None])[0]


def clamp_body_rotvecs(body: np.ndarray) -> np.ndarray:
    """Every body joint of a stack of poses clamped at once: body (..., 23, 3)
    local rotation vectors of joints 1..23 (a dataset draws thousands; a few
    scipy calls per twist axis instead of a few per rotation: 0.5 ms instead
    of 4.5 ms a pose). The same numbers as clamp_rotvec joint by joint."""
    body = np.asarray(body, dtype=np.float64)
    flat = body.reshape(-1, 23, 3)
    out = flat.copy()
    n = len(flat)
    for k, (cols, lo, hi) in _BY_TWIST_AXIS.items():
        clamped = _clamp(flat[:, cols].reshape(-1, 3), k, np.tile(lo, (n, 1)), np.tile(hi, (n, 1)))
        out[:, cols] = clamped.reshape(n, len(cols), 3)
    return out.reshape(body.shape)


def _clamp_joint(joint_index: int, rotvecs: np.ndarray) -> np.ndarray:
    lim = JOINT_LIMITS[joint_index]
    return _clamp(rotvecs, lim.twist_axis, lim.lo, lim.hi)


def _clamp(rotvecs: np.ndarray, k: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(N, 3) rotations sharing twist axis k clamped to their boxes [lo, hi]
    ((3,) or (N, 3)); those inside unchanged (bit for bit)."""
    swing, twist = swing_twist(Rotation.from_rotvec(rotvecs), np.eye(3)[k], np.eye(3)[(k + 1) % 3])
    p = swing.copy()
    p[:, k] = twist[:, k]
    clipped = np.clip(p, lo, hi)
    out = rotvecs.copy()
    moved = np.any(clipped != p, axis=1)
    if moved.any():
        c = clipped[moved]
        sw = c.copy()
        sw[:, k] = 0.0
        tw = np.zeros_like(c)
        tw[:, k] = c[:, k]
        out[moved] = (Rotation.from_rotvec(sw) * Rotation.from_rotvec(tw)).as_rotvec()
    return out


def _group_by_twist_axis() -> dict[int, tuple[list[int], np.ndarray, np.ndarray]]:
    """twist axis -> (body_pose columns 0..22 twisting about it, their lo (n, 3), their hi (n, 3))."""
    groups = {}
    for k in range(3):
        cols = [j - 1 for j in range(1, 24) if JOINT_LIMITS[j].twist_axis == k]
        if cols:
            groups[k] = (cols, np.array([JOINT_LIMITS[c + 1].lo for c in cols]),
                         np.array([JOINT_LIMITS[c + 1].hi for c in cols]))
    return groups


_BY_TWIST_AXIS = _group_by_twist_axis()


def clamp_pose(pose: PoseState) -> PoseState:
    """Clamp every body and finger joint; the root orientation, transl and face are free."""
    body = clamp_body_rotvecs(np.asarray(pose.body_pose).reshape(23, 3))
    return replace(pose.with_body(body_pose=body), left_hand_pose=clamp_hand("left", pose.left_hand_pose),
                   right_hand_pose=clamp_hand("right", pose.right_hand_pose))


def violations(pose: PoseState, tol: float = 1e-9) -> list[str]:
    """Names of the body and finger joints outside their limits (for messages and tests)."""
    body = [JOINT_NAMES[j + 1] for j, r in enumerate(np.asarray(pose.body_pose).reshape(23, 3))
            if not within_limits(j + 1, r, tol)]
    return body + hand_violations("left", pose.left_hand_pose, tol) + hand_violations("right", pose.right_hand_pose,
                                                                                        tol)
