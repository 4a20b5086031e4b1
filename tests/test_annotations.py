"""Annotations against independent references: the plain pinhole formula for
projection, hand-built occlusion cases for visibility (export.annotations)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fake_body import fake_body_for
from posebooth.assets.posing import pose_people
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.frame.annotations import MARGIN, annotate_frame, point_visibility, visible_bbox
from posebooth.scene.camera import Camera, look_at
from posebooth.scene.model import CameraKey
from posebooth.assets.starter import starter_scene
from posebooth.scene.tracks import camera_at

W, H = 128, 96


def _scene(people=1, cam_pos=(0.0, 1.0, 4.0), target=(0.0, 0.9, 0.0), width=W, height=H):
    sc = starter_scene(people=people, width=width, height=height)
    sc.camera.keys = [CameraKey(frame=0, position=list(cam_pos), target=list(target))]
    return sc


def _pose(scene, person, rotvecs: dict[str, np.ndarray]):
    bp = np.array(scene.people[person].keys[0].body_pose).reshape(23, 3)
    for name, rv in rotvecs.items():
        bp[J[name] - 1] = rv
    scene.people[person].keys[0].body_pose = bp.ravel().tolist()


def _hand_behind_back(scene, person=0):
    """Left upper arm down and back, forearm down and across behind the back
    (world rotations; the parents of the shoulder are unposed)."""
    g_shoulder = Rotation.from_euler("x", 0.8) * Rotation.from_euler("z", -1.45)
    g_elbow = Rotation.from_euler("z", np.radians(230))  # forearm (+X at rest) -> down and to -X
    _pose(scene, person, {"left_shoulder": g_shoulder.as_rotvec(),
                          "left_elbow": (g_shoulder.inv() * g_elbow).as_rotvec()})


def _arms_down(scene, person=0):
    _pose(scene, person, {"left_shoulder": np.array([0, 0, -1.3]),
                          "right_shoulder": np.array([0, 0, 1.3])})




def _annotate(hr, scene):
    from posebooth.viewport.renderer import RenderMesh
    people = pose_people(scene, 0, body_for=fake_body_for)
    cam = camera_at(scene.camera, 0)
    meshes = [RenderMesh(p.vertices, p.faces, p.part_labels, p.index + 1, p.color) for p in people]
    rp = hr.render(meshes, cam, ("depth", "instance"))
    return annotate_frame(people, cam, rp.depth, rp.instance, 0), rp, cam


# -- geometry (no GL: synthetic passes) -----------------------------------------
def test_joints_project_with_the_plain_pinhole_formula():
    sc = _scene(cam_pos=(1.3, 1.6, 3.1), target=(0.1, 0.8, -0.2))
    people = pose_people(sc, 0, body_for=fake_body_for)
    K = np.array([[301.0, 0.0, 57.3], [0.0, 288.5, 51.9], [0.0, 0.0, 1.0]])
    ext = look_at([1.3, 1.6, 3.1], [0.1, 0.8, -0.2], roll=0.3)
    cam = Camera(K=K, extrinsic=ext, width=W, height=H)
    depth = np.zeros((H, W), np.float32)
    inst = np.zeros((H, W), np.uint8)
    a = annotate_frame(people, cam, depth, inst, 7, seed=-1)

    world = people[0].joints.astype(np.float64)
    cam_ref = world @ ext[:3, :3].T + ext[:3, 3]          # [R|t] applied to world points
    np.testing.assert_allclose(a.joints3d_cam[0], cam_ref, atol=1e-6)
    u = K[0, 0] * cam_ref[:, 0] / cam_ref[:, 2] + K[0, 2]
    v = K[1, 1] * cam_ref[:, 1] / cam_ref[:, 2] + K[1, 2]
    np.testing.assert_allclose(a.joints2d[0], np.stack([u, v], 1), atol=1e-3)
    np.testing.assert_allclose(a.joints3d_world[0], world, atol=1e-6)
    np.testing.assert_array_equal(a.cam_K, K)
    np.testing.assert_array_equal(a.cam_ext, ext)
    # Nothing rendered in front of any joint: every joint inside the image is visible.
    inside = (u >= 0) & (u < W) & (v >= 0) & (v < H) & (cam_ref[:, 2] > 0)
    np.testing.assert_array_equal(a.joints2d_vis[0], np.where(inside, 2, 0))
    arrays = a.to_arrays()
    assert arrays["joints2d_vis"].dtype == np.uint8 and arrays["frame_index"] == 7


def test_visibility_rule_on_synthetic_passes():
    """One point in front of a flat 'body' at z = 3: own-surface within the
    tolerance is visible, a nearer own surface occludes, another person in
    front occludes, another person behind does not."""
    K = np.array([[100.0, 0, 50.0], [0, 100.0, 50.0], [0, 0, 1]])
    cam = Camera(K=K, extrinsic=np.eye(4), width=100, height=100)
    point = np.array([[0.0, 0.0, 3.0]])           # projects to (50, 50)
    verts = np.zeros((1, 3)) + [0, 0, 10.0]       # no own skin near the ray: t = 0
    labels = np.zeros(1, np.uint8)
    owners = np.array([0])

    def vis(d, who):
        depth = np.full((100, 100), d, np.float32)
        inst = np.full((100, 100), who, np.uint8)
        return point_visibility(point, owners, 1, verts, labels, cam, depth, inst)[2][0]

    assert vis(0.0, 0) == 2                        # background at the pixel
    assert vis(3.0 - MARGIN + 0.005, 1) == 2       # own surface within the margin
    assert vis(3.0 - MARGIN - 0.01, 1) == 1        # own surface farther in front: occluded
    assert vis(2.9, 2) == 1                        # another person in front
    assert vis(3.2, 2) == 2                        # another person behind the point
    behind = point_visibility(np.array([[0.0, 0.0, -1.0]]), owners, 1, verts, labels, cam,
                              np.zeros((100, 100), np.float32), np.zeros((100, 100), np.uint8))
    assert behind[2][0] == 0                       # behind the camera


def test_bbox_is_the_visible_mask_extent():
    inst = np.zeros((20, 30), np.uint8)
    inst[5:9, 10:21] = 2
    inst[7, 3] = 2
    box, area = visible_bbox(inst, 2)
    np.testing.assert_array_equal(box, [3, 5, 21 - 3, 9 - 5])   # w = max_col + 1 - min_col
    assert area == 4 * 11 + 1
    box, area = visible_bbox(inst, 1)
    assert not box.any() and area == 0


# -- rendered occlusion cases -------------------------------------------------------
@pytest.mark.gl
def test_hand_behind_the_back_is_occluded_from_the_front(hr):
    sc = _scene(people=1)
    _hand_behind_back(sc)
    a, _, _ = _annotate(hr, sc)
    vis = a.joints2d_vis[0]
    assert vis[J["left_wrist"]] == 1 and vis[J["left_hand"]] == 1
    assert vis[J["right_wrist"]] == 2 and vis[J["right_hand"]] == 2
    assert vis[J["pelvis"]] == 2 and vis[J["head"]] == 2
    coco_v = a.coco17[0, :, 2]
    assert coco_v[9] == 1 and coco_v[10] == 2          # left / right wrist
    # From behind, the same hand is in plain view.
    back = _scene(people=1, cam_pos=(0.0, 1.0, -4.0))
    _hand_behind_back(back)
    a2, _, _ = _annotate(hr, back)
    assert a2.joints2d_vis[0, J["left_wrist"]] == 2


@pytest.mark.gl
def test_far_side_elbow_is_occluded_in_a_side_view(hr):
    sc = _scene(people=1, cam_pos=(4.0, 1.0, 0.0))       # camera on the body's left (+X)
    _arms_down(sc)
    a, _, _ = _annotate(hr, sc)
    vis = a.joints2d_vis[0]
    assert vis[J["left_elbow"]] == 2 and vis[J["left_knee"]] == 2
    assert vis[J["right_elbow"]] == 1 and vis[J["right_knee"]] == 1
    assert a.coco17[0, 3, 2] == 2 and a.coco17[0, 4, 2] == 1   # near / far ear


@pytest.mark.gl
def test_person_behind_another_is_occluded(hr):
    sc = _scene(people=2)
    sc.people[0].keys[0].transl = [0.0, 0.93, 0.0]
    sc.people[1].keys[0].transl = [0.0, 0.93, -1.0]
    a, rp, _ = _annotate(hr, sc)
    front, back = a.joints2d_vis
    assert (front == 2).all()
    for name in ("pelvis", "spine1", "spine2", "spine3", "left_knee", "right_knee", "neck"):
        assert back[J[name]] == 1, name
    assert a.coco17[1, 0, 2] == 1                         # the nose behind a head
    # The back person's arms stick out beyond the front person's silhouette.
    assert back[J["left_hand"]] == 2 and back[J["right_hand"]] == 2


@pytest.mark.gl
def test_joints_outside_the_frame_are_zero(hr):
    sc = _scene(people=1, cam_pos=(0.0, 1.5, 1.6), target=(0.0, 1.4, 0.0))   # head and chest only
    a, rp, cam = _annotate(hr, sc)
    vis = a.joints2d_vis[0]
    for name in ("left_ankle", "right_ankle", "left_foot", "right_foot", "left_knee", "right_knee"):
        assert vis[J[name]] == 0, name
        assert a.joints2d[0, J[name], 1] >= H                  # below the image
    assert vis[J["head"]] == 2 and vis[J["left_shoulder"]] == 2 and vis[J["right_shoulder"]] == 2
    assert a.coco17[0, 15, 2] == 0 and a.coco17[0, 0, 2] == 2   # ankle out, nose in
    # The box is the visible mask, clipped to the image.
    box = a.bbox[0]
    assert box[1] + box[3] == H and box[0] >= 0
    rows, cols = np.nonzero(rp.instance == 1)
    np.testing.assert_array_equal(box, [cols.min(), rows.min(), cols.max() + 1 - cols.min(),
                                        rows.max() + 1 - rows.min()])
