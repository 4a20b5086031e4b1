"""Evaluating keyframe tracks at any (fractional) frame.

Rotations interpolate by slerp on each joint's shortest path (scipy), positions
linearly; a key's `interp` says how it eases into the next key: `linear`,
`smooth` (ease in-out in time) or `step` (hold).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

import numpy as np

from posebooth.scene.camera import Camera
from posebooth.scene.model import CameraKey, CameraSpec, Person, PoseKey


@dataclass(frozen=True)
class PoseState:
    """An evaluated SMPL-24 pose (float64 numpy), with the hands (MANO-15 per
    hand, flat at zero) and the facial expression (named weights)."""

    global_orient: np.ndarray  # (3,)
    body_pose: np.ndarray      # (23, 3)
    transl: np.ndarray         # (3,)
    left_hand_pose: np.ndarray = field(default_factory=lambda: np.zeros((15, 3)))   # (15, 3)
    right_hand_pose: np.ndarray = field(default_factory=lambda: np.zeros((15, 3)))  # (15, 3)
    expression: dict = field(default_factory=dict)   # name -> weight 0..1; absent = 0

    @staticmethod
    def from_key(key: PoseKey) -> "PoseState":
        return PoseState(np.asarray(key.global_orient, dtype=np.float64),
                         np.asarray(key.body_pose, dtype=np.float64).reshape(23, 3),
                         np.asarray(key.transl, dtype=np.float64),
                         np.asarray(key.left_hand_pose, dtype=np.float64).reshape(15, 3),
                         np.asarray(key.right_hand_pose, dtype=np.float64).reshape(15, 3),
                         dict(key.expression))

    def with_rotvecs(self, rotvecs: np.ndarray, transl=None) -> "PoseState":
        """This pose with new body rotations ((24, 3), root first); hands and face kept."""
        rotvecs = np.asarray(rotvecs, dtype=np.float64)
        return self.with_body(rotvecs[0], rotvecs[1:], transl)

    def with_body(self, global_orient=None, body_pose=None, transl=None) -> "PoseState":
        """This pose with the given body parts replaced (hands and face kept)."""
        f = lambda v, old: old.copy() if v is None else np.array(v, dtype=np.float64)  # noqa: E731
        return replace(self, global_orient=f(global_orient, self.global_orient),
                       body_pose=f(body_pose, self.body_pose).reshape(23, 3), transl=f(transl, self.transl),
                       left_hand_pose=self.left_hand_pose.copy(), right_hand_pose=self.right_hand_pose.copy(),
                       expression=dict(self.expression))

    def rotvecs(self) -> np.ndarray:
        """(24, 3): root first, then the 23 body joints."""
        return np.concatenate([self.global_orient[None], self.body_pose])

    @staticmethod
    def from_rotvecs(rotvecs: np.ndarray, transl) -> "PoseState":
        rotvecs = np.asarray(rotvecs, dtype=np.float64)
        return PoseState(rotvecs[0].copy(), rotvecs[1:].copy(), np.asarray(transl, dtype=np.float64))

    def to_key_fields(self) -> dict:
        return {"global_orient": self.global_orient.tolist(),
                "body_pose": self.body_pose.reshape(-1).tolist(),
                "transl": self.transl.tolist(),
                "left_hand_pose": np.asarray(self.left_hand_pose).reshape(-1).tolist(),
                "right_hand_pose": np.asarray(self.right_hand_pose).reshape(-1).tolist(),
                "expression": {k: float(v) for k, v in self.expression.items() if v != 0.0}}


def ease(t: float, interp: str) -> float:
    if interp == "step":
        return 0.0
    if interp == "smooth":
        return t * t * (3.0 - 2.0 * t)
    return t


def _bracket(frames: list[int], frame: float) -> tuple[int, int, float]:
    """Indices of the keys around `frame` and the raw fraction between them."""
    i = bisect.bisect_right(frames, frame) - 1
    if i < 0:
        return 0, 0, 0.0
    if i >= len(frames) - 1:
        return len(frames) - 1, len(frames) - 1, 0.0
    return i, i + 1, (frame - frames[i]) / (frames[i + 1] - frames[i])


def slerp_rotvecs(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Per-row shortest-path slerp between two (N, 3) axis-angle arrays, at
    one fraction t or one per row ((N,)). The one slerp of the project
    (key interpolation, motion resampling)."""
    from posebooth.scene.rotation import Rotation

    a = np.asarray(a, dtype=np.float64).reshape(-1, 3)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 3)
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), (len(a),))
    if np.all(t <= 0.0) or np.all(t >= 1.0):   # on a key: exactly that key (and no scipy to import)
        return (a if np.all(t <= 0.0) else b).copy()
    ra = Rotation.from_rotvec(a)
    step = (ra.inv() * Rotation.from_rotvec(b)).as_rotvec() * t[:, None]   # rotvec angle <= pi: shortest path
    out = (ra * Rotation.from_rotvec(step)).as_rotvec()
    # Exact ends, as keys are: t = 0 is a, t = 1 is b.
    out[t <= 0.0] = a[t <= 0.0]
    out[t >= 1.0] = b[t >= 1.0]
    return out


def pose_at(person: Person, frame: float) -> PoseState:
    keys = person.keys
    i, j, t = _bracket([k.frame for k in keys], frame)
    a = PoseState.from_key(keys[i])
    if i == j:
        return a
    b = PoseState.from_key(keys[j])
    s = ease(t, keys[i].interp)
    rot = slerp_rotvecs(a.rotvecs(), b.rotvecs(), s)
    names = sorted(set(a.expression) | set(b.expression))
    face = {n: (1 - s) * a.expression.get(n, 0.0) + s * b.expression.get(n, 0.0) for n in names}
    return replace(PoseState.from_rotvecs(rot, (1 - s) * a.transl + s * b.transl),
                   left_hand_pose=slerp_rotvecs(a.left_hand_pose, b.left_hand_pose, s),
                   right_hand_pose=slerp_rotvecs(a.right_hand_pose, b.right_hand_pose, s), expression=face)


def camera_key_at(spec: CameraSpec, frame: float) -> CameraKey:
    keys = spec.keys
    i, j, t = _bracket([k.frame for k in keys], frame)
    if i == j:
        return keys[i]
    a, b = keys[i], keys[j]
    s = ease(t, a.interp)
    mix = lambda u, v: [(1 - s) * x + s * y for x, y in zip(u, v)]  # noqa: E731
    return CameraKey(frame=a.frame, position=mix(a.position, b.position), target=mix(a.target, b.target),
                     roll=(1 - s) * a.roll + s * b.roll, focal_mm=(1 - s) * a.focal_mm + s * b.focal_mm)


def camera_at(spec: CameraSpec, frame: float) -> Camera:
    """The evaluated render camera at a frame."""
    key = camera_key_at(spec, frame)
    cam = Camera.from_look_at(key.position, key.target, key.roll, spec.width, spec.height,
                              focal_mm=key.focal_mm, sensor_width_mm=spec.sensor_width_mm)
    K = cam.K
    if spec.intrinsics is not None:
        i = spec.intrinsics
        K = np.array([[i.fx, 0.0, i.cx], [0.0, i.fy, i.cy], [0.0, 0.0, 1.0]])
    return Camera(K=K, extrinsic=cam.extrinsic, width=spec.width, height=spec.height,
                  near=spec.near, far=spec.far)
