"""Timeline dock: transport controls, frame range, keys, and the key strip.

The buttons are the window's QActions (play, step, keys), so the toolbar,
the menus, the shortcuts and these buttons always agree.
"""
from __future__ import annotations

from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QMenu, QSizePolicy, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from posebooth.edits import key_ops
from posebooth.ui.playback import Playback
from posebooth.ui.timeline_view import CAMERA_ROW, TimelineView
from posebooth.ui.widgets import set_quietly

INTERPS = (("linear", "Linear"), ("smooth", "Smooth (ease in/out)"), ("step", "Constant (step)"))


class TimelinePanel(QWidget):
    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.playback = Playback(doc, self)
        self.view = TimelineView(doc, self)
        self.view.frameRequested.connect(self.doc.set_frame)
        self.view.keyMenuRequested.connect(self.show_key_menu)

        self.frame_box = QSpinBox()
        self.frame_box.setObjectName("currentFrame")
        self.frame_box.setRange(0, 10_000_000)
        self.frame_box.setPrefix("Frame ")
        self.frame_box.setKeyboardTracking(False)
        self.frame_box.valueChanged.connect(self.doc.set_frame)
        self.start_box, self.end_box = QSpinBox(), QSpinBox()
        for box, prefix in ((self.start_box, "Start "), (self.end_box, "End ")):
            box.setRange(0, 10_000_000)
            box.setPrefix(prefix)
            box.setKeyboardTracking(False)
            box.valueChanged.connect(self._on_range)
        self.start_box.setObjectName("startFrame")
        self.end_box.setObjectName("endFrame")
        self.fps_box = QDoubleSpinBox()
        self.fps_box.setRange(1, 240)
        self.fps_box.setDecimals(2)
        self.fps_box.setSuffix(" fps")
        self.fps_box.setKeyboardTracking(False)
        self.fps_box.valueChanged.connect(self._on_fps)
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setChecked(True)
        self.loop_box.toggled.connect(lambda on: setattr(self.playback, "loop", on))
        # The rate really drawn while playing (frames are dropped to keep the scene's time).
        self.rate_label = QLabel("")
        self.rate_label.setObjectName("playbackRate")
        self.rate_label.setToolTip("Frames drawn per second while playing; frames are skipped to keep time")
        self.playback.rateChanged.connect(self._show_rate)

        # The transport row may be clipped rather than force a wide window.
        bar = QWidget()
        bar.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.transport = QHBoxLayout(bar)
        self.transport.setSpacing(2)
        self.transport.setContentsMargins(4, 2, 4, 0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(bar)
        lay.addWidget(self.view, 1)

        for sig in (doc.sceneReplaced, doc.timelineChanged):
            sig.connect(self.refresh)
        doc.frameChanged.connect(lambda f: set_quietly(self.frame_box, f))
        self.refresh()

    def add_transport(self, actions: dict):
        """Lay out the transport row from the window's actions."""
        def button(name):
            b = QToolButton()
            b.setDefaultAction(actions[name])
            b.setAutoRaise(True)
            return b
        for name in ("jump_start", "prev_key", "prev_frame", "play", "next_frame", "next_key", "jump_end"):
            self.transport.addWidget(button(name))
        self.transport.addWidget(self.frame_box)
        self.transport.addSpacing(12)
        for name in ("insert_key", "delete_key", "auto_key"):
            self.transport.addWidget(button(name))
        self.transport.addStretch(1)
        for w in (self.rate_label, self.loop_box, self.fps_box, self.start_box, self.end_box):
            self.transport.addWidget(w)

    def refresh(self, *args):
        tl = self.doc.scene.timeline
        set_quietly(self.start_box, tl.start)
        set_quietly(self.end_box, tl.end)
        set_quietly(self.fps_box, tl.fps)
        set_quietly(self.frame_box, self.doc.frame)

    def _on_range(self, *args):
        start, end = self.start_box.value(), self.end_box.value()
        if self.sender() is self.start_box:
            end = max(end, start)
        else:
            start = min(start, end)
        tl = self.doc.scene.timeline
        if (start, end) == (tl.start, tl.end):
            return

        def mutate(scene):
            scene.timeline = scene.timeline.model_copy(update={"start": start, "end": end})
        self.doc.edit_scene(mutate, "Frame range")

    def _show_rate(self, rate: float):
        self.rate_label.setText(f"{rate:.1f} fps shown" if rate > 0 else "")

    def _on_fps(self, fps: float):
        if abs(fps - self.doc.scene.timeline.fps) > 1e-9:
            self.doc.edit_scene(lambda s: setattr(s.timeline, "fps", float(fps)), "Frame rate")

    # ---- keys ---------------------------------------------------------------------
    def insert_key(self):
        i = self.doc.selected_person
        if i is None:
            key_ops.insert_camera_key(self.doc)
        else:
            key_ops.insert_pose_key(self.doc, i)

    def delete_key(self) -> bool:
        i = self.doc.selected_person
        if i is not None and key_ops.delete_pose_key(self.doc, i, self.doc.frame):
            return True
        return key_ops.delete_camera_key(self.doc, self.doc.frame) if i is None else False

    # ---- copy, paste and delete (Ctrl+C / Ctrl+V; Delete on the strip) ----------
    def copy(self) -> bool:
        """The selected keys, or else the selected person's pose at this frame."""
        view, doc = self.view, self.doc
        clip = key_ops.copy_keys(doc, view.selected) if view.selected else None
        if clip is None and doc.selected_person is not None:
            clip = key_ops.copy_pose(doc, doc.selected_person)
        if clip is not None:
            self.clip = clip
        return clip is not None

    def paste(self) -> bool:
        """At the playhead, onto the selected person (camera keys onto the camera)."""
        clip = getattr(self, "clip", None)
        return key_ops.paste(self.doc, clip, self.doc.selected_person, self.doc.frame) if clip else False

    def delete_selected_keys(self) -> int:
        return self.view.delete_selected()

    def jump_key(self, direction: int):
        frame = key_ops.neighbour_key(self.doc, direction)
        if frame is not None:
            self.doc.set_frame(frame)

    def step(self, delta: int):
        self.doc.set_frame(max(0, self.doc.frame + delta))

    def jump_end(self, end: bool):
        tl = self.doc.scene.timeline
        self.doc.set_frame(tl.end if end else tl.start)

    def show_key_menu(self, row, frame: int, pos):
        menu = self.key_menu(row, frame)
        menu.exec(pos)

    def key_menu(self, row, frame: int) -> QMenu:
        """The context menu of one key marker (built separately so tests can trigger it)."""
        doc = self.doc
        keys = doc.scene.camera.keys if row == CAMERA_ROW else doc.scene.people[row].keys
        key = next(k for k in keys if k.frame == frame)
        menu = QMenu(self)
        title = "Camera" if row == CAMERA_ROW else doc.scene.people[row].name
        menu.addSection(f"{title} · key at {frame}")
        group = QActionGroup(menu)
        for interp, label in INTERPS:
            act = menu.addAction(label)
            act.setCheckable(True)
            act.setChecked(key.interp == interp)
            act.setObjectName(f"interp_{interp}")
            group.addAction(act)
            if row == CAMERA_ROW:
                act.triggered.connect(lambda _=False, m=interp: key_ops.set_camera_interp(doc, frame, m))
            else:
                act.triggered.connect(lambda _=False, m=interp: doc.set_key_interp(row, frame, m))
        menu.addSeparator()
        menu.addAction("Go to frame", lambda: doc.set_frame(frame))
        delete = menu.addAction("Delete key")
        delete.setObjectName("deleteKey")
        delete.setEnabled(len(keys) > 1)
        if row == CAMERA_ROW:
            delete.triggered.connect(lambda: key_ops.delete_camera_key(doc, frame))
        else:
            delete.triggered.connect(lambda: key_ops.delete_pose_key(doc, row, frame))
        return menu
