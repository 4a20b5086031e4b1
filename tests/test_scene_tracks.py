"""Keyframe evaluation (slerp, step, smooth) and the camera model, checked with scipy."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from posebooth.scene import CameraKey, Person, PoseKey, camera_at, pose_at
from posebooth.scene.camera import Camera, look_at
from posebooth.scene.model import CameraSpec


def _person(interp="linear"):
    rng = np.random.default_rng(3)
    a = PoseKey(frame=0, global_orient=list(rng.normal(0, 0.5, 3)), body_pose=list(rng.normal(0, 0.4, 69)),
                transl=[0, 1, 0], interp=interp)
    b = PoseKey(frame=10, global_orient=list(rng.normal(0, 0.5, 3)), body_pose=list(rng.normal(0, 0.4, 69)),
                transl=[1, 1, -2])
    return Person(keys=[a, b]), a, b


def _scipy_slerp(a, b, t):
    ra = np.concatenate([[a.global_orient], np.reshape(a.body_pose, (23, 3))])
    rb = np.concatenate([[b.global_orient], np.reshape(b.body_pose, (23, 3))])
    out = []
    for x, y in zip(ra, rb):
        s = Slerp([0, 1], Rotation.from_rotvec([x, y]))
        out.append(s([t]).as_matrix()[0])
    return np.array(out)


@pytest.mark.parametrize("frame", [0, 2.5, 5, 9.99, 10])
def test_linear_slerp_matches_scipy(frame):
    person, a, b = _person()
    pose = pose_at(person, frame)
    got = Rotation.from_rotvec(pose.rotvecs()).as_matrix()
    np.testing.assert_allclose(got, _scipy_slerp(a, b, frame / 10), atol=1e-9)
    np.testing.assert_allclose(pose.transl, np.array([0, 1, 0]) + frame / 10 * np.array([1, 0, -2]), atol=1e-12)


def test_before_first_and_after_last_hold():
    person, a, b = _person()
    np.testing.assert_allclose(pose_at(person, -3).transl, a.transl)
    np.testing.assert_allclose(pose_at(person, 50).body_pose.ravel(), b.body_pose)


def test_step_holds_until_next_key():
    person, a, b = _person("step")
    np.testing.assert_allclose(pose_at(person, 9.9).body_pose.ravel(), a.body_pose)
    np.testing.assert_allclose(pose_at(person, 10).body_pose.ravel(), b.body_pose)


def test_smooth_eases_in_and_out():
    person, a, b = _person("smooth")
    lin, _, _ = _person("linear")
    # same midpoint, slower near the keys
    np.testing.assert_allclose(pose_at(person, 5).transl, pose_at(lin, 5).transl, atol=1e-12)
    assert abs(pose_at(person, 1).transl[0]) < abs(pose_at(lin, 1).transl[0])
    np.testing.assert_allclose(pose_at(person, 1).transl[0], 0.1 ** 2 * (3 - 0.2))


def test_slerp_takes_the_short_way():
    a = PoseKey(frame=0, global_orient=[0, 3.0, 0])
    b = PoseKey(frame=2, global_orient=[0, -3.0, 0])
    mid = pose_at(Person(keys=[a, b]), 1).global_orient
    # 3 rad and -3 rad about Y are 0.28 rad apart through pi, not 6 rad through 0
    assert abs(abs(mid[1]) - np.pi) < 1e-6


def test_look_at_axes_and_projection():
    cam = Camera.from_look_at([0, 1, 4], [0, 1, 0], 0.0, 640, 480, focal_mm=50, sensor_width_mm=36)
    f = 50 / 36 * 640
    np.testing.assert_allclose(cam.K, [[f, 0, 320], [0, f, 240], [0, 0, 1]])
    xy, z = cam.project(np.array([[0.0, 1.0, 0.0], [0.5, 1.5, 0.0]]))
    np.testing.assert_allclose(xy[0], [320, 240])
    np.testing.assert_allclose(z, [4, 4])
    # world +X appears to the right, world up appears higher in the image (smaller row)
    np.testing.assert_allclose(xy[1], [320 + f * 0.5 / 4, 240 - f * 0.5 / 4])
    np.testing.assert_allclose(cam.position, [0, 1, 4], atol=1e-12)


def test_roll_and_rotation_is_proper():
    ext = look_at([1, 2, 3], [0, 0.5, 0], roll=0.4)
    R = ext[:3, :3]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    straight_down = look_at([0, 5, 0], [0, 0, 0])
    np.testing.assert_allclose(straight_down[:3, :3] @ [0, -1, 0], [0, 0, 1], atol=1e-12)


def test_gl_projection_agrees_with_pixel_projection():
    K = np.array([[300.0, 0, 70.3], [0, 280.0, 41.7], [0, 0, 1]])
    cam = Camera(K=K, extrinsic=look_at([0.3, 1.2, 3], [0, 1, 0]), width=160, height=90)
    pts = np.random.default_rng(0).normal([0, 1, 0], 0.3, (20, 3))
    xy, z = cam.project(pts)
    clip = np.c_[cam.to_camera(pts), np.ones(20)] @ cam.gl_projection().T
    ndc = clip[:, :3] / clip[:, 3:]
    np.testing.assert_allclose((ndc[:, 0] + 1) / 2 * 160, xy[:, 0], atol=1e-9)
    np.testing.assert_allclose((1 - ndc[:, 1]) / 2 * 90, xy[:, 1], atol=1e-9)
    assert np.all(np.abs(ndc[:, 2]) < 1)


def test_camera_keys_interpolate():
    spec = CameraSpec(width=100, height=50, keys=[CameraKey(frame=0, position=[0, 1, 4], focal_mm=30),
                                                  CameraKey(frame=4, position=[4, 1, 0], focal_mm=70)])
    cam = camera_at(spec, 2)
    assert cam.K[0, 0] == pytest.approx(50 / 36 * 100)
    np.testing.assert_allclose(cam.position, [2, 1, 2])
    assert (cam.width, cam.height) == (100, 50)


def test_explicit_intrinsics_replace_the_lens():
    from posebooth.scene.model import Intrinsics
    spec = CameraSpec(width=160, height=90, intrinsics=Intrinsics(fx=300, fy=280, cx=70.3, cy=41.7))
    cam = camera_at(spec, 0)
    np.testing.assert_allclose(cam.K, [[300, 0, 70.3], [0, 280, 41.7], [0, 0, 1]])
    xy, z = cam.project(cam.position + 2.0 * cam.extrinsic[2, :3])  # a point on the optical axis
    np.testing.assert_allclose(xy, [70.3, 41.7], atol=1e-9)
