"""Props occlude people in the depth, mask and visibility outputs, with their
own instance ids; the depth control leaves out props with `in_depth` false.
Truth: trimesh ray casting of the scene including the prop, and rays from
the camera to each joint (independent of the renderer)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from posebooth.assets.posing import pose_people
from posebooth.assets.props import scene_props
from posebooth.assets.registry import get_body
from posebooth.assets.starter import starter_scene
from posebooth.frame.render import render_frame
from posebooth.scene.model import BodySpec
from posebooth.scene.props import primitive
from posebooth.scene.tracks import camera_at

pytestmark = pytest.mark.gl
SIZE = 64
# A low wall 0.6 m in front of the person (standing at z = 0, facing the
# camera on +z): it hides the legs up to about the knees, not the upper body.
WALL = dict(size=[1.2, 0.7, 0.05], position=[0.0, 0.0, 0.6])


@pytest.fixture(scope="module")
def body():
    return get_body(BodySpec())


def _scene(*props):
    scene = starter_scene(width=SIZE, height=SIZE)
    scene.props = list(props)
    return scene


@pytest.fixture(scope="module")
def frames(hr, body):
    """(scene, rendered frame) without and with the wall."""
    out = {}
    for name, props in (("bare", ()), ("wall", (primitive("box", **WALL),))):
        scene = _scene(*props)
        people = pose_people(scene, 0, lambda spec: body)
        out[name] = scene, render_frame(hr, people, camera_at(scene.camera, 0), 0,
                                        passes=("depth", "instance", "parts"), controls=("depth",),
                                        props=scene_props(scene))
    return out


def _camera_rays(camera):
    """World rays (origins, unit directions) through every pixel centre, and
    each direction's camera-frame z (depth = distance * z)."""
    j, i = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
    pix = np.stack([j.ravel(), i.ravel(), np.ones(j.size)], 1)
    d_cam = pix @ np.linalg.inv(camera.K).T
    d_cam /= np.linalg.norm(d_cam, axis=1, keepdims=True)
    R = camera.extrinsic[:3, :3]
    return np.repeat(camera.position[None], len(pix), 0), d_cam @ R, d_cam[:, 2]


def test_depth_agrees_with_ray_casting_the_scene_with_its_prop(frames):
    scene, rendered = frames["wall"]
    person, prop = rendered.people[0], rendered.props[0]
    mesh = trimesh.util.concatenate([trimesh.Trimesh(person.vertices, person.faces, process=False),
                                     trimesh.Trimesh(prop.vertices, prop.faces, process=False)])
    origins, dirs, z_of_dir = _camera_rays(rendered.camera)
    locs, ray_idx, _ = trimesh.ray.ray_triangle.RayMeshIntersector(mesh).intersects_location(
        origins, dirs, multiple_hits=True)
    expected = np.full(len(dirs), np.inf)
    dist = np.linalg.norm(locs - origins[ray_idx], axis=1)
    np.minimum.at(expected, ray_idx, dist * z_of_dir[ray_idx])
    expected = np.where(np.isfinite(expected), expected, 0.0).reshape(SIZE, SIZE)
    depth = rendered.passes.depth
    hit, rhit = depth > 0, expected > 0
    # Silhouette pixels may go either way (a pixel centre grazing an edge).
    assert np.count_nonzero(hit != rhit) <= 0.02 * hit.size
    both = hit & rhit
    err = np.abs(depth[both] - expected[both])
    assert np.quantile(err, 0.98) < 2e-3
    # The wall is really in the picture, in front of the body.
    wall = rendered.passes.instance == prop.instance_id
    assert wall.sum() > 50
    assert np.allclose(depth[wall], expected[wall], atol=2e-3)
    front = rendered.camera.position[2] - 0.625   # the wall's front face, seen nearly head-on
    assert abs(np.median(depth[wall]) - front) < 0.1


def test_prop_has_its_own_instance_id_and_part(frames):
    scene, rendered = frames["wall"]
    prop = rendered.props[0]
    assert prop.instance_id == len(scene.people) + 1 == 2
    ids = set(np.unique(rendered.passes.instance).tolist())
    assert ids == {0, 1, 2}
    assert set(np.unique(rendered.passes.parts[rendered.passes.instance == 2]).tolist()) == {25}


def test_a_wall_between_camera_and_person_hides_the_legs(frames):
    bare = frames["bare"][1].annotations()
    scene, rendered = frames["wall"]
    ann = rendered.annotations()
    person, prop = rendered.people[0], rendered.props[0]
    box = trimesh.Trimesh(prop.vertices, prop.faces, process=False)
    cam = rendered.camera.position
    joints = np.asarray(person.joints, float)
    dirs = joints - cam
    dist = np.linalg.norm(dirs, axis=1)
    locs, idx, _ = trimesh.ray.ray_triangle.RayMeshIntersector(box).intersects_location(
        np.repeat(cam[None], len(joints), 0), dirs / dist[:, None], multiple_hits=True)
    behind_wall = np.zeros(len(joints), bool)
    behind_wall[idx[np.linalg.norm(locs - cam, axis=1) < dist[idx]]] = True
    assert 4 <= behind_wall.sum() < 20          # the ankles and knees at least, not the head
    seen_before = bare.joints2d_vis[0] == 2
    assert (seen_before & behind_wall).sum() >= 4
    assert (ann.joints2d_vis[0][behind_wall] == 1).all()   # hidden, inside the image
    # Joints the wall does not cover keep their visibility.
    assert (ann.joints2d_vis[0][~behind_wall] == bare.joints2d_vis[0][~behind_wall]).all()
    # The visible mask (and its box) loses the legs.
    assert ann.mask_area[0] < bare.mask_area[0]


def test_a_prop_left_out_of_the_depth_control_still_occludes(hr, body, frames):
    """in_depth false: the depth control is that of the scene without the
    prop (byte for byte); the depth pass, the mask and visibility keep it."""
    bare_scene, bare = frames["bare"]
    _, wall = frames["wall"]
    scene = _scene(primitive("box", in_depth=False, **WALL))
    people = pose_people(scene, 0, lambda spec: body)
    rendered = render_frame(hr, people, camera_at(scene.camera, 0), 0, passes=("depth", "instance"),
                            controls=("depth",), props=scene_props(scene))
    control = rendered.controls(["depth"])["depth"]
    assert np.array_equal(control, bare.controls(["depth"])["depth"])
    assert not np.array_equal(control, wall.controls(["depth"])["depth"])
    assert np.array_equal(rendered.passes.depth, wall.passes.depth)
    assert np.array_equal(rendered.passes.instance, wall.passes.instance)
    assert np.array_equal(rendered.annotations().joints2d_vis, wall.annotations().joints2d_vis)


def test_export_lists_props_and_masks_them(tmp_path, hr, body):
    from posebooth.export.driver import export_scene

    scene = _scene(primitive("box", name="Low wall", **WALL))
    manifest = export_scene(scene, tmp_path / "out", passes=("mask", "depth"), renderer=hr,
                            body_for=lambda spec: body, progress=False, workers=1)
    props = manifest["props"]
    assert [(p["name"], p["kind"], p["instance_id"], p["in_depth"]) for p in props] == \
        [("Low wall", "box", 2, True)]
    lo, hi = np.array(props[0]["bounds"])
    assert np.allclose(lo, [-0.6, 0.0, 0.575]) and np.allclose(hi, [0.6, 0.7, 0.625])
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["props"] == props
    import imageio.v3 as iio
    mask = iio.imread(tmp_path / "out" / "mask" / "000000.png")
    assert set(np.unique(mask).tolist()) == {0, 1, 2}
