"""Prop placement driven by a mouse drag, Qt-free: move (the view plane
through the prop, offset so the press does not jump), rotate (the rotate
gizmo's rings about the prop's base centre, in its own axes or the
world's) and scale (by the cursor's distance from the prop on screen, as
Blender's S). Each maps the cursor to new fields from the press, so a drag
never drifts and a cancelled drag restores exactly. Framebuffer pixels.
"""
from __future__ import annotations

import numpy as np

from posebooth.scene.camera import Camera
from posebooth.scene.props import SCALE_RANGE, Prop
from posebooth.scene.rotation import Rotation
from posebooth.viewport.gizmo import Gizmo, RotationDrag
from posebooth.viewport.picking import view_plane_point


def prop_axes(prop: Prop, space: str) -> np.ndarray:
    """Gizmo axes (columns): the prop's rotation ('local') or the world's."""
    return Rotation.from_rotvec(prop.rotation).as_matrix() if space == "local" else np.eye(3)


class PropMoveDrag:
    def __init__(self, prop: Prop, camera: Camera, x: float, y: float):
        self.camera, self.text = camera, f"Move {prop.name}"
        self.anchor = np.array(prop.position, float)
        self.offset = self.anchor - view_plane_point(camera, x, y, self.anchor)

    def fields_at(self, x: float, y: float) -> dict:
        p = view_plane_point(self.camera, x, y, self.anchor) + self.offset
        return {"position": [float(v) for v in p]}


class PropRotateDrag:
    def __init__(self, prop: Prop, handle: str, gizmo: Gizmo, camera: Camera, x: float, y: float):
        self.text = f"Rotate {prop.name}"
        self.r0 = Rotation.from_rotvec(prop.rotation).as_matrix()
        self.rot = RotationDrag(handle, gizmo, camera, x, y)

    def fields_at(self, x: float, y: float) -> dict:
        r = Rotation.from_matrix(self.rot.rotation(x, y) @ self.r0).as_rotvec()
        return {"rotation": [float(v) for v in r]}


class PropScaleDrag:
    """Uniform scale: the cursor's distance from the prop's centre on screen
    over that distance at the press."""

    def __init__(self, prop: Prop, camera: Camera, x: float, y: float, center):
        self.text = f"Scale {prop.name}"
        self.s0 = np.array(prop.scale, float)
        self.c = camera.project(np.asarray(center, float))[0]
        self.d0 = max(float(np.hypot(x - self.c[0], y - self.c[1])), 4.0)

    def fields_at(self, x: float, y: float) -> dict:
        f = float(np.hypot(x - self.c[0], y - self.c[1])) / self.d0
        s = np.clip(self.s0 * f, *SCALE_RANGE)
        return {"scale": [float(v) for v in s]}
