"""The first-run body build happens off the GUI thread with a progress dialog."""
import time

import pytest

from posebooth.ui.body_warmup import warm_up_default_body

pytestmark = pytest.mark.gui


def test_slow_build_keeps_the_event_loop_running(qapp):
    ticks = []
    from PySide6.QtCore import QTimer
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    assert warm_up_default_body(build=lambda: time.sleep(1.0)) is None
    timer.stop()
    assert len(ticks) > 20  # the GUI kept processing events during the build
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 0.2


def test_build_error_is_reported_not_raised(qapp):
    def broken():
        raise RuntimeError("cache unreadable")
    msg = warm_up_default_body(build=broken)
    assert "cache unreadable" in msg
