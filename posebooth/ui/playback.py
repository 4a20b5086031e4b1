"""Playback of the timeline at the scene's fps (a QTimer stepping doc.frame)."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal


class Playback(QObject):
    playingChanged = Signal(bool)

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.loop = True
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.tick)
        doc.sceneReplaced.connect(self._on_scene)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _on_scene(self):
        if self.playing:  # fps may have changed
            self._timer.setInterval(self._interval_ms())

    def _interval_ms(self) -> int:
        return max(1, int(round(1000.0 / self.doc.scene.timeline.fps)))

    def play(self):
        if self.playing:
            return
        tl = self.doc.scene.timeline
        if tl.end <= tl.start:
            return  # a single frame: nothing to play
        if not tl.start <= self.doc.frame < tl.end:
            self.doc.set_frame(tl.start)
        self._timer.start(self._interval_ms())
        self.playingChanged.emit(True)

    def stop(self):
        if self.playing:
            self._timer.stop()
            self.playingChanged.emit(False)

    def toggle(self):
        self.stop() if self.playing else self.play()

    def tick(self):
        tl = self.doc.scene.timeline
        frame = self.doc.frame + 1
        if frame > tl.end:
            if not self.loop:
                self.stop()
                return
            frame = tl.start
        self.doc.set_frame(frame)
