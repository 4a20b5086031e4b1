"""The first-run body build happens off the GUI thread with a progress dialog."""
import time

import pytest

from posebooth.ui.body_warmup import BodyWarmup

pytestmark = pytest.mark.gui


def test_slow_build_keeps_the_event_loop_running(qtbot):
    ticks, done = [], []
    from PySide6.QtCore import QTimer
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    warm = BodyWarmup(done.append, build=lambda: time.sleep(2.0))
    qtbot.waitUntil(lambda: warm._dialog is not None and warm._dialog.isVisible(), timeout=3000)
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    timer.stop()
    assert done == [None]
    assert not warm._dialog.isVisible()
    assert len(ticks) > 50  # the GUI kept processing events during the build
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 0.2


def test_quick_build_shows_no_dialog(qtbot):
    done = []
    warm = BodyWarmup(done.append, build=lambda: None)
    qtbot.waitUntil(lambda: bool(done), timeout=2000)
    assert warm._dialog is None and done == [None]


def test_build_error_is_reported_not_raised(qtbot):
    done = []

    def broken():
        raise RuntimeError("cache unreadable")
    warm = BodyWarmup(done.append, build=broken)  # noqa: F841 (kept alive)
    qtbot.waitUntil(lambda: bool(done), timeout=2000)
    assert "cache unreadable" in done[0]
