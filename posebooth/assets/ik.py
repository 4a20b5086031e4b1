"""Inverse kinematics on SMPL-24 poses, Qt-free.

Arms and legs: analytic two-bone IK. The elbow / knee bends about its own
hinge axis (so it never gets a sideways kink its limits would reject), then
the shoulder / hip turns the whole limb by the smallest rotation that points
it at the target, which keeps the current bend plane as well as it can. The
head: CCD over spine1-spine2-spine3-neck. Joint limits are applied to every
joint the solver touches, and a short limited CCD pass polishes the result
when the clamping moved the effector.

Everything runs on a body's OWN skeleton: `rest_joints` are its joints posed
with the zero pose at transl 0 (`rest_joints_of`), and positions come from
smpl_skeleton's chain on those. `solve_ik_on_body` closes the remaining gap
to the body's actual joints (retargeted backends need not follow SMPL's chain
exactly) by re-aiming at the residual.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from posebooth.assets.joint_limits import clamp_rotvec, within_limits
from posebooth.assets.smpl_skeleton import JOINT_INDEX, PARENTS, chain, rotation_matrices
from posebooth.scene.rotation import Rotation
from posebooth.scene.tracks import PoseState

_J = JOINT_INDEX
# effector -> (root joint, hinge joint) of its two-bone chain
TWO_BONE = {
    _J["left_wrist"]: (_J["left_shoulder"], _J["left_elbow"]),
    _J["left_hand"]: (_J["left_shoulder"], _J["left_elbow"]),
    _J["right_wrist"]: (_J["right_shoulder"], _J["right_elbow"]),
    _J["right_hand"]: (_J["right_shoulder"], _J["right_elbow"]),
    _J["left_ankle"]: (_J["left_hip"], _J["left_knee"]),
    _J["left_foot"]: (_J["left_hip"], _J["left_knee"]),
    _J["right_ankle"]: (_J["right_hip"], _J["right_knee"]),
    _J["right_foot"]: (_J["right_hip"], _J["right_knee"]),
}
HEAD_CHAIN = (_J["neck"], _J["spine3"], _J["spine2"], _J["spine1"])  # tip first, as CCD visits them
CCD_CHAINS = {_J["head"]: HEAD_CHAIN, _J["neck"]: HEAD_CHAIN[1:]}
# Flexion axis of each hinge in its local frame (signs: joint_limits' docstring).
HINGE_AXIS = {
    _J["left_elbow"]: np.array([0.0, -1.0, 0.0]), _J["right_elbow"]: np.array([0.0, 1.0, 0.0]),
    _J["left_knee"]: np.array([1.0, 0.0, 0.0]), _J["right_knee"]: np.array([1.0, 0.0, 0.0]),
}
FEET = {_J["left_ankle"], _J["right_ankle"]}   # dragged ankles keep the foot's world orientation
IK_EFFECTORS = frozenset(TWO_BONE) | frozenset(CCD_CHAINS)


def is_effector(joint: int | None) -> bool:
    return joint in IK_EFFECTORS


def rest_joints_of(body, shape=None) -> np.ndarray:
    """The body's own rest skeleton: its joints at the zero pose, transl 0."""
    out = body.forward(np.zeros((1, 3), np.float32), np.zeros((1, 23, 3), np.float32),
                       np.zeros((1, 3), np.float32), None if shape is None else np.asarray(shape)[None])
    return np.asarray(out.joints[0], np.float64)


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation matrix taking direction a to direction b."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        perp = np.cross(a, np.eye(3)[np.argmin(np.abs(a))])  # half turn about any perpendicular
        return Rotation.from_rotvec(np.pi * perp / np.linalg.norm(perp)).as_matrix()
    return Rotation.from_rotvec(axis / s * np.arctan2(s, c)).as_matrix()


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    return Rotation.from_rotvec(np.asarray(axis, float) * angle).as_matrix()


class _Chain:
    """Mutable local rotations of one pose, with FK on a rest skeleton."""

    def __init__(self, pose: PoseState, rest: np.ndarray, limits: bool):
        self.start = pose
        self.rotvecs = pose.rotvecs().copy()
        self.local = rotation_matrices(self.rotvecs)
        self.rest, self.transl, self.limits = rest, np.array(pose.transl, float), limits
        self.update()

    def update(self):
        self.pos, self.world = chain(self.local, self.rest, self.transl)

    def parent_world(self, j: int) -> np.ndarray:
        return self.world[PARENTS[j]] if PARENTS[j] >= 0 else np.eye(3)

    def set_local(self, j: int, mat: np.ndarray):
        rv = Rotation.from_matrix(mat).as_rotvec()
        if self.limits and j > 0:
            rv = clamp_rotvec(j, rv)
            mat = Rotation.from_rotvec(rv).as_matrix()
        self.local[j], self.rotvecs[j] = mat, rv   # untouched joints keep their exact rotvecs

    def turn_world(self, j: int, q: np.ndarray):
        """Pre-multiply joint j's world rotation by q (then clamp)."""
        pw = self.parent_world(j)
        self.set_local(j, pw.T @ q @ pw @ self.local[j])

    def pose(self) -> PoseState:
        return self.start.with_rotvecs(self.rotvecs, self.transl)


def _hinge_angle(ch: _Chain, a: int, b: int, eff: int, target: np.ndarray) -> float:
    """Hinge rotation at b (about its flexion axis) that puts the effector at
    |target - A| from the root A; the fully extended angle when out of reach.
    Of the two solutions, one inside the joint's limits and nearest wins."""
    A, B, C = ch.pos[a], ch.pos[b], ch.pos[eff]
    h = ch.world[a] @ HINGE_AXIS[b]
    w, v = B - A, C - B
    v_par = h * (h @ v)
    ca, cb, cc = w @ (v - v_par), w @ np.cross(h, v), w @ v_par
    k = (np.sum((target - A) ** 2) - w @ w - v @ v) / 2
    r = np.hypot(ca, cb)
    psi = np.arctan2(cb, ca)
    if r < 1e-12:
        return 0.0
    delta = np.arccos(np.clip((k - cc) / r, -1.0, 1.0))
    cands = [float(np.remainder(psi + s * delta + np.pi, 2 * np.pi) - np.pi) for s in (1, -1)]

    def rank(phi):
        local = _axis_angle(HINGE_AXIS[b], phi) @ ch.local[b]
        ok = not ch.limits or within_limits(b, Rotation.from_matrix(local).as_rotvec(), 1e-6)
        return (not ok, abs(phi))
    return min(cands, key=rank)


def _ccd(ch: _Chain, joints, eff: int, target: np.ndarray, iterations: int, tol: float):
    for _ in range(iterations):
        if np.linalg.norm(ch.pos[eff] - target) < tol:
            return
        for j in joints:
            P = ch.pos[j]
            e, t = ch.pos[eff] - P, target - P
            if np.linalg.norm(e) < 1e-9 or np.linalg.norm(t) < 1e-9:
                continue
            ch.turn_world(j, _min_rotation(e, t))
            ch.update()


def solve_ik(pose: PoseState, effector: int, target, rest_joints: np.ndarray,
             limits: bool = True, tol: float = 5e-4) -> PoseState:
    """A new pose placing joint `effector` at `target` (world), or as close as
    the chain and its limits allow. Only the chain's joints change."""
    target = np.asarray(target, np.float64)
    ch = _Chain(pose, np.asarray(rest_joints, np.float64), limits)
    if effector in TWO_BONE:
        a, b = TWO_BONE[effector]
        foot_world = ch.world[effector].copy() if effector in FEET else None
        phi = _hinge_angle(ch, a, b, effector, target)
        ch.set_local(b, _axis_angle(HINGE_AXIS[b], phi) @ ch.local[b])
        ch.update()
        aim = ch.pos[effector] - ch.pos[a]
        if np.linalg.norm(aim) > 1e-9 and np.linalg.norm(target - ch.pos[a]) > 1e-9:
            ch.turn_world(a, _min_rotation(aim, target - ch.pos[a]))
            ch.update()
        _ccd(ch, (b, a), effector, target, 12, tol)
        if foot_world is not None:  # keep the sole's orientation: planted feet stay flat
            ch.set_local(effector, ch.world[b].T @ foot_world)
            ch.update()
    elif effector in CCD_CHAINS:
        _ccd(ch, CCD_CHAINS[effector], effector, target, 30, tol)
    else:
        raise ValueError(f"joint {effector} is not an IK effector")
    return ch.pose()


def joint_positions(pose: PoseState, rest_joints: np.ndarray) -> np.ndarray:
    """(24, 3) world joints of `pose` on the rest skeleton (SMPL's chain)."""
    return chain(rotation_matrices(pose.rotvecs()), np.asarray(rest_joints, np.float64), pose.transl)[0]


def effector_position(pose: PoseState, effector: int, rest_joints: np.ndarray) -> np.ndarray:
    return joint_positions(pose, rest_joints)[effector]


def solve_ik_on_body(pose: PoseState, effector: int, target, rest_joints: np.ndarray,
                     joints_of: Callable[[PoseState], np.ndarray] | None = None,
                     limits: bool = True, tol: float = 0.002, iterations: int = 4) -> PoseState:
    """`solve_ik`, then corrected against the body's actual joints
    (`joints_of(pose)` -> (24, 3)): the aim point is moved by the residual
    until the real effector is within `tol` of the target."""
    target = np.asarray(target, np.float64)
    aim = target.copy()
    out = solve_ik(pose, effector, aim, rest_joints, limits)
    if joints_of is None:
        return out
    for _ in range(iterations):
        err = target - np.asarray(joints_of(out), np.float64)[effector]
        if np.linalg.norm(err) < tol:
            break
        aim = aim + err
        out = solve_ik(pose, effector, aim, rest_joints, limits)
    return out
