"""Pose, shape, camera, prompt panels and the outliner: every edit goes
through the document, a slider drag is one undo step."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor
from scipy.spatial.transform import Rotation

from posebooth.assets.smpl_skeleton import JOINT_INDEX
from posebooth.scene.tracks import PoseState
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui


def _pose(seed):
    rng = np.random.default_rng(seed)
    return PoseState(rng.normal(0, 0.4, 3), rng.normal(0, 0.4, (23, 3)), rng.normal(0, 0.3, 3) + [0, 1, 0])


def _drag(qslider, values):
    """What a mouse drag does to a QSlider: press, move through values, release."""
    inner = qslider._slider  # superqt's labeled slider wraps a QDoubleSlider
    inner.setSliderDown(True)
    for v in values:
        inner.setSliderPosition(v)
    inner.setSliderDown(False)


def test_slider_drag_is_one_undo_step(make_window):
    win = make_window()
    doc = win.doc
    j = JOINT_INDEX["left_elbow"]
    doc.select(0, j)
    before = doc.scene.model_copy(deep=True)
    count = doc.undo_stack.count()
    _drag(win.pose_panel.sliders[1], [-10.0, -25.0, -40.0, -55.5])
    assert doc.undo_stack.count() == count + 1
    euler = Rotation.from_rotvec(doc.pose_of(0).rotvecs()[j]).as_euler("xyz", degrees=True)
    np.testing.assert_allclose(euler, [0.0, -55.5, 0.0], atol=1e-9)
    assert win.pose_panel.sliders[1].value() == pytest.approx(-55.5)
    win.action_map["undo"].trigger()
    assert doc.scene == before
    # a second drag is a second step
    _drag(win.pose_panel.sliders[0], [5.0, 12.0])
    _drag(win.pose_panel.sliders[2], [7.0])
    assert doc.undo_stack.count() == count + 2


def test_real_mouse_drag_on_slider_is_one_step(make_window, qtbot):
    win = make_window()
    win.doc.select(0, JOINT_INDEX["right_knee"])
    win.pose_dock.raise_()
    inner = win.pose_panel.sliders[0]._slider
    qtbot.waitUntil(inner.isVisible)
    count = win.doc.undo_stack.count()
    y = inner.height() // 2
    handle = QPoint(inner.width() // 2 + 3, y)  # 0 degrees sits in the middle: the press moves it a little
    qtbot.mousePress(inner, Qt.MouseButton.LeftButton, pos=handle)
    for dx in (5, 15, 30, 45):
        qtbot.mouseMove(inner, QPoint(handle.x() + dx, y))
    qtbot.mouseRelease(inner, Qt.MouseButton.LeftButton, pos=QPoint(handle.x() + 45, y))
    qtbot.wait(10)
    assert win.doc.undo_stack.count() == count + 1
    assert win.pose_panel.sliders[0].value() > 5
    # a click on the groove (page step, no handle drag) is one step too, and ends the drag
    qtbot.mouseClick(inner, Qt.MouseButton.LeftButton, pos=QPoint(5, y))
    qtbot.wait(10)
    assert win.doc.undo_stack.count() == count + 2 and not win.pose_panel._burst.dragging


def test_global_axes_round_trip(make_window):
    win = make_window()
    doc = win.doc
    doc.set_pose(0, _pose(4))
    doc.joint_limits = False   # the axes' round trip, not the wrist's range (tests/test_ui_hands_face.py)
    j = JOINT_INDEX["left_wrist"]
    doc.select(0, j)
    win.pose_panel.global_radio.setChecked(True)  # the panel's axes follow to the gizmo toggle
    assert win.pose_panel.space == "global" and win.action_map["gizmo_space"].isChecked()
    target = [20.0, -30.0, 45.0]
    for s, v in zip(win.pose_panel.sliders, target):
        s.setValue(v)
    from posebooth.edits.joint_rotation import joint_euler_deg
    np.testing.assert_allclose(joint_euler_deg(doc.pose_of(0), j, "global"), target, atol=1e-6)


def test_mirror_pose_twice_restores_exactly(make_window):
    win = make_window()
    doc = win.doc
    doc.set_pose(0, _pose(5))
    original = doc.pose_of(0)
    win.action_map["mirror_pose"].trigger()
    mirrored = doc.pose_of(0)
    assert not np.array_equal(mirrored.rotvecs(), original.rotvecs())
    np.testing.assert_array_equal(mirrored.transl, original.transl)  # flips in place
    win.action_map["mirror_pose"].trigger()
    restored = doc.pose_of(0)
    np.testing.assert_array_equal(restored.rotvecs(), original.rotvecs())
    np.testing.assert_array_equal(restored.transl, original.transl)


def test_reset_buttons_and_copy_sides(make_window):
    win = make_window()
    doc, panel = win.doc, win.pose_panel
    doc.set_pose(0, _pose(6))
    elbow = JOINT_INDEX["left_elbow"]
    doc.select(0, elbow)
    panel.reset_joint_btn.click()
    rv = doc.pose_of(0).rotvecs()
    assert np.all(rv[elbow] == 0) and np.any(rv[JOINT_INDEX["left_shoulder"]] != 0)
    panel.reset_limb_btn.click()
    rv = doc.pose_of(0).rotvecs()
    for name in ("left_collar", "left_shoulder", "left_wrist", "left_hand"):
        assert np.all(rv[JOINT_INDEX[name]] == 0)
    assert np.any(rv[JOINT_INDEX["right_shoulder"]] != 0)
    panel.copy_rl_btn.click()
    rv = doc.pose_of(0).rotvecs()
    np.testing.assert_array_equal(rv[JOINT_INDEX["left_shoulder"]],
                                  rv[JOINT_INDEX["right_shoulder"]] * [1, -1, -1])
    x = doc.pose_of(0).transl[0]
    panel.reset_pose_btn.click()
    assert np.all(doc.pose_of(0).rotvecs() == 0)
    assert doc.pose_of(0).transl[0] == x


def test_preset_apply_keeps_the_person_in_place(make_window):
    win = make_window()
    panel = win.pose_panel
    assert panel.preset_combo.count() >= 5
    win.doc.select(1, None)
    x = win.doc.pose_of(1).transl[0]
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("waving"))
    panel.apply_btn.click()
    from posebooth.assets.presets import get_preset
    np.testing.assert_allclose(win.doc.pose_of(1).body_pose, get_preset("waving").body_pose)
    assert win.doc.pose_of(1).transl[0] == pytest.approx(x + get_preset("waving").transl[0])


def test_position_edit_moves_the_person(make_window):
    win = make_window()
    win.doc.select(0, None)
    box = win.pose_panel.position.boxes[2]
    box.setValue(1.25)
    assert win.doc.pose_of(0).transl[2] == pytest.approx(1.25)


def test_outliner_selection_syncs_both_ways(make_window):
    win = make_window()
    tree, doc = win.outliner, win.doc
    item = tree._items[(1, JOINT_INDEX["head"])]
    tree.tree.setCurrentItem(item)
    assert (doc.selected_person, doc.selected_joint) == (1, JOINT_INDEX["head"])
    doc.select(0, JOINT_INDEX["left_knee"])
    assert tree.tree.currentItem() is tree._items[(0, JOINT_INDEX["left_knee"])]
    assert tree.tree.currentItem().text(0) == "Knee.L"
    # the joint hierarchy is SMPL's
    assert tree._items[(0, JOINT_INDEX["left_knee"])].parent() is tree._items[(0, JOINT_INDEX["left_hip"])]


def test_outliner_rename_and_person_actions(make_window):
    win = make_window()
    doc = win.doc
    top = win.outliner._items[(0, None)]
    top.setText(0, "Alice")  # what the inline editor does on commit
    assert doc.scene.people[0].name == "Alice"
    win.action_map["undo"].trigger()
    assert doc.scene.people[0].name == "Person 1"
    win.action_map["add_person"].trigger()
    assert len(doc.scene.people) == 3 and doc.selected_person == 2
    assert win.outliner.tree.topLevelItemCount() == 3
    win.action_map["duplicate_person"].trigger()
    assert len(doc.scene.people) == 4 and doc.scene.people[3].name.endswith("copy")
    win.action_map["delete_person"].trigger()
    win.action_map["delete_person"].trigger()
    assert len(doc.scene.people) == 2
    assert win.outliner.tree.topLevelItemCount() == 2


def test_delete_key_x_from_viewport(make_window, qtbot):
    win = make_window()
    win.doc.select(1, None)
    win.viewport.setFocus()
    qtbot.keyClick(win.viewport, Qt.Key.Key_X)
    assert len(win.doc.scene.people) == 1


def test_shape_slider_drag_is_one_step(make_window):
    win = make_window()
    win.shape_dock.raise_()
    win.doc.select(0, None)
    panel = win.shape_panel
    assert "scale" in panel._sliders  # the fake body's one shape parameter
    count = win.doc.undo_stack.count()
    _drag(panel._sliders["scale"], [0.6, 0.7, 0.8])
    assert win.doc.undo_stack.count() == count + 1
    assert win.doc.scene.people[0].body.shape == {"scale": pytest.approx(0.8)}
    panel.reset_btn.click()
    assert win.doc.scene.people[0].body.shape == {}


def test_camera_panel_edits_key_the_camera(make_window):
    win = make_window()
    doc, panel = win.doc, win.camera_panel
    doc.set_frame(5)
    panel.focal.setValue(85.0)   # the lens is a camera setting: no key (issue 14)
    assert [(k.frame, k.focal_mm) for k in doc.scene.camera.keys] == [(0, 85.0)]
    panel.position.edited.emit([0.5, 1.0, 4.0])   # moving the camera keys it
    keys = doc.scene.camera.keys
    assert [k.frame for k in keys] == [0, 5] and keys[1].focal_mm == 85.0
    panel.aspect.setCurrentIndex(panel.aspect.findText("16:9"))
    panel.aspect.activated.emit(panel.aspect.currentIndex())
    spec = doc.scene.camera
    assert spec.width / spec.height == pytest.approx(16 / 9, rel=0.02) and spec.width % 8 == 0
    panel.roll.setValue(10.0)
    assert doc.scene.camera.keys[1].roll == pytest.approx(np.radians(10.0))
    doc.set_frame(12)
    panel.key_btn.click()
    assert [k.frame for k in doc.scene.camera.keys] == [0, 5, 12]


def test_prompt_typing_is_one_undo_step_per_pause(make_window, qtbot):
    win = make_window()
    doc, panel = win.doc, win.prompt_panel
    panel.prompt.setFocus()
    panel.prompt.moveCursor(QTextCursor.MoveOperation.End)
    count = doc.undo_stack.count()
    qtbot.keyClicks(panel.prompt, " at dusk")
    assert doc.undo_stack.count() == count  # still typing
    qtbot.waitUntil(lambda: doc.undo_stack.count() == count + 1, timeout=3000)
    assert doc.scene.generation.prompt.endswith(" at dusk")
    assert not win.timeline.playback.playing  # Space typed a space, it did not press Play
    qtbot.keyClicks(panel.prompt, ", rain")
    win.action_map["undo"].trigger()  # flushes the pending typing first, then undoes it
    assert doc.scene.generation.prompt.endswith(" at dusk")
    assert panel.prompt.toPlainText().endswith(" at dusk")
    win.action_map["undo"].trigger()
    assert not doc.scene.generation.prompt.endswith(" at dusk")
