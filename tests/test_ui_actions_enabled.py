"""Menu actions that need a selection (a person, a joint, a key here) are
greyed out without one, and follow selection, scene, key and frame changes."""
import pytest
from PySide6.QtCore import Qt

from posebooth.assets.starter import starter_scene
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui

PERSON = ["mirror_pose", "copy_lr", "copy_rl", "reset_pose", "duplicate_person", "delete_person", "rename_person"]
JOINT = ["reset_joint", "reset_limb"]
ALWAYS = ["new", "open", "save", "add_person", "insert_key", "key_camera", "play", "undo_history"]


def enabled(win, names) -> dict:
    return {n: win.action_map[n].isEnabled() for n in names}


def test_person_selected_without_a_joint(make_window):
    win = make_window()
    win.doc.select(0, None)
    assert all(enabled(win, PERSON).values()), enabled(win, PERSON)
    assert not any(enabled(win, JOINT).values()), enabled(win, JOINT)
    assert all(enabled(win, ALWAYS).values())


def test_joint_selection_enables_the_joint_resets(make_window):
    win = make_window()
    win.doc.select(1, 18)
    assert all(enabled(win, PERSON + JOINT).values())
    win.doc.select(1, None)
    assert not any(enabled(win, JOINT).values())


def test_nothing_selected_greys_out_every_person_action(make_window, qtbot):
    win = make_window()
    win.doc.select(None, None)
    assert not any(enabled(win, PERSON + JOINT).values())
    assert win.action_map["import_motion"].isEnabled()   # imports into person 1
    # The greyed action is the one in the menu, and its shortcut does nothing.
    pose_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Pose")
    assert win.action_map["delete_person"] in pose_menu.actions()
    people = len(win.doc.scene.people)
    win.viewport.setFocus()
    qtbot.keyClick(win.viewport, Qt.Key.Key_X)
    assert len(win.doc.scene.people) == people


def test_deleting_everyone_then_undo(make_window):
    win = make_window()
    for _ in range(2):
        win.doc.select(0, None)
        win.action_map["delete_person"].trigger()
    assert win.doc.scene.people == []
    assert not any(enabled(win, PERSON + JOINT + ["import_motion"]).values())
    assert win.action_map["add_person"].isEnabled()
    win.action_map["undo"].trigger()
    assert len(win.doc.scene.people) == 1
    win.doc.select(0, None)
    assert all(enabled(win, PERSON + ["import_motion"]).values())


def test_a_new_scene_updates_the_actions(make_window):
    win = make_window()
    win.doc.select(None, None)
    assert not win.action_map["mirror_pose"].isEnabled()
    win.files.new()   # the new scene selects its first person
    assert win.doc.selected_person == 0
    assert win.action_map["mirror_pose"].isEnabled()


def test_key_actions_follow_the_keys_and_the_frame(make_window):
    # One person keyed at frames 0 and 10, the camera at frame 0 only.
    scene = starter_scene(people=1, frames=20)
    win = make_window(scene)
    doc, acts = win.doc, win.action_map
    doc.select(0, None)
    doc.set_frame(10)
    acts["insert_key"].trigger()
    assert sorted(k.frame for k in doc.scene.people[0].keys) == [0, 10]

    doc.set_frame(5)
    assert enabled(win, ["delete_key", "prev_key", "next_key"]) == {
        "delete_key": False, "prev_key": True, "next_key": True}
    doc.set_frame(10)
    assert enabled(win, ["delete_key", "prev_key", "next_key"]) == {
        "delete_key": True, "prev_key": True, "next_key": False}
    doc.set_frame(0)
    assert enabled(win, ["delete_key", "prev_key", "next_key"]) == {
        "delete_key": True, "prev_key": False, "next_key": True}
    # With nobody selected, Delete Key means the camera's key: there is one at 0, none at 10.
    doc.select(None, None)
    assert acts["delete_key"].isEnabled()
    doc.set_frame(10)
    assert not acts["delete_key"].isEnabled()
    # Deleting the person's key at 10 leaves no key after frame 5.
    doc.select(0, None)
    acts["delete_key"].trigger()
    assert [k.frame for k in doc.scene.people[0].keys] == [0]
    doc.set_frame(5)
    assert not acts["next_key"].isEnabled() and acts["prev_key"].isEnabled()
