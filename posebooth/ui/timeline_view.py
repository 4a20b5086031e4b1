"""The dope-sheet strip of the timeline (pyqtgraph): a frame ruler, one row of
key markers per person plus one for the camera, the frame range shaded, and
a current-frame line.

Mouse, as in Blender's timeline: left click or drag anywhere scrubs, the
wheel zooms the frame axis, middle drag pans, right click on a key opens its
menu (interpolation, delete).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

CAMERA_ROW = "camera"
KEY_SIZE = 11
HIT_PX = 8


class _RulerViewBox(pg.ViewBox):
    def __init__(self, owner: "TimelineView"):
        super().__init__(enableMenu=False)
        self.owner = owner
        self.setMouseEnabled(x=True, y=False)

    def mouseClickEvent(self, ev):
        p = self.mapSceneToView(ev.scenePos())
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.owner.frameRequested.emit(int(round(p.x())))
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            hit = self.owner.key_at(p.x(), p.y())
            if hit is not None:
                sp = ev.screenPos()
                self.owner.keyMenuRequested.emit(hit[0], hit[1], QPoint(int(sp.x()), int(sp.y())))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() == Qt.MouseButton.LeftButton:  # scrub
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.owner.frameRequested.emit(int(round(p.x())))
        else:
            super().mouseDragEvent(ev, axis)


class TimelineView(pg.PlotWidget):
    frameRequested = Signal(int)                  # a click or a scrub on the ruler
    keyMenuRequested = Signal(object, int, QPoint)  # row (person index or CAMERA_ROW), frame, screen pos

    def __init__(self, doc, parent=None):
        self._vb = None
        vb = _RulerViewBox(self)
        super().__init__(parent, viewBox=vb, background=None)
        self._vb = vb
        self.doc = doc
        self.setObjectName("timelineView")
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.showAxis("top")
        plot.hideAxis("bottom")
        plot.showGrid(x=True, y=False, alpha=0.12)
        vb.invertY(True)
        self.setMinimumHeight(70)

        plot.getAxis("left").setWidth(90)
        self.apply_palette()

        shade = QColor(0, 0, 0, 70)
        self._before = pg.LinearRegionItem((-1e7, -0.5), movable=False, brush=shade, pen=pg.mkPen(None))
        self._after = pg.LinearRegionItem((0.5, 1e7), movable=False, brush=shade, pen=pg.mkPen(None))
        for r in (self._before, self._after):
            r.setZValue(-10)
            plot.addItem(r, ignoreBounds=True)
        self.keys = pg.ScatterPlotItem(symbol="d", size=KEY_SIZE, pxMode=True)
        plot.addItem(self.keys)
        # Not movable itself: a drag anywhere on the strip scrubs (the line follows doc.frame).
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(QColor(232, 125, 13), width=2),
                                      label="{value:.0f}",
                                      labelOpts={"position": 0.92, "color": (255, 255, 255),
                                                 "fill": QColor(232, 125, 13), "movable": False})
        self.cursor.setZValue(10)
        plot.addItem(self.cursor, ignoreBounds=True)

        self._fitted: tuple | None = None
        self._rows: list = []
        self._points: np.ndarray = np.zeros((0, 2))
        self._point_rows: list = []
        doc.pathChanged.connect(lambda: self.refresh(reset_range=True))  # new or opened scene
        for sig in (doc.sceneReplaced, doc.peopleChanged, doc.cameraChanged, doc.timelineChanged, doc.selectionChanged):
            sig.connect(self.refresh)
        doc.personChanged.connect(self.refresh)
        doc.frameChanged.connect(self._on_frame)
        self.refresh(reset_range=True)

    def mousePressEvent(self, ev):
        # Blender sets the frame on press, not on release (pyqtgraph's click)
        if ev.button() == Qt.MouseButton.LeftButton:
            scene_pos = self.mapToScene(ev.position().toPoint())
            plot = self.getPlotItem()
            if self._vb.sceneBoundingRect().contains(scene_pos) or \
                    plot.getAxis("top").sceneBoundingRect().contains(scene_pos):
                self.frameRequested.emit(int(round(self._vb.mapSceneToView(scene_pos).x())))
        super().mousePressEvent(ev)

    # ---- drawing --------------------------------------------------------------
    def apply_palette(self):
        """Colours from the application palette (called again on a theme change)."""
        pal = QApplication.palette()
        plot = self.getPlotItem()
        for name in ("top", "left"):
            axis = plot.getAxis(name)
            axis.setTextPen(pal.color(QPalette.ColorRole.WindowText))
            axis.setPen(pal.color(QPalette.ColorRole.Mid))
        self.setBackground(pal.color(QPalette.ColorRole.Base))

    def rows(self) -> list:
        return [*range(len(self.doc.scene.people)), CAMERA_ROW]

    def refresh(self, *args, reset_range: bool = False):
        scene = self.doc.scene
        self._rows = self.rows()
        xs, ys, brushes, rows = [], [], [], []
        for y, row in enumerate(self._rows):
            if row == CAMERA_ROW:
                frames, color = [k.frame for k in scene.camera.keys], QColor(200, 200, 205)
            else:
                person = scene.people[row]
                frames, color = [k.frame for k in person.keys], QColor.fromRgbF(*person.color)
            brush = pg.mkBrush(color)  # one brush per row: cheap with thousands of keys
            xs.extend(frames)
            ys.extend([y] * len(frames))
            brushes.extend([brush] * len(frames))
            rows.extend([row] * len(frames))
        self._points = np.column_stack([xs, ys]).astype(float) if xs else np.zeros((0, 2))
        self._point_rows = rows
        self.keys.setData(x=xs, y=ys, brush=brushes, pen=pg.mkPen(QColor(15, 15, 15), width=1.2))

        ticks = []
        for y, row in enumerate(self._rows):
            name = "Camera" if row == CAMERA_ROW else scene.people[row].name
            if row == self.doc.selected_person:
                name = f"▸ {name}"
            ticks.append((y, name[:14]))
        self.getPlotItem().getAxis("left").setTicks([ticks])
        start, end = scene.timeline.start, scene.timeline.end
        self._before.setRegion((-1e7, start - 0.5))
        self._after.setRegion((end + 0.5, 1e7))
        self._vb.setYRange(-0.6, len(self._rows) - 0.4, padding=0)
        self._vb.setLimits(yMin=-0.6, yMax=len(self._rows) - 0.4, xMin=-50, xMax=scene.timeline.end + 10_000)
        if reset_range or self._fitted != (start, end):  # keep the user's zoom otherwise
            self.fit()
            self._fitted = (start, end)
        self.cursor.setValue(self.doc.frame)

    def fit(self):
        scene = self.doc.scene
        last = max([scene.timeline.end, *(k.frame for p in scene.people for k in p.keys),
                    *(k.frame for k in scene.camera.keys)])
        span = max(last - scene.timeline.start, 24)
        self._vb.setXRange(scene.timeline.start - 1, scene.timeline.start + span + 1, padding=0.02)

    def _on_frame(self, frame: int):
        self.cursor.setValue(frame)
        lo, hi = self._vb.viewRange()[0]
        if not lo <= frame <= hi:  # follow playback off the visible range
            width = hi - lo
            self._vb.setXRange(frame - 0.1 * width, frame + 0.9 * width, padding=0)

    # ---- hit testing ------------------------------------------------------------
    def key_at(self, x: float, y: float):
        """(row, frame) of the key marker within a few pixels of view point (x, y)."""
        if not len(self._points):
            return None
        px_w, px_h = self._vb.viewPixelSize()
        d = np.hypot((self._points[:, 0] - x) / px_w, (self._points[:, 1] - y) / px_h)
        i = int(np.argmin(d))
        if d[i] > HIT_PX:
            return None
        return self._point_rows[i], int(self._points[i, 0])

    def frame_to_widget(self, frame: float, row_y: float = 0.0) -> QPoint:
        """Widget pixel of a (frame, row) point (tests use it to click and drag)."""
        scene_pt = self._vb.mapViewToScene(pg.Point(frame, row_y))
        return self.mapFromScene(scene_pt)
