"""Finger joints in the Qt viewport (a mixin of ViewportWidget): the hands'
joint markers, picking a finger joint, its gizmo and drag.

A hand shows its finger joints when it is selected or the view is close
(viewport.finger_drags.shown_hands); a click on one selects it
(doc.select_finger), and the rotate gizmo then turns that finger joint.
The maths is Qt-free (viewport.finger_drags, assets.hand_chain).
"""
from __future__ import annotations

import numpy as np

from posebooth.assets.hand_chain import HAND_BONES
from posebooth.viewport import overlay_geometry as geo
from posebooth.viewport.drags import GizmoDrag
from posebooth.viewport.finger_drags import CLOSE_PX, FingerDrag, hand_points, pick_finger, shown_hands
from posebooth.viewport.gizmo import Gizmo
from posebooth.viewport.overlays import vertices

FINGER_MARKER_PX = 6.0
FINGER_PICK_PX = 7.0
FINGER_GIZMO_PX = 45.0


class FingerInput:
    """Needs: doc, view_camera(), _posed(), show_skeleton, show_gizmo, limits_enabled, _gizmo_space, _drag."""

    def _selected_posed(self):
        p, posed = self.doc.selected_person, self._posed()
        return posed[p] if p is not None and p < len(posed) else None

    def _finger_selection(self):
        f = getattr(self.doc, "selected_finger", None)
        return f if f is not None and self._selected_posed() is not None else None

    def shown_hands(self, camera=None) -> list[str]:
        posed = self._selected_posed()
        if posed is None or not self.show_skeleton:
            return []
        return shown_hands(camera or self.view_camera(), posed, self.doc.selected_joint, self._finger_selection(),
                           CLOSE_PX * self.devicePixelRatioF())

    def finger_joint_world(self, side: str, joint: int) -> np.ndarray:
        """World position of a finger joint of the selected person (for tests and the gizmo)."""
        return hand_points(self._selected_posed(), side)[0][joint]

    def _pick_finger_at(self, x: float, y: float):
        camera = self.view_camera()
        posed = self._selected_posed()
        sides = self.shown_hands(camera)
        if posed is None or not sides:
            return None
        return pick_finger(camera, posed, sides, x, y, FINGER_PICK_PX * self.devicePixelRatioF())

    def _finger_gizmo(self, camera) -> Gizmo | None:
        f = self._finger_selection()
        if f is None or not self.show_gizmo:
            return None
        pts, rots = hand_points(self._selected_posed(), f[0])
        axes = rots[f[1]] if self._gizmo_space == "local" else np.eye(3)
        if isinstance(self._drag, GizmoDrag):   # the rings stay put while dragging
            axes = self._drag.rot.gizmo.axes
        radius = min(FINGER_GIZMO_PX * self.devicePixelRatioF(), 0.3 * min(camera.width, camera.height))
        return Gizmo.at(camera, pts[f[1]], axes, radius)

    def _rotate_drag(self, p: int, j: int, handle: str, g: Gizmo, camera, x: float, y: float) -> GizmoDrag:
        """The drag for a gizmo handle: the selected finger joint's, else the body joint's."""
        f = self._finger_selection()
        if f is not None:
            return FingerDrag(self.doc.pose_of(p), f[0], f[1], handle, g, camera, x, y, self.limits_enabled)
        return GizmoDrag(self.doc.pose_of(p), j, handle, g, camera, x, y, self.limits_enabled)

    def _draw_fingers(self, ov, posed, camera, dpr: float) -> None:
        """Bones and joint markers of the shown hands, on top of the mesh."""
        f = self._finger_selection()
        for side in self.shown_hands(camera):
            pts, _ = hand_points(posed, side)
            wrist = posed.joints[20 if side == "left" else 21]
            allp = np.concatenate([pts, np.asarray(wrist, float)[None]])   # index -1 = the wrist
            a = np.array([allp[i] for i, _ in HAND_BONES])
            b = np.array([allp[c] for _, c in HAND_BONES])
            ov.lines(geo._segments(a, b, geo.BONE_COLOR), width=1.5 * dpr)
            colors = np.tile(np.asarray(geo.JOINT_COLOR, np.float32), (15, 1))
            sizes = np.full(15, FINGER_MARKER_PX * dpr)
            if f is not None and f[0] == side:
                colors[f[1]] = geo.SELECTED_COLOR
                sizes[f[1]] *= 1.4
            ov.points(vertices(pts[:15], colors, sizes))
