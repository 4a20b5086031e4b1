"""Shared set-up for the GUI tests (tests/test_ui_*.py).

Every window gets: QSettings in tmp_path (never the user's), an autosave
folder in tmp_path, the capsule fake body (fast, no anny build), the 2D
viewport stand-in unless a test asks for the real GL one, and the blocking
dialogs replaced by recorders (`calls`) with scripted answers (`answers`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import QSettings

from fake_body import fake_body_for
from posebooth.assets.starter import starter_scene


@dataclass
class DialogScript:
    answers: dict = field(default_factory=lambda: {"ask_save_changes": "discard", "ask_recover": False,
                                                   "get_open_path": None, "get_save_path": None,
                                                   "ask_motion_mode": "replace"})
    calls: list = field(default_factory=list)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


@pytest.fixture
def dialogs(monkeypatch) -> DialogScript:
    from posebooth.ui import dialogs as mod
    script = DialogScript()

    def recorder(name):
        def fn(parent, *args):
            script.calls.append((name, *args))
            answer = script.answers.get(name)
            return answer(*args) if callable(answer) else answer
        return fn
    for name in ("show_error", "show_info", "ask_save_changes", "ask_recover", "get_open_path", "get_save_path",
                 "ask_motion_mode"):
        monkeypatch.setattr(mod, name, recorder(name))
    return script


@pytest.fixture
def ui_env(tmp_path, monkeypatch, qapp):
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    monkeypatch.setenv("POSEBOOTH_AUTOSAVE_DIR", str(tmp_path / "autosave"))
    return tmp_path


def placeholder_viewport(doc, parent):
    from posebooth.ui.viewport.host import ViewportPlaceholder
    return ViewportPlaceholder(doc, "test", parent)


@pytest.fixture
def make_window(ui_env, dialogs, qtbot):
    """make_window(scene=None, real_viewport=False, body_for=fake) -> shown MainWindow."""
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.main_window import MainWindow
    made = []

    def make(scene=None, real_viewport=False, body_for=fake_body_for, show=True):
        doc = SceneDocument(scene or starter_scene(people=2, frames=20), body_for=body_for)
        win = MainWindow(doc, viewport_factory=None if real_viewport else placeholder_viewport)
        qtbot.addWidget(win)
        made.append(win)
        if show:
            with qtbot.waitExposed(win):
                win.show()
            # Window shortcuts fire only in the active window. Without a window
            # manager the X server may drop one focus request: ask until it sticks.
            qtbot.waitUntil(lambda: win.isActiveWindow() or bool(win.activateWindow()), timeout=5000)
        return win
    yield make
    dialogs.answers["ask_save_changes"] = "discard"
    for win in made:
        win.timeline.playback.stop()
        win.close()
