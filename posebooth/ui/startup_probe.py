"""`POSEBOOTH_STARTUP_PROBE=1`: print when each start-up stage is reached, then quit.

benchmarks/bench_startup.py times the warm start from these lines, and the
start-up tests open the real app in a subprocess that exits by itself. Each
line is `posebooth-startup STAGE SECONDS` on stderr, SECONDS being wall-clock
time since the epoch so that the launching process can subtract its own
start time. Stages, in order: window_shown (the main window is exposed),
body_drawn (the viewport painted the posed people), responsive (the event
loop ran a queued call after that), then the app quits with status 0, once
the body model is built too. ui.app also marks body_ready (the body model is
built: before window_shown, or after it on a start drawn from a kept first
frame) and prints `posebooth-startup-first-frame kept|posed`; with body_drawn
comes `posebooth-startup-loaded-when-drawn` and which of HEAVY_MODULES the
process had imported by then (or -). With
`responsive` comes `posebooth-startup-cpu SECONDS`: the CPU time the process
(all its threads) spent getting there, which varies less with the machine's
load than the wall-clock stages do.
"""
from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

ENV = "POSEBOOTH_STARTUP_PROBE"
PREFIX = "posebooth-startup"
HEAVY_MODULES = ("torch", "anny", "scipy.spatial", "huggingface_hub", "diffusers", "transformers")


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def mark(stage: str) -> None:
    if enabled():
        print(f"{PREFIX} {stage} {time.time():.4f}", file=sys.stderr, flush=True)


class StartupProbe(QObject):
    """Watches a freshly shown MainWindow; quits the app once it is usable."""

    def __init__(self, window):
        super().__init__(window)
        self.window, self._stages = window, set()
        handle = window.windowHandle()
        if handle is not None:
            handle.installEventFilter(self)
        vp = window.viewport
        if hasattr(vp, "frameSwapped"):   # the GL viewport: a frame reached the screen
            vp.frameSwapped.connect(self._drawn)
        else:
            vp.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Expose and obj is self.window.windowHandle() and obj.isExposed():
            self._once("window_shown")
        elif kind == QEvent.Type.Paint and obj is self.window.viewport:
            QTimer.singleShot(0, self._drawn)   # after the paint event has been handled
        return False

    def _drawn(self) -> None:
        handle = self.window.windowHandle()
        if "body_drawn" in self._stages or handle is None or not handle.isExposed():
            return
        self._once("window_shown")
        if not self._posed():
            return  # painted before the people were posed: wait for the next frame
        self._once("body_drawn")   # once: the test at the top returns from then on
        loaded = sorted(m for m in HEAVY_MODULES if m in sys.modules)   # on a kept frame: none of them
        print(f"{PREFIX}-loaded-when-drawn {','.join(loaded) or '-'}", file=sys.stderr, flush=True)
        QTimer.singleShot(0, self._responsive)

    def _posed(self) -> bool:
        """The people are posed, or posing failed (the viewport says so instead of drawing them)."""
        doc = self.window.doc
        try:
            return not doc.scene.people or bool(doc.posed())
        except Exception:  # noqa: BLE001
            return True

    def _responsive(self) -> None:
        self._once("responsive")
        print(f"{PREFIX}-cpu {time.process_time():.3f}", file=sys.stderr, flush=True)
        doc = self.window.doc
        if getattr(doc, "body_pending", False):   # drawn from a kept frame: quit once the body is in too
            doc.bodyReady.connect(self._quit)
        else:
            self._quit()

    def _quit(self) -> None:
        QApplication.instance().exit(0)

    def _once(self, stage: str) -> None:
        if stage not in self._stages:
            self._stages.add(stage)
            mark(stage)
