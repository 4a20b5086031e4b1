"""The centre of the window: the OpenGL viewport when it can be made, else a
light 2D stand-in that draws the skeletons through the render camera.

The window talks to the viewport only through `call` / `set_flag`, which
check that the method exists, so the window works with either widget (and
with a viewport that grows its API over time).
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QWidget

from posebooth.assets.smpl_skeleton import BONES, forward_kinematics

log = logging.getLogger(__name__)


def create_viewport(doc, parent=None) -> QWidget:
    try:
        from posebooth.ui.viewport.widget import ViewportWidget
    except Exception as e:  # noqa: BLE001 - not written yet, or GL bindings missing
        log.info("3D viewport unavailable: %s", e)
        return ViewportPlaceholder(doc, f"3D viewport unavailable ({type(e).__name__}: {e})", parent)
    try:
        return ViewportWidget(doc, parent)
    except Exception as e:  # noqa: BLE001 - never lose the window over the viewport
        log.exception("cannot create the 3D viewport")
        return ViewportPlaceholder(doc, f"3D viewport failed: {e}", parent)


def call(viewport, name: str, *args) -> bool:
    """Call viewport.name(*args) if the viewport has it; False when it does not."""
    fn = getattr(viewport, name, None)
    if not callable(fn):
        return False
    fn(*args)
    return True


def set_flag(viewport, name: str, value) -> bool:
    """viewport.set_<name>(value), or assign the attribute/property `name`."""
    if call(viewport, f"set_{name}", value):
        return True
    if hasattr(viewport, name) and not callable(getattr(viewport, name)):
        setattr(viewport, name, value)
        return True
    return False


def set_overlay(viewport, name: str | None) -> bool:
    """Show one overlay pass ('depth', 'normal', 'parts', 'openpose') or none."""
    if set_flag(viewport, "overlay", name):
        return True
    for overlay in ("depth", "normal", "parts", "openpose"):
        if not set_flag(viewport, f"show_{overlay}", overlay == name):
            return False
    return True


class ViewportPlaceholder(QWidget):
    """Stick figures seen through the render camera; click a joint to select it."""

    def __init__(self, doc, reason: str = "", parent=None):
        super().__init__(parent)
        self.setObjectName("viewport")
        self.doc, self.reason = doc, reason
        self.setMinimumSize(320, 240)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        for sig in (doc.sceneReplaced, doc.peopleChanged, doc.cameraChanged, doc.selectionChanged):
            sig.connect(self.update)
        doc.personChanged.connect(self.update)
        doc.frameChanged.connect(self.update)
        self._screen_joints: list[np.ndarray] = []

    def _image_rect(self) -> QRectF:
        cam = self.doc.scene.camera
        w, h = self.width() - 40, self.height() - 60
        s = min(w / cam.width, h / cam.height)
        return QRectF((self.width() - cam.width * s) / 2, 20 + (h - cam.height * s) / 2, cam.width * s,
                      cam.height * s)

    def paintEvent(self, event):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        g = QLinearGradient(0, 0, 0, self.height())
        g.setColorAt(0, QColor(58, 58, 62))
        g.setColorAt(1, QColor(30, 30, 33))
        p.fillRect(self.rect(), g)
        rect = self._image_rect()
        p.fillRect(rect, QColor(64, 64, 64))
        p.setPen(QPen(QColor(120, 120, 125), 1, Qt.PenStyle.DashLine))
        p.drawRect(rect)
        cam = self.doc.camera()
        scale = rect.width() / cam.width
        self._screen_joints = []
        for i, person in enumerate(self.doc.scene.people):
            pose = self.doc.pose_of(i)
            joints, _ = forward_kinematics(pose.global_orient, pose.body_pose, pose.transl)
            xy, z = cam.project(joints)
            pts = np.column_stack([rect.left() + xy[:, 0] * scale, rect.top() + xy[:, 1] * scale])
            pts[z <= 0] = np.nan
            self._screen_joints.append(pts)
            color = QColor.fromRgbF(*person.color)
            selected = i == self.doc.selected_person
            p.setPen(QPen(color.lighter(130) if selected else color, 4 if selected else 3, Qt.PenStyle.SolidLine,
                          Qt.PenCapStyle.RoundCap))
            for a, b in BONES:
                if np.isfinite(pts[[a, b]]).all():
                    p.drawLine(QPointF(*pts[a]), QPointF(*pts[b]))
            for j, (x, y) in enumerate(pts):
                if not np.isfinite([x, y]).all():
                    continue
                active = selected and j == self.doc.selected_joint
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(232, 125, 13) if active else QColor(235, 235, 235))
                r = 6 if active else 3
                p.drawEllipse(QPointF(x, y), r, r)
        p.setPen(QColor(150, 150, 150))
        p.drawText(self.rect().adjusted(8, 0, -8, -6), Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft,
                   f"Camera view (skeleton preview) · frame {self.doc.frame}   {self.reason}")
        p.end()

    def mousePressEvent(self, event):
        pos = np.array([event.position().x(), event.position().y()])
        best, best_d = None, 12.0
        for i, pts in enumerate(self._screen_joints):
            d = np.linalg.norm(pts - pos, axis=1)
            d[~np.isfinite(d)] = np.inf
            j = int(np.argmin(d))
            if d[j] < best_d:
                best, best_d = (i, j), d[j]
        if best is not None:
            self.doc.select(*best)
        super().mousePressEvent(event)
