"""Mouse and keyboard for the viewport (a mixin of ViewportWidget), with
Blender's defaults:

  middle-drag / alt+left-drag         orbit
  shift+middle / alt+shift+left       pan
  ctrl+middle / wheel                 zoom (in camera view the wheel sizes the frame)
  left-click                          select joint (skeleton markers), body part or person; empty: deselect
                                      (a selected or close-up hand shows its finger joints: click one to pose it)
  left-drag on a gizmo ring           rotate the selected joint (one undo step per drag)
  left-drag inside the gizmo          trackball rotation (a click there still selects)
  ctrl+left-drag (or IK mode)         drag a hand, foot or the head with IK
  shift+left-drag on a pelvis         move that body on the ground (or anywhere, pelvis selected);
                                      G: the same, modal
  right-click / Esc during a drag     cancel it (the pose is restored, no undo step left)
  a prop selected (click it): the gizmo's rings rotate it, shift+left-drag or G moves it,
  S scales it (modal: move the mouse, click to confirm), Delete removes it
  1 / 3 / 7 (numpad or not)           front / right / top; ctrl: back / left / bottom
  2 4 6 8                             orbit in 15 degree steps
  0                                   look through the render camera
  F / Home                            frame selected / frame all
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor

from posebooth.assets.ik import is_effector, joint_positions, rest_joints_of
from posebooth.edits import prop_ops
from posebooth.viewport.drags import GizmoDrag, IKDrag, MoveDrag
from posebooth.viewport.gizmo import hit_test
from posebooth.viewport.picking import pick_joint, pick_person
from posebooth.viewport.prop_drags import PropMoveDrag, PropRotateDrag, PropScaleDrag

DRAG_START_PX = 3.0
ORBIT_STEP = math.radians(15)
_VIEW_KEYS = {Qt.Key.Key_1: ("front", "back"), Qt.Key.Key_3: ("right", "left"), Qt.Key.Key_7: ("top", "bottom")}


class ViewportInput:
    """Needs: doc, view, view_camera(), _gizmo(), _posed(), devicePixelRatioF()."""

    def _init_input(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)          # hover highlight of the gizmo, modal G move
        self._drag = None                    # GizmoDrag | MoveDrag | IKDrag
        self._drag_kind: str | None = None   # 'rotate' | 'move' | 'ik'
        self._drag_person: int | None = None
        self._token = None
        self._pushed = False
        self._modal = False
        self._nav = None                     # (mode, last x, last y)
        self._pending = None                 # (x, y) press inside the gizmo: click or trackball
        self._hover: str | None = None
        self._rest_cache: dict = {}
        self.last_ik_target: np.ndarray | None = None   # world target of the last IK drag
        self._ik_lift = np.zeros(3)   # the on_ground offset of the person an IK drag moves

    # ---- coordinates --------------------------------------------------------
    def _dev(self, pos) -> tuple[float, float]:
        """Qt logical cursor position -> framebuffer pixels (centre of the pixel under it)."""
        dpr = self.devicePixelRatioF()
        return (pos.x() + 0.5) * dpr, (pos.y() + 0.5) * dpr

    def _active_handle(self) -> str | None:
        return self._drag.rot.handle if isinstance(self._drag, (GizmoDrag, PropRotateDrag)) else None

    # ---- selection ------------------------------------------------------------
    def _pick_skeleton(self, x: float, y: float) -> int | None:
        p = self.doc.selected_person
        posed = self._posed()
        if p is None or p >= len(posed) or not self.show_skeleton:
            return None
        r = 12.0 * self.devicePixelRatioF()
        return pick_joint(self.view_camera(), posed[p].joints, x, y, radius=r)

    def _select_pelvis_at(self, x: float, y: float) -> bool:
        """Shift+press on any person's pelvis selects it (the drag then moves
        that body), whoever was selected before."""
        r = 12.0 * self.devicePixelRatioF()
        camera = self.view_camera()
        for i, person in enumerate(self._posed()):
            if pick_joint(camera, person.joints[:1], x, y, radius=r) == 0:
                self.doc.select(i, 0)
                return True
        return False

    def _click_select(self, x: float, y: float) -> None:
        """Joint marker of the selected person, else the body under the cursor
        (on the selected person: the joint driving that body part), else nothing."""
        finger = self._pick_finger_at(x, y)   # a shown hand's finger joints lie over its body markers
        if finger is not None:
            self.doc.select_finger(self.doc.selected_person, *finger)
            return
        j = self._pick_skeleton(x, y)
        if j is not None:
            self.doc.select(self.doc.selected_person, j)
            return
        posed = self._posed()
        hit = pick_person(self.view_camera(), [*posed, *self._props()], x, y)
        if hit is None:
            self.doc.select(None, None)
            return
        i, face = hit
        if i >= len(posed):   # a prop, in the order _props() placed them
            self.doc.select_prop(self._props()[i - len(posed)].index)
            return
        if i == self.doc.selected_person:
            labels = posed[i].part_labels[posed[i].faces[face]]
            self.doc.select(i, int(np.bincount(labels).argmax()))
        else:
            self.doc.select(i, None)

    # ---- drags ------------------------------------------------------------------
    def _begin(self, kind: str, drag, person: int) -> None:
        self._drag, self._drag_kind, self._drag_person = drag, kind, person
        self._token, self._pushed = object(), False
        self.update()

    def _apply(self, x: float, y: float) -> None:
        if self._drag_kind.startswith("prop"):
            # A prop edit replaces the scene (sceneReplaced): our own, not a
            # change under the drag.
            self._own_edit = True
            try:
                prop_ops.edit_prop(self.doc, self._drag_person, self._drag.text, drag=self._token,
                                   **self._drag.fields_at(x, y))
            finally:
                self._own_edit = False
            self._pushed = True
            return
        pose = self._drag.pose_at(x, y)
        self.doc.set_pose(self._drag_person, pose, self._drag.text, drag=self._token)
        self._pushed = True
        if self._drag_kind == "rotate":
            rot = self._drag.rot
            self.statusMessage.emit(f"{self._drag.text} ({rot.handle}): {math.degrees(rot.angle):.1f}\N{DEGREE SIGN}")
        elif self._drag_kind == "ik":
            target = self._drag.target + self._ik_lift
            self.statusMessage.emit(f"{self._drag.text}: target {np.round(target, 3).tolist()} m")

    def _finish_drag(self) -> None:
        if self._drag_kind == "ik":
            self.last_ik_target = self._drag.target + self._ik_lift   # in the world, as shown
        self._drag = self._drag_kind = self._token = None
        self._modal = False
        self.update()

    def cancel_drag(self) -> None:
        """Abort the drag in progress: its merged command is undone and dropped."""
        if self._drag is None:
            return
        stack = self.doc.undo_stack
        if self._pushed and stack.index() > 0:
            cmd = stack.command(stack.index() - 1)
            if getattr(cmd, "drag_token", None) is self._token:
                stack.undo()             # restores the exact state before the drag
                # An obsolete command is dropped (not re-applied) by redo():
                # no step is left behind for the user to redo.
                cmd.setObsolete(True)
                stack.redo()
        self._finish_drag()

    def _start_move(self, x: float, y: float) -> bool:
        p = self.doc.selected_person
        if p is None or p >= len(self._posed()):
            return False
        self._begin("move", MoveDrag(self.doc.pose_of(p), self.view_camera(), x, y), p)
        return True

    def _selected_prop(self):
        i = self.doc.selected_prop
        return (i, self.doc.scene.props[i]) if i is not None and i < len(self.doc.scene.props) else (None, None)

    def _start_prop_drag(self, kind: str, x: float, y: float) -> bool:
        """'prop-move' or 'prop-scale' of the selected prop."""
        i, prop = self._selected_prop()
        if prop is None:
            return False
        camera = self.view_camera()
        if kind == "prop-move":
            drag = PropMoveDrag(prop, camera, x, y)
        else:
            center = next((0.5 * (m.vertices.min(0) + m.vertices.max(0)) for m in self._props() if m.index == i),
                          prop.position)
            drag = PropScaleDrag(prop, camera, x, y, center)
        self._begin(kind, drag, i)
        return True

    def _start_ik(self, p: int, j: int, x: float, y: float) -> None:
        posed = self._posed()[p]
        key = (id(posed.body), np.asarray(posed.shape).tobytes())
        if key not in self._rest_cache:   # the body is held with its rest skeleton, so its id stays valid
            self._rest_cache[key] = (posed.body, rest_joints_of(posed.body, posed.shape))
        rest = self._rest_cache[key][1]
        pose = self.doc.pose_of(p)
        joints_of = None
        # IK solves on the document's pose, which on_ground shows lifted by
        # ground_offset: it sees the scene from as far below (same rays).
        lift = np.array([0.0, getattr(posed, "ground_offset", 0.0), 0.0])
        camera = self.view_camera()
        if lift[1]:
            camera = dataclasses.replace(camera, extrinsic=camera.extrinsic.copy())
            camera.extrinsic[:3, 3] += camera.extrinsic[:3, :3] @ lift
        # Check against the body's own joints (a body forward per mouse move)
        # only where its skeleton does not follow SMPL's chain exactly here.
        if np.abs(joint_positions(pose, rest) - (posed.joints - lift)).max() > 1e-3:
            body, shape = posed.body, np.asarray(posed.shape)[None]

            def joints_of(q):
                out = body.forward(q.global_orient[None].astype(np.float32), q.body_pose[None].astype(np.float32),
                                   q.transl[None].astype(np.float32), shape)
                return out.joints[0]
        drag = IKDrag(pose, j, camera, x, y, rest, posed.joints[j] - lift, joints_of, self.limits_enabled)
        self._ik_lift = lift
        self._begin("ik", drag, p)

    # ---- Qt events ---------------------------------------------------------------
    def mousePressEvent(self, e) -> None:
        x, y = self._dev(e.position())
        btn, mods = e.button(), e.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if self._drag is not None:
            if btn == Qt.MouseButton.RightButton:
                self.cancel_drag()
            elif self._modal and btn == Qt.MouseButton.LeftButton:
                self._finish_drag()
            return
        if btn == Qt.MouseButton.MiddleButton or (btn == Qt.MouseButton.LeftButton
                                                  and mods & Qt.KeyboardModifier.AltModifier):
            self._nav = ("pan" if shift else "zoom" if ctrl else "orbit", x, y)
            return
        if btn != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(e)
        p, j = self.doc.selected_person, self.doc.selected_joint
        if self.doc.selected_prop is not None and self._press_on_prop(x, y, shift):
            return
        if ctrl or self._ik_enabled:
            hit = self._pick_skeleton(x, y)
            if hit is not None and is_effector(hit):
                self.doc.select(p, hit)
                self._start_ik(p, hit, x, y)
                return
        if shift and (j == 0 or self._select_pelvis_at(x, y)) and self._start_move(x, y):
            return
        camera = self.view_camera()
        g = self._gizmo(camera)
        handle = hit_test(g, camera, x, y, 8.0 * self.devicePixelRatioF()) if g is not None else None
        if handle in ("x", "y", "z", "view"):
            self._begin("rotate", self._rotate_drag(p, j, handle, g, camera, x, y), p)
        elif handle == "trackball":
            self._pending = (x, y)
        else:
            self._click_select(x, y)

    def _press_on_prop(self, x: float, y: float, shift: bool) -> bool:
        """A left press with a prop selected: its gizmo, or shift: move it."""
        i, prop = self._selected_prop()
        if prop is None:
            return False
        if shift:
            return self._start_prop_drag("prop-move", x, y)
        camera = self.view_camera()
        g = self._gizmo(camera)
        handle = hit_test(g, camera, x, y, 8.0 * self.devicePixelRatioF()) if g is not None else None
        if handle in ("x", "y", "z", "view"):
            self._begin("prop-rotate", PropRotateDrag(prop, handle, g, camera, x, y), i)
            return True
        if handle == "trackball":
            self._pending = (x, y)
            return True
        return False

    def mouseMoveEvent(self, e) -> None:
        x, y = self._dev(e.position())
        if self._nav is not None:
            mode, lx, ly = self._nav
            dx, dy = x - lx, y - ly
            self._nav = (mode, x, y)
            if mode == "orbit":
                self._leave_look_through()
                self.view.orbit(dx, dy)
            elif mode == "pan":
                self._leave_look_through()
                self.view.pan(dx, dy, *self.device_size())
            else:
                self.view.zoom(-dy / 40.0)
            self._view_moved()
            return
        if self._pending is not None:
            px, py = self._pending
            if math.hypot(x - px, y - py) > DRAG_START_PX * self.devicePixelRatioF():
                self._pending = None
                p, j = self.doc.selected_person, self.doc.selected_joint
                camera = self.view_camera()
                i, prop = self._selected_prop()
                if prop is not None:
                    self._begin("prop-rotate", PropRotateDrag(prop, "trackball", self._gizmo(camera), camera,
                                                              px, py), i)
                    self._apply(x, y)
                    return
                self._begin("rotate", self._rotate_drag(p, j, "trackball", self._gizmo(camera), camera, px, py), p)
        if self._drag is not None:
            self._apply(x, y)
            return
        camera = self.view_camera()
        g = self._gizmo(camera)
        hover = hit_test(g, camera, x, y, 8.0 * self.devicePixelRatioF()) if g is not None else None
        if hover != self._hover:
            self._hover = hover
            self.update()

    def mouseReleaseEvent(self, e) -> None:
        if self._nav is not None:
            self._nav = None
            return
        if e.button() != Qt.MouseButton.LeftButton:
            return
        if self._pending is not None:
            self._pending = None
            self._click_select(*self._dev(e.position()))
        elif self._drag is not None and not self._modal:
            self._finish_drag()

    def leaveEvent(self, e) -> None:
        if self._hover is not None:
            self._hover = None
            self.update()
        super().leaveEvent(e)

    def end_drag_on_external_change(self, *args) -> None:
        """The scene, the frame or the people changed under a drag (undo,
        file open, timeline): the drag's press pose is stale, stop it."""
        if getattr(self, "_own_edit", False):
            return
        self._pending = None
        if self._drag is not None:
            self._finish_drag()

    def wheelEvent(self, e) -> None:
        steps = e.angleDelta().y() / 120.0
        if self._look_through:
            self.frame_fill = float(np.clip(self.frame_fill * 1.1 ** steps, 0.1, 8.0))
        else:
            self.view.zoom(steps)
        self._view_moved()

    def keyPressEvent(self, e) -> None:
        key, mods = e.key(), e.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if key == Qt.Key.Key_Escape and self._drag is not None:
            self.cancel_drag()
        elif key in _VIEW_KEYS:
            self.set_view(_VIEW_KEYS[key][1 if ctrl else 0])
        elif key in (Qt.Key.Key_4, Qt.Key.Key_6, Qt.Key.Key_8, Qt.Key.Key_2):
            self._leave_look_through()
            d = {Qt.Key.Key_4: (1, 0), Qt.Key.Key_6: (-1, 0), Qt.Key.Key_8: (0, -1), Qt.Key.Key_2: (0, 1)}[key]
            self.view.yaw += d[0] * ORBIT_STEP
            self.view.pitch = float(np.clip(self.view.pitch + d[1] * ORBIT_STEP, -math.pi / 2, math.pi / 2))
            self._view_moved()
        elif key == Qt.Key.Key_0:
            self.toggle_look_through()
        elif key == Qt.Key.Key_F:
            self.frame_selected()
        elif key == Qt.Key.Key_Home:
            self.frame_all()
        elif key == Qt.Key.Key_G and self._drag is None:
            pos = self._dev(self.mapFromGlobal(QCursor.pos()))
            if self._start_prop_drag("prop-move", *pos) if self.doc.selected_prop is not None \
                    else self._start_move(*pos):
                self._modal = True
        elif key == Qt.Key.Key_S and self._drag is None and self.doc.selected_prop is not None:
            if self._start_prop_drag("prop-scale", *self._dev(self.mapFromGlobal(QCursor.pos()))):
                self._modal = True
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_X) and self._drag is None \
                and self.doc.selected_prop is not None:
            prop_ops.delete_prop(self.doc, self.doc.selected_prop)
        else:
            super().keyPressEvent(e)
