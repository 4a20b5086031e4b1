"""Viewport navigation math (Qt-free): OrbitView and the look-through fit."""
import math

import numpy as np
import pytest

from posebooth.scene.camera import Camera
from posebooth.viewport.orbit import OrbitView, fit_camera

W, H = 800, 600


def _centre(cam: Camera, point) -> np.ndarray:
    xy, z = cam.project(np.asarray(point, float))
    assert z > 0
    return xy


def test_target_projects_to_the_centre_at_the_distance():
    v = OrbitView(target=np.array([0.3, 1.0, -0.2]), distance=3.0, yaw=0.7, pitch=0.3)
    cam = v.camera(W, H)
    assert np.allclose(_centre(cam, v.target), [W / 2, H / 2])
    assert np.isclose(np.linalg.norm(cam.position - v.target), 3.0)
    R = cam.extrinsic[:3, :3]
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)


@pytest.mark.parametrize("name, forward, right", [
    ("front", [0, 0, -1], [1, 0, 0]),     # the body faces +Z: we look at its front
    ("back", [0, 0, 1], [-1, 0, 0]),
    ("right", [-1, 0, 0], [0, 0, -1]),    # Blender's numpad 3: from +X
    ("left", [1, 0, 0], [0, 0, 1]),
    ("top", [0, -1, 0], [1, 0, 0]),       # screen up = -Z (the body's back), as in Blender
    ("bottom", [0, 1, 0], [1, 0, 0]),
])
def test_named_views(name, forward, right):
    v = OrbitView()
    v.set_view(name)
    R = v.camera(W, H).extrinsic[:3, :3]
    assert np.allclose(R[2], forward, atol=1e-12)
    assert np.allclose(R[0], right, atol=1e-12)


def test_top_view_up_is_minus_z():
    v = OrbitView(target=np.zeros(3))
    v.set_view("top")
    cam = v.camera(W, H)
    assert _centre(cam, [0, 0, -0.5])[1] < H / 2   # further back (-Z) is higher on screen


def test_orbit_keeps_target_and_distance_and_clamps_pitch():
    v = OrbitView(target=np.array([0.0, 1.0, 0.0]), distance=2.5)
    v.orbit(140, -60)
    assert np.isclose(np.linalg.norm(v.position - v.target), 2.5)
    assert np.allclose(_centre(v.camera(W, H), v.target), [W / 2, H / 2])
    v.orbit(0, 10_000)
    assert v.pitch == pytest.approx(math.pi / 2)
    v.orbit(0, -10_000)
    assert v.pitch == pytest.approx(-math.pi / 2)


def test_orbit_right_turns_the_scene_with_the_mouse():
    v = OrbitView(target=np.zeros(3), yaw=0.0, pitch=0.0)
    before = _centre(v.camera(W, H), [0.0, 0.0, 0.5])   # a point in front of the target
    v.orbit(30, 0)
    after = _centre(v.camera(W, H), [0.0, 0.0, 0.5])
    assert after[0] > before[0]


def test_pan_moves_the_target_plane_with_the_mouse():
    v = OrbitView(target=np.array([0.2, 0.9, 0.1]), distance=4.0, yaw=0.4, pitch=0.2)
    old_target = v.target.copy()
    v.pan(37.0, -12.0, W, H)
    xy = _centre(v.camera(W, H), old_target)
    assert np.allclose(xy, [W / 2 + 37.0, H / 2 - 12.0], atol=1e-9)


def test_zoom_steps_and_limits():
    v = OrbitView(distance=4.0)
    v.zoom(1)
    assert v.distance == pytest.approx(4.0 / 1.2)
    v.zoom(-2)
    assert v.distance == pytest.approx(4.0 * 1.2)
    v.zoom(1000)
    assert v.distance > 0.0


def test_frame_points_fits_them_all():
    rng = np.random.default_rng(1)
    pts = rng.normal([3.0, 1.0, -2.0], [0.5, 0.8, 0.3], (200, 3))
    v = OrbitView(yaw=1.1, pitch=-0.2)
    v.frame_points(pts, W, H)
    cam = v.camera(W, H)
    xy, z = cam.project(pts)
    assert (z > 0).all() and cam.inside_image(xy, z).all()
    # Not lost in the distance either: the cloud spans a good part of the short side.
    assert np.ptp(xy[:, 1]) > 0.4 * H


def test_from_camera_round_trip():
    v = OrbitView(target=np.array([0.1, 1.2, 0.3]), distance=3.3, yaw=-2.0, pitch=0.6)
    cam = v.camera(W, H)
    back = OrbitView.from_camera(cam, distance=3.3)
    assert np.allclose(back.camera(W, H).extrinsic, cam.extrinsic, atol=1e-9)
    assert np.allclose(back.target, v.target, atol=1e-9)


def test_fit_camera_is_the_render_projection_scaled():
    render = Camera.from_look_at([0.5, 1.2, 3.5], [0.0, 0.9, 0.0], 0.1, 512, 384, focal_mm=42)
    cam, (x0, y0, x1, y1) = fit_camera(render, W, H, fill=0.9)
    s = (x1 - x0) / render.width
    assert np.isclose((y1 - y0) / render.height, s)
    assert np.isclose(x0 + x1, W) and np.isclose(y0 + y1, H)
    assert min(x1 - x0 - 0.9 * W, y1 - y0 - 0.9 * H) == pytest.approx(0.0, abs=1e-9)
    pts = np.random.default_rng(2).normal([0, 1, 0], 0.4, (50, 3))
    a, za = render.project(pts)
    b, zb = cam.project(pts)
    assert np.allclose(b, a * s + [x0, y0]) and np.allclose(za, zb)
