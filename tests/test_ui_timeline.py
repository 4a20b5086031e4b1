"""Timeline: keys, interpolation, scrubbing, playback."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from scipy.spatial.transform import Rotation, Slerp

from posebooth.scene.tracks import PoseState
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui


def _pose(seed):
    rng = np.random.default_rng(seed)
    return PoseState(rng.normal(0, 0.5, 3), rng.normal(0, 0.5, (23, 3)), rng.normal(0, 0.3, 3) + [0, 1, 0])


def test_keyframe_pair_interpolates_by_slerp(make_window):
    win = make_window()
    doc = win.doc
    doc.auto_key = False  # keys come from I only
    a, b = _pose(1), _pose(2)
    doc.select(0, None)
    doc.set_frame(0)
    doc.set_pose(0, a)
    win.action_map["insert_key"].trigger()
    doc.set_frame(10)
    win.action_map["insert_key"].trigger()   # holds a at 10 ...
    doc.set_pose(0, b)                      # ... then edits that key
    assert [k.frame for k in doc.scene.people[0].keys] == [0, 10]
    win.timeline.view.frameRequested.emit(5)  # scrub
    assert doc.frame == 5
    got = doc.pose_of(0)
    ra, rb = Rotation.from_rotvec(a.rotvecs()), Rotation.from_rotvec(b.rotvecs())
    ref = np.array([Slerp([0.0, 1.0], Rotation.concatenate([ra[i], rb[i]]))(0.5).as_matrix()
                    for i in range(24)])
    np.testing.assert_allclose(Rotation.from_rotvec(got.rotvecs()).as_matrix(), ref, atol=1e-9)
    np.testing.assert_allclose(got.transl, (a.transl + b.transl) / 2, atol=1e-12)
    # the pose panel shows the interpolated pose
    doc.select(0, 5)
    from posebooth.edits.joint_rotation import joint_euler_deg
    np.testing.assert_allclose([s.value() for s in win.pose_panel.sliders], joint_euler_deg(got, 5), atol=0.06)


def test_mouse_scrub_on_the_timeline_sets_the_frame(make_window, qtbot):
    win = make_window()
    view = win.timeline.view
    win.timeline_dock.raise_()
    qtbot.waitUntil(view.isVisible)
    start = view.frame_to_widget(3, 0.5)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    assert win.doc.frame == 3
    for f in (5, 8, 12):
        qtbot.wait(40)  # pyqtgraph drops mouse moves closer than ~1/60 s
        qtbot.mouseMove(view.viewport(), view.frame_to_widget(f, 0.5))
        assert win.doc.frame == f
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=view.frame_to_widget(12, 0.5))
    assert win.doc.frame == 12
    assert win.timeline.frame_box.value() == 12
    assert view.cursor.value() == 12


def test_set_and_delete_key_with_shortcuts(make_window, qtbot):
    win = make_window()
    doc = win.doc
    doc.select(1, 3)
    doc.set_frame(6)
    win.viewport.setFocus()
    qtbot.keyClick(win.viewport, Qt.Key.Key_I)
    assert 6 in [k.frame for k in doc.scene.people[1].keys]
    qtbot.keyClick(win.viewport, Qt.Key.Key_I, Qt.KeyboardModifier.AltModifier)
    assert [k.frame for k in doc.scene.people[1].keys] == [0]
    qtbot.keyClick(win.viewport, Qt.Key.Key_Right)
    qtbot.keyClick(win.viewport, Qt.Key.Key_Right)
    assert doc.frame == 8
    qtbot.keyClick(win.viewport, Qt.Key.Key_Left)
    assert doc.frame == 7


def test_camera_key_when_nothing_selected_and_key_jumps(make_window):
    win = make_window()
    doc = win.doc
    doc.select(None, None)
    doc.set_frame(9)
    win.action_map["insert_key"].trigger()
    assert [k.frame for k in doc.scene.camera.keys] == [0, 9]
    doc.select(0, None)
    doc.set_frame(4)
    win.action_map["insert_key"].trigger()
    doc.set_frame(0)
    win.action_map["next_key"].trigger()
    assert doc.frame == 4
    win.action_map["next_key"].trigger()
    assert doc.frame == 9
    win.action_map["prev_key"].trigger()
    assert doc.frame == 4
    win.action_map["jump_end"].trigger()
    assert doc.frame == doc.scene.timeline.end


def test_key_context_menu_sets_interpolation_and_deletes(make_window):
    win = make_window()
    doc = win.doc
    doc.select(0, None)
    doc.set_frame(10)
    win.action_map["insert_key"].trigger()
    doc.set_pose(0, _pose(3))  # key 10 differs from key 0
    view = win.timeline.view
    assert view.key_at(10, 0) == (0, 10)
    assert view.key_at(10.0, 0.05) == (0, 10) and view.key_at(14, 0) is None
    menu = win.timeline.key_menu(0, 0)
    menu.findChild(type(win.action_map["undo"]), "interp_step").trigger()
    assert doc.scene.people[0].keys[0].interp == "step"
    doc.set_frame(5)  # a step key holds its pose until the next key
    np.testing.assert_array_equal(doc.pose_of(0).rotvecs(), PoseState.from_key(doc.scene.people[0].keys[0]).rotvecs())
    cam_menu = win.timeline.key_menu("camera", 0)
    cam_menu.findChild(type(win.action_map["undo"]), "interp_smooth").trigger()
    assert doc.scene.camera.keys[0].interp == "smooth"
    win.timeline.key_menu(0, 10).findChild(type(win.action_map["undo"]), "deleteKey").trigger()
    assert [k.frame for k in doc.scene.people[0].keys] == [0]


def test_right_click_on_a_key_requests_its_menu(make_window, qtbot):
    win = make_window()
    view = win.timeline.view
    qtbot.waitUntil(view.isVisible)
    got = []
    view.keyMenuRequested.disconnect()
    view.keyMenuRequested.connect(lambda row, frame, pos: got.append((row, frame)))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=view.frame_to_widget(0, 2))
    assert got == [("camera", 0)]


def test_playback_steps_and_loops(make_window, qtbot):
    win = make_window()
    doc, pb = win.doc, win.timeline.playback
    doc.edit_scene(lambda s: setattr(s.timeline, "fps", 200.0), "fps")
    doc.edit_scene(lambda s: setattr(s.timeline, "end", 5), "end")
    assert win.timeline.end_box.value() == 5
    win.action_map["play"].trigger()
    assert pb.playing
    seen = set()
    doc.frameChanged.connect(seen.add)
    qtbot.waitUntil(lambda: {0, 5} <= seen and len(seen) >= 6, timeout=3000)  # wrapped past the end
    win.action_map["play"].trigger()
    assert not pb.playing
    win.timeline.loop_box.setChecked(False)
    assert not win.action_map["loop"].isChecked()
    doc.set_frame(3)
    pb.play()
    qtbot.waitUntil(lambda: not pb.playing, timeout=3000)
    assert doc.frame == 5


def test_frame_range_boxes_edit_the_timeline(make_window):
    win = make_window()
    t = win.timeline
    t.end_box.setValue(30)
    assert win.doc.scene.timeline.end == 30
    t.start_box.setValue(40)  # past the end: the end follows
    assert (win.doc.scene.timeline.start, win.doc.scene.timeline.end) == (40, 40)
    win.action_map["undo"].trigger()
    assert win.doc.scene.timeline.end == 30 and t.start_box.value() == 0
