"""The first-run body build happens off the GUI thread, with a progress dialog
only when the anny cache is cold.

No wall-clock assertions: a "build" here blocks on an Event that the test
releases only after the GUI thread has demonstrably processed timer events
while the build was running.
"""
import threading

import pytest
from PySide6.QtCore import QTimer

from posebooth.ui import body_warmup
from posebooth.ui.body_warmup import BodyWarmup, anny_cache_is_warm

pytestmark = pytest.mark.gui

TICKS = 20  # GUI timer events that must run while the build blocks


class BlockingBuild:
    """A build that lasts until released; counts GUI ticks seen while it runs."""

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()
        self.ticks_during = 0
        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.timer.start(5)

    def _tick(self):
        if self.started.is_set() and not self.release.is_set():
            self.ticks_during += 1

    def __call__(self):
        self.started.set()
        if not self.release.wait(30):
            raise RuntimeError("the test never released the build")


def test_slow_build_keeps_the_event_loop_running(qtbot):
    done, build = [], BlockingBuild()
    warm = BodyWarmup(done.append, build=build, cold=True)
    qtbot.waitUntil(lambda: warm._dialog is not None and warm._dialog.isVisible(), timeout=10000)
    qtbot.waitUntil(lambda: build.ticks_during >= TICKS, timeout=20000)  # the GUI ran during the build
    assert done == [] and not warm.done
    build.release.set()
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    build.timer.stop()
    assert done == [None] and warm.done
    assert not warm._dialog.isVisible()


def test_warm_cache_shows_no_dialog_even_while_building(qtbot):
    done, build = [], BlockingBuild()
    warm = BodyWarmup(done.append, build=build, cold=False)
    qtbot.waitUntil(lambda: build.ticks_during >= TICKS, timeout=20000)
    assert warm._dialog is None
    build.release.set()
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    build.timer.stop()
    assert warm._dialog is None and done == [None]


@pytest.mark.parametrize("warm_file, dialog", [(False, True), (True, False)])
def test_default_build_asks_the_cache_whether_it_is_cold(qtbot, tmp_path, monkeypatch, warm_file, dialog):
    monkeypatch.setenv("POSEBOOTH_CACHE_DIR", str(tmp_path))
    if warm_file:
        (tmp_path / "anny" / "v14").mkdir(parents=True)
        (tmp_path / "anny" / "v14" / "build_compact_model_data_0123abcd.safetensors").write_bytes(b"x")
    assert anny_cache_is_warm() is warm_file
    done, build = [], BlockingBuild()
    monkeypatch.setattr(body_warmup, "_build_default_body", build)  # the real anny build is not run here
    warm = BodyWarmup(done.append)
    qtbot.waitUntil(lambda: build.ticks_during >= TICKS, timeout=20000)
    assert (warm._dialog is not None and warm._dialog.isVisible()) is dialog
    build.release.set()
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    build.timer.stop()


def test_cache_with_only_build_leftovers_is_cold(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBOOTH_CACHE_DIR", str(tmp_path))
    (tmp_path / "anny").mkdir()
    (tmp_path / "anny" / "build_something_else.safetensors").write_bytes(b"x")
    assert not anny_cache_is_warm()


def test_build_error_is_reported_not_raised(qtbot):
    done = []

    def broken():
        raise RuntimeError("cache unreadable")
    warm = BodyWarmup(done.append, build=broken, cold=False)  # noqa: F841 (kept alive)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    assert "cache unreadable" in done[0]
