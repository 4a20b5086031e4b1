"""A primitive prop as a solid for the placement clash test (placement.py).

A body is a fine mesh, so placement's nearest-vertex sign test works on it;
a box has eight corners, where that test is wrong (a point just above the
middle of its top face is nearest a corner, "behind" the corner's slanted
normal). A primitive is exact instead: a point is taken into the prop's own
frame and compared with its extents (box, seat block and wall: a box;
cylinder: an elliptic prism). For the other direction of the test (the prop
inside a body) the prop's surface is sampled every few centimetres.
"""
from __future__ import annotations

import numpy as np

from posebooth.assets.props import local_geometry, prop_transform
from posebooth.scene.bounds import box
from posebooth.scene.props import Prop

SURFACE_STEP_M = 0.04     # spacing of the surface samples tested against a body


class PropSolid:
    """What placement.interpenetrate needs of a solid: lo/hi (world box),
    vertices (surface samples, world) and inside_count."""

    def __init__(self, prop: Prop):
        if prop.kind == "mesh":
            raise ValueError(f"prop {prop.name!r}: the placement test takes primitives only, not mesh files")
        import trimesh

        m = prop_transform(prop)
        self.kind = prop.kind
        self.turn = m[:3, :3] / np.asarray(prop.scale, float)    # rotation only
        self.position = np.asarray(prop.position, float)
        self.extent = np.asarray(prop.size, float) * prop.scale  # metres, in the prop's own axes
        v, f, _ = local_geometry(prop)
        v, _ = trimesh.remesh.subdivide_to_size(v, f, SURFACE_STEP_M / max(1e-3, min(prop.scale)))
        self.vertices = v @ m[:3, :3].T + m[:3, 3]
        self.lo, self.hi = box(self.vertices)

    def inside_count(self, points: np.ndarray, tolerance: float) -> int:
        """How many of `points` lie inside the prop by more than `tolerance`."""
        p = (np.asarray(points, np.float64) - self.position) @ self.turn   # the prop's axes, metres
        w, _, d = self.extent / 2 - tolerance
        upright = (p[:, 1] > tolerance) & (p[:, 1] < self.extent[1] - tolerance)
        if self.kind == "cylinder":
            across = (p[:, 0] / max(w, 1e-9)) ** 2 + (p[:, 2] / max(d, 1e-9)) ** 2 < 1.0
        else:
            across = (np.abs(p[:, 0]) < w) & (np.abs(p[:, 2]) < d)
        return int(np.count_nonzero(upright & across & (w > 0) & (d > 0)))
