"""Conditioning images follow the conventions of the annotators the public
models were trained on (pipeline.conditioning; no GL, no torch)."""
from __future__ import annotations

import numpy as np
import pytest

from posebooth.frame import conditioning as C


def _depth():
    d = np.zeros((40, 60), np.float32)
    d[10:30, 10:20] = 2.0      # near
    d[10:30, 30:40] = 3.0      # mid
    d[10:30, 45:55] = 4.0      # far
    return d


def test_controlnet_depth_is_inverse_depth_near_bright_background_black():
    img = C.controlnet_depth_image(_depth())
    assert img.shape == (40, 60, 3) and img.dtype == np.uint8
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    g = img[..., 0].astype(int)
    assert g[0, 0] == 0                            # background
    assert g[15, 15] == 255 and g[15, 50] == C.DEPTH_FLOOR
    # Inverse depth, not depth: 3 m sits at (1/3 - 1/4) / (1/2 - 1/4) of the way.
    expect = C.DEPTH_FLOOR + (255 - C.DEPTH_FLOOR) * (1 / 3 - 1 / 4) / (1 / 2 - 1 / 4)
    assert abs(g[15, 35] - expect) <= 0.5
    assert not C.controlnet_depth_image(np.zeros((4, 4), np.float32)).any()


def test_sd2_depth_map_matches_what_depth2img_normalises():
    m = C.sd2_depth_map(_depth())
    assert m.dtype == np.float32 and m.shape == (40, 60)
    assert m[0, 0] == 0 and m[15, 15] == pytest.approx(1.0)
    assert m[15, 50] == pytest.approx(C.DEPTH_FLOOR / 255)
    assert m[15, 15] > m[15, 35] > m[15, 50] > m[0, 0]    # near = large, like DPT
    # The pipeline's own min-max step puts the background at -1 and the nearest body at +1.
    norm = 2 * (m - m.min()) / (m.max() - m.min()) - 1
    assert norm[0, 0] == -1 and norm[15, 15] == pytest.approx(1.0)


def test_normal_image_follows_normalbae_left_up_front():
    n = np.zeros((3, 4, 3), np.float32)
    n[0, 0] = [0, 0, -1]       # facing the camera (OpenCV z forward)
    n[0, 1] = [-1, 0, 0]       # facing image left
    n[0, 2] = [0, -1, 0]       # facing up (OpenCV y down)
    n[0, 3] = [1, 0, 0]        # facing image right
    img = C.normal_control_image(n)
    assert tuple(img[0, 0]) == (128, 128, 255)
    assert tuple(img[0, 1]) == (255, 128, 128)     # red = left
    assert tuple(img[0, 2]) == (128, 255, 128)     # green = up
    assert tuple(img[0, 3]) == (0, 128, 128)
    assert tuple(img[2, 2]) == C.NORMALBAE_BACKGROUND


def _person(cx=50.0, top=20.0):
    """COCO-17 keypoints of an upright figure facing the camera (its left at image right)."""
    k = np.zeros((17, 2))
    k[0] = [cx, top]
    k[1], k[2] = [cx + 4, top - 3], [cx - 4, top - 3]
    k[3], k[4] = [cx + 8, top], [cx - 8, top]
    k[5], k[6] = [cx + 15, top + 15], [cx - 15, top + 15]
    k[7], k[8] = [cx + 20, top + 35], [cx - 20, top + 35]
    k[9], k[10] = [cx + 22, top + 55], [cx - 22, top + 55]
    k[11], k[12] = [cx + 9, top + 55], [cx - 9, top + 55]
    k[13], k[14] = [cx + 10, top + 85], [cx - 10, top + 85]
    k[15], k[16] = [cx + 10, top + 115], [cx - 10, top + 115]
    return k


def test_openpose_image_uses_controlnet_aux_colours_and_order():
    k = _person()
    vis = np.full(17, 2)
    img = C.openpose_image([k], [vis], (100, 150))
    assert img.shape == (150, 100, 3) and img.dtype == np.uint8
    pts, _ = C.openpose18(k, vis)
    np.testing.assert_allclose(pts[1], (k[5] + k[6]) / 2)          # neck
    # Joint discs are drawn last at full colour: OpenPose point i has colours[i].
    for i in (0, 2, 4, 7, 10, 13):
        x, y = np.floor(pts[i]).astype(int)
        assert tuple(img[y, x]) == C.OPENPOSE_COLORS[i], i
    # Limbs are drawn at 60 %: right upper arm (limb 2: points 3-4, 1-based) mid-point.
    mid = np.floor((pts[2] + pts[3]) / 2).astype(int)
    expect = tuple(int(c * 0.6) for c in C.OPENPOSE_COLORS[2])
    assert tuple(img[mid[1], mid[0]]) == expect
    assert img[0, 0].sum() == 0                                       # black background


def test_openpose_omits_joints_outside_the_image_with_their_limbs():
    k = _person()
    vis = np.full(17, 2)
    vis[10] = 0                    # right wrist out of view
    vis[8] = 1                     # right elbow occluded: still drawn
    img = C.openpose_image([k], [vis], (100, 150))
    pts, _ = C.openpose18(k, vis)
    x, y = np.floor(pts[4]).astype(int)                               # OpenPose 4 = right wrist
    assert img[y, x].sum() == 0
    mid = np.floor((pts[3] + pts[4]) / 2).astype(int)                  # forearm gone
    assert img[mid[1], mid[0]].sum() == 0
    x, y = np.floor(pts[3]).astype(int)                               # elbow drawn
    assert tuple(img[y, x]) == C.OPENPOSE_COLORS[3]
    hidden = C.openpose_image([k], [vis], (100, 150), draw_occluded=False)
    assert hidden[y, x].sum() == 0
