"""Props and the reference image in the real GL viewport under Xvfb: the
reference blended behind the bodies with its opacity (checked by plain
alpha-blend maths on grabbed pixels), a missing file as a message, props
picked, rotated with the gizmo and moved by shift+drag in one undo step,
and listed in the outliner."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from posebooth.assets.reference_image import make_reference
from posebooth.assets.starter import starter_scene
from posebooth.scene.props import primitive

pytestmark = [pytest.mark.gl, pytest.mark.gui]
L, NONE, NOMOD, SHIFT = (Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                         Qt.KeyboardModifier.ShiftModifier)
REF_RGB = (230, 30, 120)


@pytest.fixture(scope="module")
def body():
    from posebooth.assets.registry import get_body
    from posebooth.scene.model import BodySpec
    return get_body(BodySpec())


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "ref.png"
    Image.fromarray(np.full((100, 200, 3), REF_RGB, np.uint8)).save(path)   # 2:1
    return path


@pytest.fixture
def make_viewport(qtbot, body):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.viewport.widget import ViewportWidget

    def make(scene):
        doc = SceneDocument(scene, body_for=lambda spec: body)
        w = ViewportWidget(doc)
        qtbot.addWidget(w)
        w.resize(320, 240)
        w.show()
        qtbot.waitExposed(w)
        w.grabFramebuffer()
        if w.gl_error:
            pytest.skip(f"no usable OpenGL here: {w.gl_error}")
        return doc, w
    return make


def _grab(w) -> np.ndarray:
    img = w.grabFramebuffer().convertToFormat(w.grabFramebuffer().Format.Format_RGB888)
    h, wd = img.height(), img.width()
    return np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h).reshape(h, -1)[:, :wd * 3] \
        .reshape(h, wd, 3).copy()


def _logical(w, xy) -> QPoint:
    dpr = w.devicePixelRatioF()
    return QPoint(math.floor(xy[0] / dpr), math.floor(xy[1] / dpr))


def test_reference_image_is_blended_behind_the_bodies(make_viewport, image_file):
    from posebooth.viewport.reference_layer import placement

    doc, w = make_viewport(starter_scene(width=256, height=256))
    w.set_look_through(True)
    without = _grab(w).astype(float)
    ref = make_reference(image_file, opacity=0.4, fit="fit")
    doc.edit_camera(lambda c: setattr(c, "reference", ref), "Reference image")
    with_ref = _grab(w).astype(float)
    assert w.reference_error is None
    (x0, y0, x1, y1), _ = placement(w.output_frame_rect(), (200, 100), "fit")
    # Pixels of the image's band (fit: letterboxed, 2:1 in a square frame),
    # away from its edges; the body covers some of them.
    band = (slice(math.ceil(y0) + 2, math.floor(y1) - 2), slice(math.ceil(x0) + 2, math.floor(x1) - 2))
    blended = 0.4 * np.array(REF_RGB) + 0.6 * without[band]
    close = np.abs(with_ref[band] - blended).max(-1) <= 2
    unchanged = np.abs(with_ref[band] - without[band]).max(-1) == 0
    assert close.mean() > 0.6                   # the reference, at 40%, over the background
    assert (close | unchanged).mean() > 0.99    # elsewhere: the body, drawn over it
    assert unchanged.mean() > 0.02              # ... which is really there
    # Letterbox: the frame above the image is untouched.
    top = (slice(math.ceil(w.output_frame_rect()[1]) + 2, math.floor(y0) - 2), band[1])
    assert np.array_equal(with_ref[top], without[top])
    # Fill: the whole frame is covered (the image cropped at its sides).
    doc.edit_camera(lambda c: setattr(c.reference, "fit", "fill"), "Reference fill")
    filled = _grab(w).astype(float)
    assert np.abs(filled[top] - (0.4 * np.array(REF_RGB) + 0.6 * without[top])).max(-1).mean() < 2


def test_reference_image_hangs_in_the_frustum_outside_the_camera_view(make_viewport, image_file):
    doc, w = make_viewport(starter_scene(width=256, height=256))
    doc.select(None, None)                     # no skeleton markers drawn over it
    w.set_view("front")
    w.view.distance = 5.0                      # behind the render camera, looking the same way
    w.view.target = np.array([0.0, 0.9, 0.0])
    w.update()
    without = _grab(w).astype(float)
    ref = make_reference(image_file, opacity=0.5, fit="fill")
    doc.edit_camera(lambda c: setattr(c, "reference", ref), "Reference image")
    with_ref = _grab(w).astype(float)
    # A point of the frame's left half (off the body and the frustum's edges),
    # on the plane 0.5 m in front of the render camera (pinhole maths: K^-1, R^T).
    render = w.render_camera()
    d = np.linalg.inv(render.K) @ np.array([0.2 * 256, 0.5 * 256, 1.0]) * 0.5
    p = render.extrinsic[:3, :3].T @ (d - render.extrinsic[:3, 3])
    (x, y), _ = w.view_camera().project(p)
    patch = (slice(int(y) - 1, int(y) + 2), slice(int(x) - 1, int(x) + 2))
    assert np.abs(with_ref[patch] - (0.5 * np.array(REF_RGB) + 0.5 * without[patch])).max() <= 3


@pytest.mark.hostile
def test_missing_reference_file_is_a_message_and_the_scene_opens(make_viewport, image_file, tmp_path, qtbot):
    from posebooth.scene.io import save_scene

    scene = starter_scene(width=256, height=256)
    scene.camera.reference = make_reference(image_file)
    path = tmp_path / "s.json"
    save_scene(scene, path)
    image_file.unlink()
    doc, w = make_viewport(starter_scene())
    messages = []
    w.statusMessage.connect(messages.append)
    doc.open(path)
    w.set_look_through(True)
    w.grabFramebuffer()
    assert w.gl_error is None and len(doc.scene.people) == 1
    assert w.reference_error is not None and str(image_file) in w.reference_error
    assert messages and str(image_file) in messages[0] and "no such file" in messages[0]


def _move(w, pos: QPoint, buttons=L, mods=NOMOD):
    ev = QMouseEvent(QMouseEvent.Type.MouseMove, QPointF(pos), QPointF(w.mapToGlobal(pos)), NONE, buttons, mods)
    QApplication.sendEvent(w, ev)


def test_prop_is_picked_moved_and_rotated_in_one_undo_step_each(make_viewport):
    from posebooth.ui.outliner import OutlinerPanel

    scene = starter_scene()
    scene.props = [primitive("box", size=[0.6, 0.6, 0.6], position=[1.2, 0.0, 0.0])]
    doc, w = make_viewport(scene)
    outliner = OutlinerPanel(doc)
    assert outliner._items[("prop", 0)].text(0) == "Box"
    w.set_view("front")
    centre = np.array([1.2, 0.3, 0.3])          # the middle of the box's front face
    xy, _ = w.view_camera().project(centre)
    QTest.mouseClick(w, L, NOMOD, _logical(w, xy))
    assert doc.selected_prop == 0 and doc.selected_person is None
    assert outliner.tree.selectedItems()[0].data(0, Qt.ItemDataRole.UserRole) == ("prop", 0)
    n = doc.undo_stack.count()
    pts = [_logical(w, xy + d) for d in ([0, 0], [10, 0], [25, 0], [40, 0])]
    QTest.mousePress(w, L, SHIFT, pts[0])
    for p in pts[1:]:
        _move(w, p, L, SHIFT)
    QTest.mouseRelease(w, L, SHIFT, pts[-1])
    moved = doc.scene.props[0].position
    assert doc.undo_stack.count() == n + 1 and doc.undo_stack.text(n) == "Move Box"
    # Front view: 40 pixels right on the view plane through the prop's base.
    cam = w.view_camera()
    dx = 40 * w.devicePixelRatioF() * cam.depth_of(np.array([[1.2, 0.0, 0.0]]))[0] / cam.K[0, 0]
    assert moved[0] - 1.2 == pytest.approx(dx, rel=0.02) and abs(moved[1]) < 0.01 and abs(moved[2]) < 0.01
    # The rotate gizmo's view ring turns it about the view axis (+z seen from the front).
    g = w.gizmo()
    ring = g.view_ring(w.view_camera())
    rxy, _ = w.view_camera().project(ring[0])
    c, _ = w.view_camera().project(g.center)
    start = _logical(w, rxy)
    QTest.mousePress(w, L, NOMOD, start)
    for a in (0.2, 0.5, 0.8):
        r = rxy - c
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        _move(w, _logical(w, c + rot @ r))
    QTest.mouseRelease(w, L, NOMOD, _logical(w, c + rot @ r))
    rv = np.array(doc.scene.props[0].rotation)
    assert doc.undo_stack.count() == n + 2 and doc.undo_stack.text(n + 1) == "Rotate Box"
    assert abs(abs(rv[2]) - 0.8) < 0.1 and abs(rv[0]) < 1e-6 and abs(rv[1]) < 1e-6
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.scene.props[0].position == [1.2, 0.0, 0.0] and doc.scene.props[0].rotation == [0.0, 0.0, 0.0]
