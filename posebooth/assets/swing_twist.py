"""Splitting a rotation into a swing of an axis and a twist about it: the
decomposition both joint limits (SMPL body joints, MANO finger joints) clamp in."""
from __future__ import annotations

import numpy as np

from posebooth.scene.rotation import Rotation


def swing_twist(rot: Rotation, axis: np.ndarray, half_turn_axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R = S . T as rotation vectors: S the shortest rotation taking the unit
    `axis` to R(axis), T the rest (a turn about `axis`). A half turn of the
    axis swings about `half_turn_axis` (any axis perpendicular to it works)."""
    b = rot.apply(axis)
    cross = np.cross(axis, b)
    s, c = np.linalg.norm(cross), float(axis @ b)
    if s > 1e-12:
        swing = cross / s * np.arctan2(s, c)
    elif c > 0:
        swing = np.zeros(3)
    else:
        swing = np.pi * np.asarray(half_turn_axis, dtype=np.float64)
    return swing, (Rotation.from_rotvec(swing).inv() * rot).as_rotvec()
