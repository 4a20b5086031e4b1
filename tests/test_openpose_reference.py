"""File → Import OpenPose JSON…: OpenPose's own JSON read (BODY_25 / COCO-18,
hands, face, the editors' canvas size), drawn over the camera view where
the keypoints say, and a corrupt file told in one line naming the file and
the field."""
from __future__ import annotations

import json

import numpy as np
import pytest

from posebooth.assets.openpose_reader import OpenPoseError, read_openpose
from posebooth.frame.conditioning import OPENPOSE_COLORS
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures


def _person(n_body=25, hands=True, face=True, seed=0):
    rng = np.random.default_rng(seed)

    def flat(n):
        pts = np.column_stack([rng.uniform(0, 100, n), rng.uniform(0, 75, n), rng.uniform(0.3, 1.0, n)])
        return [round(float(v), 3) for v in pts.ravel()]
    out = {"person_id": [-1], "pose_keypoints_2d": flat(n_body)}
    if hands:
        out["hand_left_keypoints_2d"], out["hand_right_keypoints_2d"] = flat(21), flat(21)
    if face:
        out["face_keypoints_2d"] = flat(70)
    return out


def _write(path, doc):
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_reads_openposes_own_layout(tmp_path):
    doc = {"version": 1.3, "people": [_person(25), _person(18, hands=False, face=False, seed=1)]}
    ref = read_openpose(_write(tmp_path / "frame_000000_keypoints.json", doc))
    a, b = ref.people
    assert (a.layout, b.layout) == ("BODY_25", "COCO-18") and ref.canvas is None
    np.testing.assert_array_equal(a.body.ravel(), doc["people"][0]["pose_keypoints_2d"])
    np.testing.assert_array_equal(a.hand_right.ravel(), doc["people"][0]["hand_right_keypoints_2d"])
    assert a.face.shape == (70, 3) and b.hand_left is None and b.face is None
    ref = read_openpose(_write(tmp_path / "editor.json", {"people": [_person(18)], "canvas_width": 512,
                                                           "canvas_height": 768}))
    assert ref.canvas == (512, 768)


@pytest.mark.hostile
@pytest.mark.parametrize("content, field", [
    ("{\"people\": [", "line 1"),
    ({"animals": []}, "people"),
    ({"people": {"a": 1}}, "people"),
    ({"people": [{"pose_keypoints_2d": [1.0] * 52}]}, "people[0].pose_keypoints_2d"),
    ({"people": [_person(18), {"pose_keypoints_2d": [1, "x", 3] * 18}]}, "people[1].pose_keypoints_2d"),
    ({"people": [{"pose_keypoints_2d": [1e300] * 54}]}, "people[0].pose_keypoints_2d"),
    ({"people": [dict(_person(18), hand_left_keypoints_2d=[0.5] * 60)]}, "people[0].hand_left_keypoints_2d"),
    ({"people": [dict(_person(18), face_keypoints_2d="eyes")]}, "people[0].face_keypoints_2d"),
    ({"people": [{}]}, "people[0].pose_keypoints_2d"),
    ({"people": [_person(18)], "canvas_width": -3, "canvas_height": 10}, "canvas_width"),
])
def test_a_corrupt_file_is_one_line_naming_file_and_field(tmp_path, content, field):
    path = _write(tmp_path / "pose.json", content)
    with pytest.raises(OpenPoseError) as err:
        read_openpose(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)) and field in message, message


@pytest.mark.hostile
def test_a_folder_is_refused_in_one_line(tmp_path):
    with pytest.raises(OpenPoseError, match="folder") as err:
        read_openpose(tmp_path)
    assert "\n" not in str(err.value)


def test_overlay_draws_each_limb_where_its_keypoints_land(qtbot):
    from PySide6.QtCore import Signal
    from PySide6.QtGui import QColor, QImage
    from PySide6.QtWidgets import QWidget

    from posebooth.assets.openpose_reader import COCO18_LIMBS, parse_openpose
    from posebooth.ui.openpose_reference import OpenPoseOverlay

    class View(QWidget):
        viewChanged = Signal()
        lookThroughChanged = Signal(bool)
        look_through = True

        def output_frame_rect(self):
            return (20.0, 10.0, 220.0, 160.0)     # framebuffer pixels: 200 x 150

    view = View()
    qtbot.addWidget(view)
    view.resize(240, 180)
    body = np.zeros((18, 3))
    body[1] = [50, 20, 0.9]       # neck
    body[2] = [30, 20, 0.8]       # right shoulder: limb 0 (1, 2)
    body[8] = [40, 60, 0.9]       # right hip: limb 6 (1, 8)
    body[5] = [70, 20, 0.0]       # left shoulder, not detected: limb 1 (1, 5) not drawn
    ref = parse_openpose(json.dumps({"people": [{"pose_keypoints_2d": body.ravel().tolist()}],
                                     "canvas_width": 100, "canvas_height": 75}), "test.json")
    overlay = OpenPoseOverlay(view, ref, (64, 48))
    assert overlay.geometry() == view.rect()
    image = QImage(overlay.size(), QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    overlay.render(image)

    def at(x, y):                  # canvas pixel -> widget: scale 2, offset (20, 10) (the canvas fills the frame)
        c = image.pixelColor(round(20 + 2 * x), round(10 + 2 * y))
        return c.red(), c.green(), c.blue(), c.alpha()
    limb = COCO18_LIMBS.index
    for a, b in ((1, 2), (1, 8)):
        mid = (body[a, :2] + body[b, :2]) / 2
        r, g, bl, alpha = at(*mid)
        assert alpha > 150 and (r, g, bl) == pytest.approx(OPENPOSE_COLORS[limb((a, b))], abs=3), (a, b)
    assert at(60, 20)[3] == 0                      # towards the undetected shoulder: nothing
    assert at(90, 70)[3] == 0
    view.look_through = False                      # the free view: a 2D reference means nothing there
    image.fill(QColor(0, 0, 0, 0))
    overlay.render(image)
    assert at(40, 20)[3] == 0


@pytest.mark.gl
@pytest.mark.hostile
def test_import_in_the_app_refuses_a_corrupt_file_and_shows_a_good_one(make_window, tmp_path, dialogs):  # noqa: F811
    win = make_window(real_viewport=True)
    broken = _write(tmp_path / "broken.json", {"people": [{"pose_keypoints_2d": [1.0] * 10}]})
    dialogs.answers["get_open_path"] = str(broken)
    win.action_map["import_openpose"].trigger()
    (call,) = [c for c in dialogs.calls if c[0] == "show_error"]
    assert "broken.json" in call[2] and "pose_keypoints_2d" in call[2] and "\n" not in call[2]
    assert getattr(win, "openpose_overlay", None) is None

    dialogs.answers["get_open_path"] = str(_write(tmp_path / "ref.json", {"people": [_person(18)]}))
    win.action_map["import_openpose"].trigger()
    overlay = win.openpose_overlay
    assert overlay is not None and overlay.isVisible() and win.viewport.look_through
    cam = win.doc.scene.camera
    s, dx, dy = overlay.mapping()                  # no canvas size: the render camera's image fills the frame
    x0, y0, x1, y1 = (v / win.viewport.devicePixelRatioF() for v in win.viewport.output_frame_rect())
    assert (dx, dy) == pytest.approx((x0, y0)) and s * cam.width == pytest.approx(x1 - x0)
    win.action_map["clear_openpose"].trigger()
    assert win.openpose_overlay is None
