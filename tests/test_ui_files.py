"""Files: new/open/save, bad files, the unsaved-changes prompt, recent files,
autosave and crash recovery, motion import."""
import json

import numpy as np
import pytest

from posebooth.scene.io import load_scene, save_scene
from posebooth.assets.starter import starter_scene
from posebooth.scene.tracks import PoseState
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui


def _pose(seed):
    rng = np.random.default_rng(seed)
    return PoseState(rng.normal(0, 0.4, 3), rng.normal(0, 0.4, (23, 3)), rng.normal(0, 0.3, 3) + [0, 1, 0])


def test_save_reopen_compare(make_window, dialogs, tmp_path):
    win = make_window()
    win.doc.set_pose(0, _pose(1))
    win.doc.set_frame(4)
    win.doc.set_pose(1, _pose(2))
    path = tmp_path / "pose"
    dialogs.answers["get_save_path"] = str(path)
    win.action_map["save"].trigger()  # untitled: Save asks for a name
    saved = tmp_path / "pose.json"
    assert saved.is_file() and win.doc.path == saved
    assert win.windowTitle() == "pose.json — PoseBooth" and not win.doc.is_modified()
    scene = win.doc.scene.model_copy(deep=True)
    win.action_map["new"].trigger()
    assert win.doc.path is None and win.doc.scene != scene
    dialogs.answers["get_open_path"] = str(saved)
    win.action_map["open"].trigger()
    assert win.doc.scene == scene and load_scene(saved) == scene
    win.doc.set_pose(0, _pose(3))
    assert win.windowTitle() == "pose.json* — PoseBooth"
    win.action_map["save"].trigger()
    assert load_scene(saved) == win.doc.scene


def test_bad_file_shows_error_and_keeps_the_scene(make_window, dialogs, tmp_path):
    win = make_window()
    win.doc.set_pose(0, _pose(4))
    before, count = win.doc.scene.model_copy(deep=True), win.doc.undo_stack.count()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "posebooth-scene", "version": 1, "people": [{"name": 3}]')
    dialogs.answers["ask_save_changes"] = "discard"
    assert win.files.open(str(bad)) is False
    errors = [c for c in dialogs.calls if c[0] == "show_error"]
    assert len(errors) == 1 and "bad.json" in errors[0][2] and "truncated" in errors[0][2]
    assert win.doc.scene == before and win.doc.undo_stack.count() == count and win.doc.path is None
    assert str(bad) not in win.files.recent.paths()


def test_unsaved_changes_prompt_on_close(make_window, dialogs, tmp_path):
    win = make_window()
    win.doc.set_pose(0, _pose(5))
    dialogs.answers["ask_save_changes"] = "cancel"
    assert win.close() is False and win.isVisible()
    assert dialogs.names().count("ask_save_changes") == 1
    dialogs.answers["ask_save_changes"] = "save"
    dialogs.answers["get_save_path"] = str(tmp_path / "kept.json")
    assert win.close() is True
    assert load_scene(tmp_path / "kept.json") == win.doc.scene


def test_unsaved_prompt_on_new_and_open(make_window, dialogs):
    win = make_window()
    win.doc.set_pose(0, _pose(6))
    scene = win.doc.scene.model_copy(deep=True)
    dialogs.answers["ask_save_changes"] = "cancel"
    assert win.files.new() is False and win.doc.scene == scene
    assert win.files.open() is False and "get_open_path" not in dialogs.names()
    dialogs.answers["ask_save_changes"] = "discard"
    assert win.files.new() is True and not win.doc.is_modified()
    n = dialogs.names().count("ask_save_changes")
    win.files.new()  # clean: no question
    assert dialogs.names().count("ask_save_changes") == n


def test_recent_files(make_window, dialogs, tmp_path):
    win = make_window()
    paths = []
    for i in range(12):
        p = tmp_path / f"s{i}.json"
        save_scene(starter_scene(people=1 + i % 3), p)
        paths.append(p)
        assert win.files.open(str(p))
    recent = win.files.recent.paths()
    assert len(recent) == 10 and recent[0] == str(paths[-1].resolve())
    assert str(paths[0].resolve()) not in recent
    menu_items = [a for a in win.recent_menu.actions() if a.text() and not a.isSeparator()]
    assert menu_items[0].text().endswith("s11.json")
    paths[10].unlink()
    missing = str(paths[10].resolve())
    [a for a in win.recent_menu.actions() if a.toolTip() == missing][0].trigger()
    assert missing not in win.files.recent.paths()
    assert any(c[0] == "show_error" and "no longer exists" in c[2] for c in dialogs.calls)
    assert win.doc.path == paths[11]  # the current scene stayed
    win.close()
    win2 = make_window()  # remembered across windows (QSettings in tmp_path)
    assert win2.files.recent.paths()[0] == str(paths[-1].resolve())


def test_autosave_and_recovery(make_window, dialogs, tmp_path):
    original = tmp_path / "work.json"
    save_scene(starter_scene(people=2), original)
    win = make_window()
    win.files.open(str(original))
    win.autosaver.set_interval(0.05)
    assert win.autosaver.save_now() is None  # nothing to save while clean
    win.doc.set_pose(1, _pose(7))
    from PySide6.QtTest import QTest
    for _ in range(100):
        if win.autosaver.scene_path.is_file():
            break
        QTest.qWait(20)
    assert win.autosaver.scene_path.is_file()
    info = json.loads(win.autosaver.info_path.read_text())
    assert info["original_path"] == str(original)
    assert load_scene(win.autosaver.scene_path) == win.doc.scene
    edited = win.doc.scene.model_copy(deep=True)
    win.autosaver.abandon()  # as if the process died: the files stay, the lock goes

    asked = []
    dialogs.answers["ask_recover"] = lambda text: asked.append(text) or True
    win2 = make_window()
    assert win2.offer_recovery() is True
    assert asked and "work.json" in asked[0]
    assert win2.doc.scene == edited
    assert win2.doc.is_modified() and win2.doc.path == original
    assert win2.windowTitle() == "work.json* — PoseBooth"
    assert not win.autosaver.scene_path.exists()  # the orphan is gone, win2 has its own
    assert win2.autosaver.scene_path.is_file()
    win2.doc.undo_stack.setClean()  # a save (or undo to the saved state) drops the autosave
    assert not win2.autosaver.scene_path.exists()


def test_declined_recovery_is_discarded_and_clean_close_leaves_nothing(make_window, dialogs, ui_env):
    win = make_window()
    win.doc.set_pose(0, _pose(8))
    assert win.autosaver.save_now() is not None
    win.autosaver.abandon()
    win2 = make_window()
    dialogs.answers["ask_recover"] = False
    assert win2.offer_recovery() is False
    assert not list((ui_env / "autosave").glob("*.json"))
    win2.doc.set_pose(0, _pose(9))
    win2.autosaver.save_now()
    dialogs.answers["ask_save_changes"] = "discard"
    assert win2.close()
    assert not list((ui_env / "autosave").glob("*"))
    win3 = make_window()
    n = dialogs.names().count("ask_recover")
    assert win3.offer_recovery() is False and dialogs.names().count("ask_recover") == n


def test_running_session_autosave_is_not_offered(make_window, dialogs):
    win = make_window()
    win.doc.set_pose(0, _pose(10))
    win.autosaver.save_now()
    win2 = make_window()  # another window of a live session
    assert win2.offer_recovery() is False and "ask_recover" not in dialogs.names()
    assert win.autosaver.scene_path.is_file()


def _write_amass(path, n=40, fps=60.0, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, poses=rng.normal(0, 0.3, (n, 72)), trans=rng.normal(0, 0.2, (n, 3)),
             mocap_framerate=np.array(fps))
    return path


def test_import_motion_from_the_file_menu(make_window, dialogs, tmp_path):
    win = make_window()
    doc = win.doc
    doc.edit_scene(lambda s: setattr(s.timeline, "fps", 30.0), "fps")
    doc.select(1, None)
    before = doc.scene.model_copy(deep=True)
    dialogs.answers["get_open_path"] = str(_write_amass(tmp_path / "walk.npz"))
    win.action_map["import_motion"].trigger()
    assert "show_error" not in dialogs.names()
    keys = doc.scene.people[1].keys
    assert len(keys) == 20  # 40 frames at 60 fps -> 20 at 30 fps
    assert doc.scene.timeline.end >= 19
    assert doc.scene.people[0] == before.people[0]
    assert win.timeline.view.key_at(19, 1) == (1, 19)
    win.action_map["undo"].trigger()
    assert doc.scene == before


def test_import_bad_motion_shows_error(make_window, dialogs, tmp_path):
    win = make_window()
    before = win.doc.scene.model_copy(deep=True)
    bad = tmp_path / "bad.npz"
    np.savez(bad, trans=np.zeros((3, 3)))
    dialogs.answers["get_open_path"] = str(bad)
    win.action_map["import_motion"].trigger()
    errors = [c for c in dialogs.calls if c[0] == "show_error"]
    assert errors and "poses" in errors[0][2]
    assert win.doc.scene == before


RUN_APP_DRIVER = """
import json, sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[2])
from posebooth.ui import app as app_mod, dialogs
errors = []
dialogs.show_error = lambda parent, title, text: errors.append(text)
dialogs.ask_recover = lambda parent, text: False
seen = {}
def close_soon(tries=[0]):
    # The window opens once the body model is ready: poll for it (at most ~2 min).
    tries[0] += 1
    for w in QApplication.topLevelWidgets():
        # The error is shown just after the window (a zero-delay timer): wait
        # for it too, so this poll cannot slip in between the two.
        if w.objectName() == "mainWindow" and w.isVisible() and (errors or tries[0] > 600):
            seen.update(title=w.windowTitle(), people=len(w.doc.scene.people), docks=len(w.findChildren(
                __import__("PySide6.QtWidgets", fromlist=["x"]).QDockWidget)))
            w.close()
            QApplication.instance().quit()
            return
    if tries[0] > 600:
        QApplication.instance().quit()
        return
    QTimer.singleShot(200, close_soon)
app_mod.make_app()  # the timer below needs the application run_app will reuse
QTimer.singleShot(1500, close_soon)
rc = app_mod.run_app(sys.argv[1])
print(json.dumps({"rc": rc, "errors": errors, **seen}))
"""


def test_run_app_with_a_bad_scene_starts_with_a_new_one(ui_env, tmp_path):
    """The real entry point, in its own process (a finished app.exec() leaves
    X focus and quit state behind that would leak into later tests)."""
    import os
    import subprocess
    import sys
    bad = tmp_path / "broken.json"
    bad.write_text("not json")
    r = subprocess.run([sys.executable, "-c", RUN_APP_DRIVER, str(bad), str(ui_env / "settings")],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "xcb"})
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["rc"] == 0 and out["title"] == "Untitled — PoseBooth" and out["people"] == 1
    assert out["docks"] == 9   # with the Hands and Face docks
    assert len(out["errors"]) == 1 and "broken.json" in out["errors"][0]
