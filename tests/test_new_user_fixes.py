"""What a new user ran into (issue 14, part 6), one test each; every one
failed before its fix."""
import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from fake_body import fake_body_for
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.assets.starter import starter_scene
from posebooth.edits.document import Document
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures


# -- 1. shift+drag on an unselected body's pelvis moves that body ------------------
@pytest.mark.gui
@pytest.mark.gl
def test_shift_drag_on_an_unselected_pelvis_moves_that_body(qtbot):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.viewport.widget import ViewportWidget
    doc = SceneDocument(starter_scene(people=2), body_for=fake_body_for)
    w = ViewportWidget(doc)
    qtbot.addWidget(w)
    w.resize(640, 480)
    w.show()
    qtbot.waitExposed(w)
    w.grabFramebuffer()
    if w.gl_error:
        pytest.skip(f"no usable OpenGL here: {w.gl_error}")
    w.view.pitch = 0.6
    doc.select(0, None)                      # the other person, no joint
    before = [doc.pose_of(i).transl.copy() for i in (0, 1)]
    xy, _ = w.view_camera().project(doc.posed()[1].joints[J["pelvis"]].astype(float))
    dpr = w.devicePixelRatioF()
    pts = [QPoint(math.floor((xy[0] + 4 * k) / dpr), math.floor((xy[1] + 3 * k) / dpr)) for k in (0, 5, 10, 15)]
    shift = Qt.KeyboardModifier.ShiftModifier
    QTest.mousePress(w, Qt.MouseButton.LeftButton, shift, pts[0])
    for p in pts[1:]:
        QApplication.sendEvent(w, QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(p), QPointF(w.mapToGlobal(p)),
                                              Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, shift))
    QTest.mouseRelease(w, Qt.MouseButton.LeftButton, shift, pts[-1])
    after = [doc.pose_of(i).transl for i in (0, 1)]
    np.testing.assert_array_equal(after[0], before[0])
    assert after[1][1] == before[1][1] and np.linalg.norm(after[1] - before[1]) > 0.05
    assert (doc.selected_person, doc.selected_joint) == (1, J["pelvis"])
    assert doc.undo_stack.count() == 1


# -- 2. new people stand beside the others, in a colour of their own ------------------
def _x_extents(doc):
    return [(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in doc.posed()]


def _apart(a, b):
    return a[1] < b[0] or b[1] < a[0]


def test_add_and_duplicate_place_people_apart_with_new_colours():
    doc = Document(starter_scene(people=2), body_for=fake_body_for)   # T-posed: arms 1.7 m wide
    doc.duplicate_person(0)
    doc.add_person()
    doc.duplicate_person(3)
    extents = _x_extents(doc)
    assert len(extents) == 5
    for new in (2, 3, 4):   # no new person reaches into anyone
        assert all(_apart(extents[new], extents[i]) for i in range(5) if i != new), extents
    colours = [tuple(p.color) for p in doc.scene.people]
    assert len(set(colours)) == 5
    # the duplicate keeps the pose (rotations) of its source
    assert doc.scene.people[2].keys[0].body_pose == doc.scene.people[0].keys[0].body_pose


# -- 3. import motion: replace, insert at the playhead or a new person ----------------
def _amass(path, n=12, seed=0):
    rng = np.random.default_rng(seed)
    poses = np.concatenate([rng.normal(0, 0.3, (n, 3)), rng.normal(0, 0.3, (n, 69))], axis=1)
    trans = np.cumsum(np.full((n, 3), [0.05, 0.0, 0.02]), axis=0) + [3.0, 0.9, -2.0]   # starts far away
    np.savez(path, poses=poses, trans=trans, mocap_framerate=np.array(24.0), betas=np.zeros(16),
             gender=np.array("neutral"))
    return path


@pytest.mark.gui
@pytest.mark.parametrize("mode", ["replace", "insert", "new"])
def test_import_motion_modes_start_where_the_person_stands(make_window, tmp_path, mode):
    win = make_window()
    doc = win.doc
    doc.select(1, None)
    doc.set_frame(6)
    doc.set_pose(1, doc.pose_of(1).with_body(transl=[0.45, 0.93, 0.3]))   # a key at 6, where it stands
    stands = doc.pose_of(1).transl.copy()
    keys_before = [k.model_copy() for k in doc.scene.people[1].keys]
    path = _amass(tmp_path / "walk.npz")
    frame = 4
    doc.set_frame(frame)
    where = doc.pose_of(1).transl.copy()
    assert win.files.import_motion(str(path), mode=mode)
    people = doc.scene.people
    if mode == "new":
        assert len(people) == 3 and [k.frame for k in people[1].keys] == [k.frame for k in keys_before]
        target, start = people[2], frame
    else:
        target, start = people[1], (doc.scene.timeline.start if mode == "replace" else frame)
    first = next(k for k in target.keys if k.frame == start)
    if mode == "new":   # beside the others
        assert all(abs(first.transl[0] - p.keys[0].transl[0]) > 0.5 for p in people[:2])
    else:               # where the person stood when importing
        np.testing.assert_allclose([first.transl[0], first.transl[2]], [where[0], where[2]], atol=1e-9)
    frames = [k.frame for k in target.keys]
    assert frames[-1] - start == 11 or mode == "insert"
    if mode == "insert":   # the keys before the playhead are kept, the later ones follow the motion
        assert frames[0] == 0 and frames[frames.index(start):frames.index(start) + 12] == list(range(start, start + 12))
        assert frames[-1] == 6 + 12
        np.testing.assert_allclose(target.keys[-1].transl, stands, atol=1e-12)
    # undo: one step, and the playhead stays inside the restored range
    doc.set_frame(doc.scene.timeline.end)
    win.action_map["undo"].trigger()
    tl = doc.scene.timeline
    assert tl.start <= doc.frame <= tl.end
    assert [k.frame for k in doc.scene.people[1].keys] == [k.frame for k in keys_before]


@pytest.mark.gui
def test_import_motion_asks_how(make_window, tmp_path, monkeypatch):
    from posebooth.ui import dialogs as mod
    asked = []
    monkeypatch.setattr(mod, "ask_motion_mode", lambda parent, name, person: asked.append(name) or None)
    win = make_window()
    assert not win.files.import_motion(str(_amass(tmp_path / "m.npz")))   # the user cancelled the question
    assert asked == ["m.npz"] and win.doc.undo_stack.count() == 0


# -- 4. the lens is a camera setting unless the user keys it ----------------------
@pytest.mark.gui
def test_focal_length_with_auto_key_changes_the_lens_not_an_animation(make_window):
    win = make_window()
    doc = win.doc
    doc.select(None, None)
    assert doc.auto_key
    doc.set_frame(12)
    doc.set_camera_key(position=[0.5, 1.2, 4.0])     # the camera moves: a key at 12
    win.camera_panel.focal.setValue(35.0)
    assert [k.focal_mm for k in doc.scene.camera.keys] == [35.0, 35.0]
    doc.set_frame(6)
    assert doc.camera().K[0, 0] == pytest.approx(35.0 / doc.scene.camera.sensor_width_mm * doc.scene.camera.width)
    # keyed by the user (the keys differ): then it is animated, as asked
    for k in doc.scene.camera.keys:
        assert k.focal_mm == 35.0
    doc.edit_camera(lambda c: setattr(c.keys[1], "focal_mm", 85.0), "key the lens")
    doc.set_frame(12)
    win.camera_panel.focal.setValue(70.0)
    assert [k.focal_mm for k in doc.scene.camera.keys] == [35.0, 70.0]


# -- 5. undo texts use the names the UI shows --------------------------------------
def test_undo_texts_use_the_ui_joint_names(monkeypatch):
    from posebooth.assets.presets import list_presets, preset_info
    from posebooth.edits import pose_ops
    from posebooth.viewport import drags
    monkeypatch.setattr(drags, "RotationDrag", lambda *a, **k: None)
    monkeypatch.setattr(drags, "view_plane_point", lambda camera, x, y, p: np.asarray(p))
    pose = Document(starter_scene(people=1)).pose_of(0)
    assert drags.GizmoDrag(pose, J["right_elbow"], "x", None, None, 0, 0).text == "Rotate Elbow.R"
    assert drags.IKDrag(pose, J["left_wrist"], None, 0, 0, None, np.zeros(3)).text == "IK Wrist.L"
    doc = Document(starter_scene(people=1), body_for=fake_body_for)
    name = next(n for n in list_presets() if preset_info(n).label != n)
    pose_ops.apply_preset(doc, name)
    assert f"Preset: {preset_info(name).label}" in doc.undo_texts


# -- 6. the shortcuts dialog lists G and the mouse gestures ------------------------
@pytest.mark.gui
def test_shortcuts_dialog_lists_g_and_the_mouse(make_window):
    from posebooth.ui.shortcuts_dialog import ShortcutsDialog
    win = make_window()
    dlg = ShortcutsDialog(win.menuBar(), win)
    rows = []
    for i in range(dlg.tree.topLevelItemCount()):
        group = dlg.tree.topLevelItem(i)
        rows += [(group.text(0), group.child(j).text(0), group.child(j).text(1)) for j in range(group.childCount())]
    keys = {r[2] for r in rows}
    assert "G" in keys and "S" in keys and any(k.startswith("Esc") for k in keys)
    assert any("Shift+left-drag" in k for k in keys) and any("Middle-drag" in k for k in keys)
    assert any("Ctrl+left-drag" in k for k in keys)
    assert any(r[0] == "Timeline strip" and "Drag a key" in r[2] for r in rows)
