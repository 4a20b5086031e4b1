"""The hand and face panels, the joint-limits switch and finger picking in the
real widgets (pytest-qt; the GL viewport under Xvfb for picking).

Expected values come from the preset files read here as plain JSON and from
angles written out in the test, not from the code under test."""
from __future__ import annotations

import json
import math
from importlib import resources

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from scipy.spatial.transform import Rotation

from fake_body import fake_body_for
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.assets.starter import starter_scene
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui
L, NONE, NOMOD = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
MIRROR = np.array([1.0, -1.0, -1.0])
MANO = [f"{f}{k}" for f in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)]


def _resource(name: str) -> dict:
    return json.loads(resources.files("posebooth").joinpath("resources", name).read_text())


def _preset_right_hand(name: str) -> np.ndarray:
    entry = next(p for p in _resource("hand_presets.json")["presets"] if p["name"] == name)
    hand = np.zeros((15, 3))
    for joint, rv in entry["right"].items():
        hand[MANO.index(joint)] = rv
    return hand


def _key_hand(doc, side: str, frame: int = 0) -> np.ndarray:
    key = next(k for k in doc.scene.people[0].keys if k.frame == frame)
    return np.array(getattr(key, f"{side}_hand_pose")).reshape(15, 3)


@pytest.fixture
def panels(qtbot):
    """The document with the hand, face and pose panels (the real widgets, no window)."""
    from types import SimpleNamespace

    from posebooth.ui.document import SceneDocument
    from posebooth.ui.face_panel import FacePanel
    from posebooth.ui.hand_panel import HandPanel
    from posebooth.ui.pose_panel import PosePanel
    doc = SceneDocument(starter_scene(people=1, frames=20), body_for=fake_body_for)
    doc.select(0, None)
    out = SimpleNamespace(doc=doc, hand_panel=HandPanel(doc), face_panel=FacePanel(doc), pose_panel=PosePanel(doc))
    for w in (out.hand_panel, out.face_panel, out.pose_panel):
        qtbot.addWidget(w)
    return out


def test_a_curl_slider_is_one_undo_step_on_the_key(panels):
    doc, panel = panels.doc, panels.hand_panel
    panel.set_which("right")
    before = _key_hand(doc, "right").copy()
    n = doc.undo_stack.count()
    for v in (0.2, 0.4, 0.6):   # a burst of slider values: one step
        panel.curl_sliders["middle"].setValue(v)
    assert doc.undo_stack.count() == n + 1
    hand = _key_hand(doc, "right")
    # A right-hand curl is a rotation about +Z; 0.6 of the full 85 / 95 / 60 degrees.
    np.testing.assert_allclose(hand[3:6], np.radians([[0, 0, 51.0], [0, 0, 57.0], [0, 0, 36.0]]), atol=1e-6)
    assert np.all(_key_hand(doc, "left") == 0.0)
    doc.undo_stack.undo()
    np.testing.assert_array_equal(_key_hand(doc, "right"), before)


def test_a_picked_finger_joint_gets_its_own_sliders_within_its_range(panels):
    doc, panel = panels.doc, panels.hand_panel
    assert not panel.joint_box.isEnabled()
    doc.select_finger(0, "left", 4)          # the left middle finger's PIP
    assert panel.joint_box.isEnabled()
    flex = panel.joint_sliders[0]
    flex.setValue(60.0)
    # the left hand curls about -Z (the right about +Z, mirrored)
    np.testing.assert_allclose(_key_hand(doc, "left")[4], np.radians([0, 0, -60.0]), atol=1e-9)
    flex.setValue(170.0)                     # past a PIP's 110 degrees
    np.testing.assert_allclose(_key_hand(doc, "left")[4], np.radians([0, 0, -110.0]), atol=1e-9)
    doc.joint_limits = False
    flex.setValue(150.0)
    np.testing.assert_allclose(_key_hand(doc, "left")[4], np.radians([0, 0, -150.0]), atol=1e-9)


def test_a_hand_preset_applies_to_the_chosen_side_then_both(panels):
    doc, panel = panels.doc, panels.hand_panel
    fist = _preset_right_hand("fist")
    panel.set_which("left")
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("fist"))
    panel.apply_btn.click()
    np.testing.assert_allclose(_key_hand(doc, "left"), fist * MIRROR, atol=1e-12)
    assert np.all(_key_hand(doc, "right") == 0.0)
    panel.set_which("both")
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("v"))
    panel.apply_btn.click()
    v = _preset_right_hand("v")
    np.testing.assert_allclose(_key_hand(doc, "right"), v, atol=1e-12)
    np.testing.assert_allclose(_key_hand(doc, "left"), v * MIRROR, atol=1e-12)
    assert panel.curl_sliders["ring"].value() > 0.8 > 0.05 > abs(panel.curl_sliders["index"].value())


def test_a_face_preset_sets_the_expression_and_is_keyed_with_auto_key(panels):
    doc, panel = panels.doc, panels.face_panel
    assert doc.auto_key
    doc.set_frame(10)   # no key here yet
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("smile"))
    panel.apply_btn.click()
    smile = next(p for p in _resource("face_presets.json")["presets"] if p["name"] == "smile")["weights"]
    key = next(k for k in doc.scene.people[0].keys if k.frame == 10)
    assert key.expression == pytest.approx(smile)
    assert panel.sliders["mouthSmileLeft"].value() == pytest.approx(smile["mouthSmileLeft"])
    panel.sliders["jawOpen"].setValue(0.5)
    assert key.expression.get("jawOpen") is None   # the key object was replaced by the edit
    assert next(k for k in doc.scene.people[0].keys if k.frame == 10).expression["jawOpen"] == 0.5
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert all(k.frame != 10 for k in doc.scene.people[0].keys)


def test_the_limits_switch_in_the_window_and_greyed_out_tools(make_window):
    """One window: the Pose > Joint Limits action lets an elbow twist through
    the pose panel's slider only when off; hand and face tools need a person."""
    window = make_window(starter_scene(people=1, frames=20))
    doc = window.doc
    act = window.action_map["joint_limits"]
    assert act.isChecked() and doc.joint_limits
    doc.select(0, J["left_elbow"])
    sliders = window.pose_panel.sliders
    sliders[0].setValue(170.0)      # X: the forearm's own axis at rest
    twist = np.degrees(doc.pose_of(0).body_pose[J["left_elbow"] - 1][0])
    assert twist == pytest.approx(35.0, abs=1e-6)
    act.trigger()
    assert not doc.joint_limits and not act.isChecked()
    sliders[0].setValue(160.0)
    assert np.degrees(doc.pose_of(0).body_pose[J["left_elbow"] - 1][0]) == pytest.approx(160.0, abs=1e-6)
    for name in ("hands_panel", "face_panel"):
        assert window.action_map[name].isEnabled()
    # Pose > Mirror carries the hands across (into the key at this frame).
    window.hand_panel.set_which("right")
    window.hand_panel.preset_combo.setCurrentIndex(window.hand_panel.preset_combo.findData("point"))
    window.hand_panel.apply_btn.click()
    window.action_map["mirror_pose"].trigger()
    np.testing.assert_allclose(_key_hand(doc, "left"), _preset_right_hand("point") * MIRROR, atol=1e-12)
    assert np.all(_key_hand(doc, "right") == 0.0)
    window.action_map["hands_panel"].trigger()
    assert not window.hand_dock.visibleRegion().isEmpty()
    doc.select(None, None)
    assert not window.hand_panel.fingers_box.isEnabled()
    assert not window.face_panel.apply_btn.isEnabled()
    for name in ("hands_panel", "face_panel"):
        assert not window.action_map[name].isEnabled()


# ---- finger picking and the finger gizmo in the GL viewport --------------------------
@pytest.fixture
def viewport(qtbot):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.viewport.widget import ViewportWidget
    doc = SceneDocument(starter_scene(people=1), body_for=fake_body_for)
    w = ViewportWidget(doc)
    qtbot.addWidget(w)
    w.resize(640, 480)
    w.show()
    qtbot.waitExposed(w)
    w.grabFramebuffer()
    if w.gl_error:
        pytest.skip(f"no usable OpenGL here: {w.gl_error}")
    return doc, w


def _logical(w, xy) -> QPoint:
    dpr = w.devicePixelRatioF()
    return QPoint(math.floor(xy[0] / dpr), math.floor(xy[1] / dpr))


def _move(w, pos: QPoint):
    ev = QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(pos), QPointF(w.mapToGlobal(pos)), NONE, L, NOMOD)
    QApplication.sendEvent(w, ev)


def _zoom_on_left_hand(w, doc):
    from posebooth.viewport.finger_drags import hand_points
    w.set_view("top")
    w.view.frame_points(hand_points(doc.posed()[0], "left")[0], *w.device_size())
    w._view_moved()


def test_finger_joints_are_picked_when_the_hand_is_selected_or_close(viewport):
    doc, w = viewport
    doc.select(0, J["left_wrist"])
    w.set_view("front")
    assert "left" in w.shown_hands() and "right" not in w.shown_hands()   # far away: the selected hand only
    _zoom_on_left_hand(w, doc)
    doc.select(0, None)
    assert w.shown_hands() == ["left"]                                   # close up: shown without selection
    cam = w.view_camera()
    for k in (1, 5, 13):   # index PIP, middle DIP, thumb MCP
        xy, _ = cam.project(w.finger_joint_world("left", k).astype(float))
        QTest.mouseClick(w, L, NOMOD, _logical(w, xy))
        assert doc.selected_finger == ("left", k)
        assert (doc.selected_person, doc.selected_joint) == (0, J["left_wrist"])
    doc.select(0, J["pelvis"])
    assert doc.selected_finger is None


def test_the_gizmo_turns_a_picked_finger_joint_in_one_undo_step(viewport):
    doc, w = viewport
    doc.select(0, J["left_wrist"])
    _zoom_on_left_hand(w, doc)
    w.gizmo_space = "global"
    cam = w.view_camera()
    xy, _ = cam.project(w.finger_joint_world("left", 1).astype(float))
    QTest.mouseClick(w, L, NOMOD, _logical(w, xy))
    assert doc.selected_finger == ("left", 1)
    g = w.gizmo()
    np.testing.assert_allclose(g.center, w.finger_joint_world("left", 1), atol=1e-9)
    body_before = doc.pose_of(0).body_pose.copy()
    n = doc.undo_stack.count()
    c, _ = cam.project(g.center)
    ring, _ = cam.project(g.ring(1))   # Y ring: faces the camera from the top
    p0 = ring[9]
    r = p0 - c
    path = [c + [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]] @ r for t in np.linspace(0, 0.5, 6)]
    pts = [_logical(w, p) for p in path]
    QTest.mousePress(w, L, NOMOD, pts[0])
    for p in pts[1:]:
        _move(w, p)
    QTest.mouseRelease(w, L, NOMOD, pts[-1])
    assert doc.undo_stack.count() == n + 1
    hand = doc.pose_of(0).left_hand_pose
    assert np.abs(hand[1]).max() > 0.01 and np.all(np.delete(hand, 1, axis=0) == 0.0)
    np.testing.assert_array_equal(doc.pose_of(0).body_pose, body_before)
    # The index PIP is a hinge: turned about the vertical axis it barely moves
    # (its side swing stops at 6 degrees, its twist at 8).
    d = Rotation.from_rotvec(hand[1]).apply([1.0, 0.0, 0.0])
    assert np.degrees(np.arcsin(abs(d[2]))) <= 6.0 + 1e-6
    doc.undo_stack.undo()
    assert np.all(doc.pose_of(0).left_hand_pose == 0.0)
