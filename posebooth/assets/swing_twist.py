"""Splitting a rotation into a swing of an axis and a twist about it: the
decomposition both joint limits (SMPL body joints, MANO finger joints) clamp in."""
from __future__ import annotations

import numpy as np

from posebooth.scene.rotation import Rotation


def swing_twist(rot: Rotation, axis: np.ndarray, half_turn_axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R = S . T as rotation vectors: S the shortest rotation taking the unit
    `axis` to R(axis), T the rest (a turn about `axis`). A half turn of the
    axis swings about `half_turn_axis` (any axis perpendicular to it works).
    `rot` may be one rotation ((3,) results) or a stack of N ((N, 3) results)."""
    single = rot.single
    b = np.atleast_2d(rot.apply(axis))
    cross = np.cross(axis, b)
    s, c = np.linalg.norm(cross, axis=1), b @ axis
    swing = np.zeros_like(b)
    tilted = s > 1e-12
    swing[tilted] = cross[tilted] / s[tilted, None] * np.arctan2(s[tilted], c[tilted])[:, None]
    swing[~tilted & (c <= 0)] = np.pi * np.asarray(half_turn_axis, dtype=np.float64)
    twist = (Rotation.from_rotvec(swing).inv() * rot).as_rotvec()   # (N, 3): a single `rot` broadcasts
    return (swing[0], twist[0]) if single else (swing, twist)
