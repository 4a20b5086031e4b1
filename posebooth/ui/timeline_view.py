"""The dope-sheet strip of the timeline (pyqtgraph): a frame ruler, one row of
key markers per person plus one for the camera, the frame range shaded, and
a current-frame line.

Mouse, as in Blender's dope sheet: a click on a key selects it (shift or
ctrl: adds or removes it), a drag on a key moves the selected keys in time
(one undo step), a click or drag on empty space scrubs, shift/ctrl+drag on
empty space selects the keys in a rubber band; the wheel zooms the frame
axis, middle drag pans, right click on a key opens its menu (interpolation,
delete). With the strip focused, Delete removes the selected keys.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsRectItem

from posebooth.edits import key_ops

CAMERA_ROW = key_ops.CAMERA
SELECTED_PEN = QColor(255, 170, 40)
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
            ev.accept()   # selection and scrubbing happen on the press (TimelineView.mousePressEvent)
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            hit = self.owner.key_at(p.x(), p.y())
            if hit is not None:
                sp = ev.screenPos()
                self.owner.keyMenuRequested.emit(hit[0], hit[1], QPoint(int(sp.x()), int(sp.y())))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        owner = self.owner
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            down = self.mapSceneToView(ev.buttonDownScenePos())
            owner._start_drag(down, ev.modifiers())
        owner._drag_to(p)
        if ev.isFinish():
            owner._end_drag(p)


class TimelineView(pg.PlotWidget):
    frameRequested = Signal(int)                  # a click or a scrub on the ruler
    keyMenuRequested = Signal(object, int, QPoint)  # row (person index or CAMERA_ROW), frame, screen pos
    keySelectionChanged = Signal()

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
        self.selected: set = set()          # selected keys as (row, frame)
        self._press_mods = Qt.KeyboardModifier.NoModifier
        self._drag = None                   # ('move', KeyRetime, press frame) | ('band', press point) | ('scrub',)
        self._band = QGraphicsRectItem()
        self._band.setPen(pg.mkPen(SELECTED_PEN, width=1))
        self._band.setBrush(QColor(255, 170, 40, 40))
        self._band.setZValue(20)
        self._band.hide()
        plot.addItem(self._band, ignoreBounds=True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)   # Delete acts on the selected keys
        doc.pathChanged.connect(lambda: self.refresh(reset_range=True))  # new or opened scene
        for sig in (doc.sceneReplaced, doc.peopleChanged, doc.cameraChanged, doc.timelineChanged, doc.selectionChanged):
            sig.connect(self.refresh)
        doc.personChanged.connect(self.refresh)
        doc.frameChanged.connect(self._on_frame)
        self.refresh(reset_range=True)

    def mousePressEvent(self, ev):
        # Blender selects and sets the frame on press, not on release (pyqtgraph's click)
        if ev.button() == Qt.MouseButton.LeftButton:
            scene_pos = self.mapToScene(ev.position().toPoint())
            plot = self.getPlotItem()
            in_strip = self._vb.sceneBoundingRect().contains(scene_pos)
            if in_strip or plot.getAxis("top").sceneBoundingRect().contains(scene_pos):
                p = self._vb.mapSceneToView(scene_pos)
                hit = self.key_at(p.x(), p.y()) if in_strip else None
                self._press_mods = ev.modifiers()   # a drag keeps the modifiers of its press
                self._press_select(hit, self._press_mods)
                if hit is None and not self._adding(self._press_mods):
                    self.frameRequested.emit(int(round(p.x())))
        super().mousePressEvent(ev)

    # ---- selecting and moving keys ------------------------------------------------
    @staticmethod
    def _adding(mods) -> bool:
        return bool(mods & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier))

    def _press_select(self, hit, mods) -> None:
        adding = self._adding(mods)
        if hit is None:
            if not adding and self.selected:
                self.set_selection(set())
            return
        if adding:
            self.set_selection(self.selected ^ {hit})
        elif hit not in self.selected:   # a press on a selected key keeps the group (to drag it)
            self.set_selection({hit})

    def set_selection(self, refs) -> None:
        refs = key_ops.existing_refs(self.doc, refs)
        if refs != self.selected:
            self.selected = refs
            self._draw_keys()
            self.keySelectionChanged.emit()

    def _start_drag(self, down, mods) -> None:
        hit = self.key_at(down.x(), down.y())
        adding = self._adding(mods) or self._adding(self._press_mods)
        if hit is not None and hit in self.selected:
            self._drag = ("move", key_ops.KeyRetime(self.doc, self.selected), down.x())
        elif hit is None and adding:
            self._drag = ("band", (down.x(), down.y()), set(self.selected))
            self._band.show()
        else:
            self._drag = ("scrub",)

    def _drag_to(self, p) -> None:
        if self._drag is None:
            return
        kind = self._drag[0]
        if kind == "move":
            retime, x0 = self._drag[1], self._drag[2]
            moved = retime.move_by(int(round(p.x() - x0)))
            self.set_selection(moved)
        elif kind == "band":
            (x0, y0), before = self._drag[1], self._drag[2]
            rect = QRectF(min(x0, p.x()), min(y0, p.y()), abs(p.x() - x0), abs(p.y() - y0))
            self._band.setRect(rect)
            inside = {(self._point_rows[i], int(x)) for i, (x, y) in enumerate(self._points)
                      if rect.contains(x, y)}
            self.set_selection(before | inside)
        else:
            self.frameRequested.emit(int(round(p.x())))

    def _end_drag(self, p) -> None:
        self._drag = None
        self._band.hide()

    def event(self, ev):
        # Delete on the focused strip removes keys, not the window's selected person.
        if ev.type() == QEvent.Type.ShortcutOverride and self.selected and \
                ev.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            ev.accept()
            return True
        return super().event(ev)

    def keyPressEvent(self, ev):
        if ev.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected:
            self.delete_selected()
            ev.accept()
            return
        if ev.matches(QKeySequence.StandardKey.SelectAll):
            self.set_selection({(r, int(x)) for r, (x, _) in zip(self._point_rows, self._points)})
            ev.accept()
            return
        super().keyPressEvent(ev)

    def delete_selected(self) -> int:
        count = key_ops.delete_keys(self.doc, self.selected)
        self.set_selection(self.selected)   # drops the deleted ones
        return count

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
        self._brushes = brushes
        kept = key_ops.existing_refs(self.doc, self.selected)
        if kept != self.selected:   # undo, deletion, another scene
            self.selected = kept
            self.keySelectionChanged.emit()
        self._draw_keys()

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

    def _draw_keys(self) -> None:
        normal, chosen = pg.mkPen(QColor(15, 15, 15), width=1.2), pg.mkPen(SELECTED_PEN, width=2.5)
        pens = [chosen if (row, int(x)) in self.selected else normal
                for row, (x, _) in zip(self._point_rows, self._points)]
        self.keys.setData(x=self._points[:, 0], y=self._points[:, 1], brush=self._brushes, pen=pens)

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
