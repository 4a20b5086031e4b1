"""Gizmo, picking and pose drags (Qt-free parts of the viewport)."""
import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.assets.smpl_skeleton import REST_JOINTS
from reference_chain import forward_kinematics
from posebooth.scene.tracks import PoseState
from posebooth.viewport.drags import GizmoDrag, MoveDrag, rotate_joint, world_rotations
from posebooth.viewport.gizmo import Gizmo, RotationDrag, hit_test
from posebooth.viewport.orbit import OrbitView
from posebooth.viewport.picking import pick_joint, pick_person, pixel_ray, ray_mesh, view_plane_point

W, H = 800, 600


def _pose() -> PoseState:
    rng = np.random.default_rng(3)
    return PoseState(rng.normal(0, 0.2, 3), rng.normal(0, 0.2, (23, 3)), np.array([0.1, 0.95, -0.2]))


def _camera(view="front"):
    v = OrbitView(target=np.array([0.0, 1.0, 0.0]), distance=3.0)
    v.set_view(view)
    return v.camera(W, H)


def _angle_axis(R):
    rv = Rotation.from_matrix(R).as_rotvec()
    n = np.linalg.norm(rv)
    return n, rv / max(n, 1e-12)


def test_pixel_ray_passes_through_the_projected_point():
    cam = _camera()
    p = np.array([0.3, 1.4, 0.2])
    xy, _ = cam.project(p)
    o, d = pixel_ray(cam, *xy)
    assert np.linalg.norm(np.cross(p - o, d)) < 1e-9
    hit = view_plane_point(cam, *xy, through=p)
    assert np.allclose(hit, p)


def test_pick_joint_nearest_within_radius():
    cam = _camera()
    joints = np.array([[0.0, 1.0, 0.0], [0.5, 1.0, 0.0], [0.5, 1.0, 0.05]])  # 2 is in front of 1
    xy, _ = cam.project(joints)
    assert pick_joint(cam, joints, *(xy[0] + [3, -4])) == 0
    assert pick_joint(cam, joints, *(xy[0] + [30, 0])) is None
    # Two markers under the cursor: the one nearer the camera (drawn on top) wins.
    mid = (xy[1] + xy[2]) / 2
    assert np.linalg.norm(xy[1] - xy[2]) < 12 and pick_joint(cam, joints, *mid) == 2


def test_ray_mesh_and_pick_person():
    cam = _camera()
    box = trimesh.creation.box(extents=[0.4, 0.4, 0.4])
    far = box.copy()
    far.apply_translation([0.0, 1.0, -1.0])
    near = box.copy()
    near.apply_translation([0.0, 1.0, 0.5])
    xy, _ = cam.project(np.array([0.0, 1.0, 0.5]))
    o, d = pixel_ray(cam, *xy)
    t, face = ray_mesh(o, d, near.vertices, near.faces)
    assert t == pytest.approx(np.linalg.norm(cam.position - [0, 1, 0.7]), abs=1e-9)
    assert 0 <= face < len(near.faces)
    assert pick_person(cam, [far, near], *xy)[0] == 1
    assert pick_person(cam, [far, near], 5.0, 5.0) is None


def test_rotate_joint_composes_in_world():
    pose = _pose()
    delta = Rotation.from_rotvec([0.1, -0.2, 0.15]).as_matrix()
    for j in (0, J["left_shoulder"], J["right_knee"]):
        out = rotate_joint(pose, j, delta, limits=False)
        assert np.allclose(world_rotations(out)[j], delta @ world_rotations(pose)[j], atol=1e-9)
        others = [k for k in range(24) if k != j]
        assert np.array_equal(out.rotvecs()[others], pose.rotvecs()[others])


def test_rotate_joint_clamps():
    pose = PoseState(np.zeros(3), np.zeros((23, 3)), np.zeros(3))
    knee = J["left_knee"]
    out = rotate_joint(pose, knee, Rotation.from_rotvec([-1.5, 0, 0]).as_matrix())  # knees do not bend forwards
    assert out.body_pose[knee - 1][0] >= np.radians(-5) - 1e-9


def test_gizmo_hit_and_dial_rotation():
    cam = _camera()
    center = np.array([0.2, 1.1, 0.0])
    g = Gizmo.at(cam, center, np.eye(3), 80.0)
    c, _ = cam.project(center)
    ring_z, _ = cam.project(g.ring(2))                     # faces the camera in the front view
    p0 = ring_z[9]                                         # 45 degrees: on no other ring
    assert np.linalg.norm(p0 - c) == pytest.approx(80.0, rel=0.05)
    assert hit_test(g, cam, *p0) == "z"
    assert hit_test(g, cam, *(c + [5.0, 3.0])) == "trackball"
    assert hit_test(g, cam, *(c + [1.22 * 80.0, 0.0])) == "view"
    assert hit_test(g, cam, *(c + [300.0, 0.0])) is None
    drag = RotationDrag("z", g, cam, *p0)
    a = np.radians(30)
    r = p0 - c
    steps = [c + [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]] @ r for t in np.linspace(0, a, 7)[1:]]
    for s in steps:
        R = drag.rotation(*s)
    angle, axis = _angle_axis(R)
    # Clockwise on screen about a ring whose axis points at the viewer: -Z in world.
    assert angle == pytest.approx(a, abs=1e-6) and np.allclose(axis, [0, 0, -1], atol=1e-9)


def test_edge_on_ring_follows_the_tangent():
    cam = _camera()
    center = np.array([0.0, 1.0, 0.0])
    g = Gizmo.at(cam, center, np.eye(3), 80.0)
    # The X ring is edge-on in the front view: a vertical line through the centre.
    c, _ = cam.project(center)
    top = c + [0.0, -60.0]
    assert hit_test(g, cam, *top) == "x"
    drag = RotationDrag("x", g, cam, *top)
    assert not drag.dial
    # Dragging down across the line tips the ring's front point down: about +X.
    angle, axis = _angle_axis(drag.rotation(*(top + [0.0, 20.0])))
    assert np.allclose(axis, [1, 0, 0], atol=1e-9) and angle == pytest.approx(20.0 / 80.0, rel=0.1)
    # Dragging along the line does nothing.
    angle, _ = _angle_axis(drag.rotation(*(top + [20.0, 0.0])))
    assert angle < 1e-9


def test_gizmo_drag_keeps_the_press_pose():
    cam = _camera()
    pose = _pose()
    j = J["left_elbow"]
    joints, _ = forward_kinematics(pose.global_orient, pose.body_pose, pose.transl, REST_JOINTS)
    g = Gizmo.at(cam, joints[j], world_rotations(pose)[j], 80.0)
    c, _ = cam.project(joints[j])
    drag = GizmoDrag(pose, j, "trackball", g, cam, *c, limits=False)
    assert np.allclose(drag.pose_at(*c).rotvecs(), pose.rotvecs())
    moved = drag.pose_at(*(c + [40.0, 0.0]))
    assert not np.allclose(moved.rotvecs()[j], pose.rotvecs()[j])
    assert np.allclose(drag.pose_at(*c).rotvecs(), pose.rotvecs())   # back to the press: no drift


def test_move_drag_stays_on_the_ground_plane():
    v = OrbitView(target=np.array([0.0, 1.0, 0.0]), distance=3.0, yaw=0.3, pitch=0.6)
    cam = v.camera(W, H)
    pose = _pose()
    c, _ = cam.project(pose.transl)
    drag = MoveDrag(pose, cam, *c)
    out = drag.pose_at(*(c + [50.0, 20.0]))
    assert out.transl[1] == pose.transl[1] and np.array_equal(out.body_pose, pose.body_pose)
    # The pelvis lands under the cursor (the ray meets the plane there).
    xy, _ = cam.project(out.transl)
    assert np.allclose(xy, c + [50.0, 20.0], atol=1e-6)
