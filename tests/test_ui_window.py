"""The main window: docks, menus, shortcuts, undo/redo through the Edit menu,
theme and layout persistence."""
import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget

from posebooth.scene.tracks import PoseState
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui

EXPECTED_DOCKS = {"outlinerDock", "poseDock", "handDock", "faceDock", "shapeDock", "cameraDock", "promptDock",
                  "generationDock", "timelineDock"}


def _pose(seed):
    rng = np.random.default_rng(seed)
    return PoseState(rng.normal(0, 0.4, 3), rng.normal(0, 0.4, (23, 3)), rng.normal(0, 0.3, 3) + [0, 1, 0])


def test_window_opens_with_all_docks(make_window):
    win = make_window()
    docks = {d.objectName(): d for d in win.findChildren(QDockWidget)}
    assert set(docks) == EXPECTED_DOCKS
    assert all(d.isVisible() or win.tabifiedDockWidgets(d) for d in docks.values())
    assert docks["generationDock"].windowTitle() == "Generation"
    assert docks["generationDock"].widget().objectName() == "generationPanel"
    assert win.windowTitle() == "Untitled — PoseBooth"
    menus = [a.text().replace("&", "") for a in win.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Pose", "Camera", "Timeline", "Props", "Help"]
    assert win.outliner.tree.topLevelItemCount() == 2
    assert win.centralWidget() is win.viewport


def test_shortcuts_match_the_brief_and_the_dialog_lists_them(make_window):
    from posebooth.ui.shortcuts_dialog import ShortcutsDialog, all_rows, shortcut_rows
    win = make_window()
    acts = win.action_map

    def keys(name):
        return [k.toString() for k in acts[name].shortcuts()]
    assert keys("new") == ["Ctrl+N"] and keys("open") == ["Ctrl+O"] and keys("save") == ["Ctrl+S"]
    assert keys("save_as") == ["Ctrl+Shift+S"] and keys("undo") == ["Ctrl+Z"]
    assert keys("redo") == ["Ctrl+Shift+Z", "Ctrl+Y"]
    assert keys("mirror_pose") == ["Ctrl+M"] and keys("reset_joint") == ["Alt+R"]
    assert keys("play") == ["Space"] and keys("next_frame") == ["Right"] and keys("prev_frame") == ["Left"]
    assert keys("insert_key") == ["I"] and keys("delete_key") == ["Alt+I"]
    assert keys("view_front") == ["1"] and keys("view_right") == ["3"] and keys("view_top") == ["7"]
    assert keys("view_camera") == ["0"] and keys("frame_selected") == ["F"]
    assert keys("add_person") == ["Shift+A"] and keys("delete_person") == ["X", "Del"]
    all_keys = [k for a in acts.values() for k in a.shortcuts()]
    assert len(all_keys) == len(set(k.toString() for k in all_keys)), "a shortcut is bound twice"
    rows = shortcut_rows(win.menuBar())
    listed = {text: shortcut for _, text, shortcut in rows}
    assert listed["Mirror Pose"] == QKeySequence("Ctrl+M").toString(QKeySequence.SequenceFormat.NativeText)
    assert ("File", "Import Motion") in {(m, t) for m, t, _ in rows}
    dlg = ShortcutsDialog(win.menuBar(), win)
    assert dlg.tree.topLevelItemCount() == len({m for m, _, _ in all_rows(win.menuBar())})   # + the gestures


def test_undo_redo_through_edit_menu_restore_exact_poses(make_window):
    win = make_window()
    doc = win.doc
    start = doc.pose_of(0)
    a, b = _pose(1), _pose(2)
    doc.set_pose(0, a)
    doc.set_pose(0, b)
    undo, redo = win.action_map["undo"], win.action_map["redo"]
    assert undo.isEnabled() and undo.text() == "&Undo Pose"
    undo.trigger()
    np.testing.assert_array_equal(doc.pose_of(0).rotvecs(), a.rotvecs())
    np.testing.assert_array_equal(doc.pose_of(0).transl, a.transl)
    undo.trigger()
    np.testing.assert_array_equal(doc.pose_of(0).rotvecs(), start.rotvecs())
    assert not undo.isEnabled()
    redo.trigger()
    redo.trigger()
    np.testing.assert_array_equal(doc.pose_of(0).rotvecs(), b.rotvecs())
    assert win.windowTitle() == "Untitled* — PoseBooth"


def test_edit_shortcut_ctrl_z_undoes(make_window, qtbot):
    win = make_window()
    before = win.doc.scene.model_copy(deep=True)
    win.doc.set_pose(0, _pose(3))
    win.viewport.setFocus()
    qtbot.keyClick(win.viewport, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.doc.scene == before


def test_dark_theme_when_asked(qapp):
    from posebooth.ui.theme import apply_theme, is_dark
    old_palette, old_style = qapp.palette(), qapp.style().name()
    try:
        assert apply_theme(qapp, "dark") is True and is_dark()
        assert qapp.palette().window().color().lightness() < 80
        assert qapp.palette().text().color().lightness() > 180
        assert apply_theme(qapp, "light") is False
        assert qapp.palette().window().color().lightness() > 150
    finally:
        apply_theme(qapp, "dark")


def test_layout_and_preferences_persist(make_window, ui_env):
    from posebooth.ui.settings import Preferences, app_settings
    win = make_window()
    win.shape_dock.raise_()
    win.prompt_dock.hide()
    prefs = Preferences(theme="dark", autosave_seconds=15, auto_key=False)
    win.apply_preferences(Preferences(theme="light"))  # live theme switch re-draws icons and the timeline
    assert QApplication.palette().window().color().lightness() > 150
    win.apply_preferences(prefs)
    assert QApplication.palette().window().color().lightness() < 80
    win.close()
    assert (ui_env / "settings").glob("**/*.ini")
    assert Preferences.load(app_settings()) == prefs
    win2 = make_window()
    assert not win2.prompt_dock.isVisible()
    assert win2.doc.auto_key is False and not win2.action_map["auto_key"].isChecked()
    assert win2.autosaver._timer.interval() == 15_000
    win2.reset_layout()
    assert win2.prompt_dock.isVisible()


def test_settings_never_touch_the_user_file(ui_env):
    from posebooth.ui.settings import app_settings
    assert str(ui_env) in app_settings().fileName()
    assert QSettings.Format.IniFormat == app_settings().format()


def test_status_bar_follows_frame_and_selection(make_window):
    win = make_window()
    win.doc.select(1, 18)
    win.doc.set_frame(7)
    assert "Person 2 › Elbow.L" == win.selection_label.text()
    assert win.frame_label.text().startswith("Frame 7")


def test_real_viewport_is_hosted(make_window, qtbot):
    pytest.importorskip("posebooth.ui.viewport.widget")
    win = make_window(real_viewport=True)
    from posebooth.ui.viewport.widget import ViewportWidget
    assert isinstance(win.viewport, ViewportWidget)
    assert win.action_map["view_front"].isEnabled() and win.action_map["ik"].isEnabled()
    win.action_map["gizmo_space"].trigger()
    assert win.viewport.gizmo_space == "global" and win.pose_panel.space == "global"
    win.action_map["view_camera"].trigger()
    assert win.viewport.look_through
    win.action_map["overlay_depth"].trigger()
    assert win.viewport.overlay == "depth"
    qtbot.wait(100)  # paint it
    win.action_map["overlay_shaded"].trigger()
    assert win.viewport.overlay is None
    win.action_map["ik"].trigger()
    assert win.viewport.ik_enabled
    QApplication.processEvents()
