"""Playback of the timeline in the scene's time.

The frame shown is a function of the time elapsed since play (a monotonic
clock): frame = start frame + floor(elapsed * fps). A timer only asks for a
redraw often enough; when drawing a frame takes longer than a frame lasts,
frames are dropped instead of the animation slowing down and drifting. The
rate really shown (frames drawn per second) is reported by `rateChanged`.
"""
from __future__ import annotations

import math
import time
from collections import deque

from PySide6.QtCore import QObject, Qt, QTimer, Signal

RATE_WINDOW_S = 1.0   # the shown rate is measured over the last second


class Playback(QObject):
    playingChanged = Signal(bool)
    rateChanged = Signal(float)   # frames actually drawn per second (0 when stopped)

    def __init__(self, doc, parent=None, clock=time.monotonic):
        super().__init__(parent)
        self.doc = doc
        self.loop = True
        self.clock = clock
        self._anchor: tuple[float, int] | None = None   # (clock time, frame) playback counts from
        self._shown: int | None = None                  # the frame playback last set
        self._drawn: deque = deque()                    # clock times of the frames shown
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.tick)
        doc.sceneReplaced.connect(self._on_scene)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _on_scene(self):
        if self.playing:  # fps may have changed: count again from here
            self._timer.setInterval(self._interval_ms())
            self._reanchor()

    def _interval_ms(self) -> int:
        # Twice per frame, so a frame is late by at most half a frame.
        return max(1, int(1000.0 / self.doc.scene.timeline.fps / 2))

    def _reanchor(self):
        self._anchor = (self.clock(), self.doc.frame)
        self._shown = self.doc.frame

    def play(self):
        if self.playing:
            return
        tl = self.doc.scene.timeline
        if tl.end <= tl.start:
            return  # a single frame: nothing to play
        if not tl.start <= self.doc.frame < tl.end:
            self.doc.set_frame(tl.start)
        self._reanchor()
        self._drawn.clear()
        self._timer.start(self._interval_ms())
        self.playingChanged.emit(True)

    def stop(self):
        if self.playing:
            self._timer.stop()
            self._anchor = None
            self.playingChanged.emit(False)
            self.rateChanged.emit(0.0)

    def toggle(self):
        self.stop() if self.playing else self.play()

    def frame_due(self, now: float) -> int | None:
        """The frame to show at clock time `now`; None: the end is reached (no loop)."""
        tl = self.doc.scene.timeline
        t0, f0 = self._anchor
        frame = f0 + math.floor((now - t0) * tl.fps + 1e-9)
        if frame <= tl.end:
            return frame
        if not self.loop:
            return None
        return tl.start + (frame - tl.start) % (tl.end - tl.start + 1)

    def tick(self):
        if self._anchor is None:
            self._reanchor()
        if self.doc.frame != self._shown:   # scrubbed or stepped while playing
            self._reanchor()
        now = self.clock()
        frame = self.frame_due(now)
        if frame is None:
            self.doc.set_frame(self.doc.scene.timeline.end)
            self.stop()
            return
        if frame != self.doc.frame:
            self._shown = frame
            self.doc.set_frame(frame)   # draws it (the slow part)
            self._count_drawn(now)

    def _count_drawn(self, now: float):
        self._drawn.append(now)
        while self._drawn and now - self._drawn[0] > RATE_WINDOW_S:
            self._drawn.popleft()
        if len(self._drawn) > 1:
            self.rateChanged.emit((len(self._drawn) - 1) / (self._drawn[-1] - self._drawn[0]))

    def real_rate(self) -> float:
        d = self._drawn
        return (len(d) - 1) / (d[-1] - d[0]) if len(d) > 1 and d[-1] > d[0] else 0.0
