"""A recipe sample keeps what its pose preset rests on: a "sitting" person
sits on a seat block that comes with it, turned and moved with it, rendered
into the mask with its own instance id, never inside another person; a
jump ("air") stays the preset's 0.3 m up.

Every truth is the test's own: the seat's box from the prop's numbers in
plain math, the bodies posed again from the sample's scene (what a user
opening it gets), trimesh's inside test and ray casting, and a pinhole
projection with the record's camera."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import trimesh
from PIL import Image

from posebooth.assets.posing import pose_people_frames
from posebooth.assets.registry import get_body
from posebooth.dataset.placement import Body, interpenetrate
from posebooth.dataset.poses import PoseLibrary
from posebooth.dataset.prop_solids import PropSolid
from posebooth.dataset.recipe import Recipe
from posebooth.dataset.run import run_recipe
from posebooth.dataset.sampling import draw_sample
from posebooth.scene.model import BodySpec
from posebooth.scene.props import primitive

pytestmark = [pytest.mark.gl]

SITTING = {"samples": 4, "seed": 11, "camera": {"size": [64, 64]}, "people": {"count": [2, 2]},
           "placement": {"spacing_m": [0.45, 0.8], "max_tries": 40},
           "augment": {"joint_noise_deg": 0.0, "mirror": 0.5, "blend": 0.0},
           "output": {"shard_size": 4, "passes": ["render", "depth", "mask"]},
           "poses": [{"kind": "presets", "names": ["sitting"]}]}


def _jump_preset() -> str:
    """The shipped preset whose contact is "air" (read from the presets file itself)."""
    from importlib import resources
    data = json.loads(resources.files("posebooth").joinpath("resources", "pose_presets.json").read_bytes())
    return next(p["name"] for p in data["presets"] if p["contact"] == "air")


def _yaw_matrix(rotvec) -> np.ndarray:
    """A rotation about +Y given as an axis-angle (the seat's: x and z must be 0)."""
    assert abs(rotvec[0]) < 1e-9 and abs(rotvec[2]) < 1e-9, rotvec
    c, s = math.cos(rotvec[1]), math.sin(rotvec[1])
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _seat_box(prop) -> trimesh.Trimesh:
    """The seat as a box from its own numbers: base centre at position, turned, size x scale."""
    ext = np.asarray(prop.size) * prop.scale
    t = np.eye(4)
    t[:3, :3] = _yaw_matrix(prop.rotation)
    t[:3, 3] = np.asarray(prop.position) + [0.0, ext[1] / 2, 0.0]
    return trimesh.creation.box(extents=ext, transform=t)


def _seat_local(prop, points) -> np.ndarray:
    """Points in the seat's own axes (origin: its base centre), metres."""
    return (np.asarray(points, np.float64) - prop.position) @ _yaw_matrix(prop.rotation)


@pytest.fixture(scope="module")
def sitting(tmp_path_factory):
    recipe = Recipe.model_validate(SITTING)
    out = tmp_path_factory.mktemp("sitting")
    run_recipe(recipe, out, progress=False)
    library = PoseLibrary(recipe)
    samples = [draw_sample(recipe, i, library, get_body) for i in range(recipe.samples)]
    reposed = [pose_people_frames(s.scene, [0], get_body)[0] for s in samples]
    return recipe, out, samples, reposed


def test_each_sitting_person_sits_on_its_own_seat(sitting):
    _, _, samples, reposed = sitting
    seen = 0
    for sample, people in zip(samples, reposed):
        assert len(sample.scene.props) == len(sample.scene.people)
        for person, posed, prop in zip(sample.scene.people, people, sample.scene.props):
            assert prop.kind == "seat" and person.name in prop.name and person.on_ground
            top = prop.position[1] + prop.size[1] * prop.scale[1]
            local = _seat_local(prop, posed.vertices)
            w, d = prop.size[0] * prop.scale[0] / 2, prop.size[2] * prop.scale[2] / 2
            over = (np.abs(local[:, 0]) <= w) & (np.abs(local[:, 2]) <= d)
            assert over.sum() > 500                       # the body is over the seat, not beside it
            lowest = float(posed.vertices[over, 1].min())
            assert -0.005 <= lowest - top <= 0.03, f"{prop.name}: body {lowest - top:+.3f} m from the seat top"
            pelvis = _seat_local(prop, posed.joints[:1])[0]
            assert abs(pelvis[0]) <= w and abs(pelvis[2]) <= d, f"{prop.name}: pelvis not over the seat"
            # Turned with the person: the seat's own +z is where the thighs point.
            knees = posed.joints[[4, 5]].mean(0)
            thighs = (knees - posed.joints[0]) * [1.0, 0.0, 1.0]
            forward = _yaw_matrix(prop.rotation) @ [0.0, 0.0, 1.0]
            assert thighs @ forward / np.linalg.norm(thighs) > 0.9, f"{prop.name}: not turned with the person"
            seen += 1
    assert seen >= 6


def test_no_person_is_inside_another_persons_seat(sitting):
    _, _, samples, reposed = sitting
    pairs = 0
    for sample, people in zip(samples, reposed):
        for i, posed in enumerate(people):
            for j, prop in enumerate(sample.scene.props):
                if j != i:
                    inside = int(_seat_box(prop).contains(posed.vertices[::5]).sum())
                    assert inside <= 3, f"{inside} vertices of {sample.scene.people[i].name} inside {prop.name}"
                    pairs += 1
    assert pairs >= 4


def _first_ids(meshes, ids, origin, dirs) -> np.ndarray:
    """The id of the mesh each ray from `origin` along `dirs` meets first (0: none)."""
    best, who = np.full(len(dirs), np.inf), np.zeros(len(dirs), int)
    for mesh, i in zip(meshes, ids):
        locs, ray, _ = mesh.ray.intersects_location(np.repeat(origin[None], len(dirs), 0), dirs)
        for r, loc in zip(ray, locs):
            t = float(np.linalg.norm(loc - origin))
            if t < best[r]:
                best[r], who[r] = t, i
    return who


def test_the_mask_shows_each_seat_with_its_own_instance_id(sitting):
    """Points across each seat's top and sides, projected with the record's
    camera; where trimesh's ray casting through that pixel and its eight
    neighbours meets the same thing (not at an edge, at 64 px), the mask
    must show its id: the seat's own (P + 1 + i), or the person in front."""
    recipe, out, samples, reposed = sitting
    W, H = recipe.camera.size
    seat_pixels = person_pixels = 0
    for sample, people in zip(samples, reposed):
        with np.load(out / ".posebooth" / "samples" / "000000" / f"{sample.index:08d}.npz") as rec:
            K, ext, meta = rec["cam_K"][0], rec["cam_ext"][0], json.loads(str(rec["meta"]))
        mask = np.asarray(Image.open(out / "shards" / "000000" / "mask" / f"{sample.index:08d}_000.png"))
        P = len(sample.scene.people)
        # The record lists the props as a scene export's dataset.json does.
        assert [(p["name"], p["instance_id"]) for p in meta["props"]] == [
            (q.name, P + 1 + i) for i, q in enumerate(sample.scene.props)]
        centre = -ext[:3, :3].T @ ext[:3, 3]
        meshes = [trimesh.Trimesh(p.vertices, p.faces, process=False) for p in people]
        meshes += [_seat_box(q) for q in sample.scene.props]
        ids = list(range(1, P + 1)) + [P + 1 + i for i in range(len(sample.scene.props))]
        for i, prop in enumerate(sample.scene.props):
            e = np.asarray(prop.size) * prop.scale
            u = (-0.3, 0.0, 0.3)
            local = [[a * e[0], e[1], b * e[2]] for a in u for b in u]          # the top face, its centre first
            local += [[a * e[0], e[1] * h, s * e[2] / 2] for a in u for h in (0.3, 0.7) for s in (-1, 1)]
            local += [[s * e[0] / 2, e[1] * h, b * e[2]] for b in u for h in (0.3, 0.7) for s in (-1, 1)]
            world = np.asarray(local) @ _yaw_matrix(prop.rotation).T + prop.position
            cam = world @ ext[:3, :3].T + ext[:3, 3]
            px = cam[:, :2] / cam[:, 2:] * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
            for c, r in np.rint(px).astype(int):
                if not (1 <= c < W - 1 and 1 <= r < H - 1):
                    continue
                grid = np.array([[c + dc, r + dr, 1.0] for dr in (-1, 0, 1) for dc in (-1, 0, 1)])
                dirs = (grid @ np.linalg.inv(K).T) @ ext[:3, :3]                # camera rays, in the world
                hit = _first_ids(meshes, ids, centre, dirs / np.linalg.norm(dirs, axis=1, keepdims=True))
                if len(set(hit)) != 1 or hit[0] == 0:
                    continue                                                    # an edge: either may show
                assert mask[r, c] == hit[0], f"{prop.name} at pixel ({c}, {r}): mask {mask[r, c]}, rays {hit[0]}"
                seat_pixels += int(hit[0] == P + 1 + i)
                person_pixels += int(hit[0] <= P)
    assert seat_pixels >= 30 and person_pixels >= 10, (seat_pixels, person_pixels)


def test_the_samples_are_the_same_when_drawn_again(sitting):
    recipe, _, samples, _ = sitting
    again = draw_sample(recipe, samples[1].index, PoseLibrary(recipe), get_body)
    assert again.scene.props == samples[1].scene.props
    assert again.scene.people == samples[1].scene.people


def test_a_jump_stays_in_the_air_through_augmentation():
    name = _jump_preset()
    recipe = Recipe.model_validate({
        "samples": 4, "seed": 2, "camera": {"size": [64, 64]}, "people": {"count": [1, 2]},
        "augment": {"joint_noise_deg": 6.0, "mirror": 0.5, "blend": 0.0},
        "poses": [{"kind": "presets", "names": [name]}]})
    library = PoseLibrary(recipe)
    for index in range(3):
        sample = draw_sample(recipe, index, library, get_body)
        assert not sample.scene.props
        reposed = pose_people_frames(sample.scene, [0], get_body)[0]
        for person, posed, handed_on in zip(sample.scene.people, reposed, sample.posed[0]):
            assert not person.on_ground
            np.testing.assert_allclose(handed_on.vertices, posed.vertices, atol=2e-5)   # what is rendered
            np.testing.assert_allclose(handed_on.pose.transl, posed.pose.transl, atol=2e-5)
            lowest = float(posed.vertices[:, 1].min())
            assert abs(lowest - 0.3) < 0.01, f"sample {index}: the jump's lowest point is {lowest:.3f} m up"


def test_a_blend_of_a_jump_with_a_standing_pose_is_grounded():
    recipe = Recipe.model_validate({
        "samples": 2, "seed": 4, "camera": {"size": [64, 64]}, "people": {"count": [3, 3]},
        "augment": {"joint_noise_deg": 0.0, "mirror": 0.0, "blend": 1.0},
        "poses": [{"kind": "presets", "names": [_jump_preset(), "standing"]}]})
    library = PoseLibrary(recipe)
    kinds = set()
    for index in range(2):
        sample = draw_sample(recipe, index, library, get_body)
        for person, posed, source in zip(sample.scene.people, pose_people_frames(sample.scene, [0], get_body)[0],
                                         sample.pose_sources):
            both_air = source.count(_jump_preset()) == 2
            kinds.add(both_air)
            assert person.on_ground == (not both_air), source
            assert abs(float(posed.vertices[:, 1].min()) - (0.3 if both_air else 0.0)) < 0.01, source
    assert kinds == {True, False}, "the draws should give both a jump+jump and a mixed blend"


def test_the_prop_clash_test_agrees_with_trimesh():
    prop = primitive("seat", size=[0.45, 0.4, 0.35], position=[0.2, 0.0, -0.1], rotation=[0.0, 0.7, 0.0])
    cyl = primitive("cylinder", size=[0.3, 0.8, 0.5], position=[-0.3, 0.0, 0.2], rotation=[0.0, -1.1, 0.0])
    pts = np.random.default_rng(0).uniform([-0.8, -0.1, -0.8], [0.8, 1.0, 0.8], (20000, 3))
    for q, mesh in ((prop, _seat_box(prop)), (cyl, None)):
        if mesh is None:   # an elliptic prism, base on its position, turned about +Y
            local = _seat_local(q, pts)
            ref = ((local[:, 0] / 0.15) ** 2 + (local[:, 2] / 0.25) ** 2 < 1) & (local[:, 1] > 0) & (local[:, 1] < 0.8)
            expected = int(ref.sum())
        else:
            expected = int(mesh.contains(pts).sum())
        got = PropSolid(q).inside_count(pts, 0.0)
        assert expected > 300 and abs(got - expected) <= 0.01 * expected, (q.kind, got, expected)
    body = get_body(BodySpec())
    out = body.forward(np.zeros((1, 3)), np.zeros((1, 23, 3)), np.array([[0.2, 0.5, -0.1]]))
    sunk = Body(out.vertices[0] - [0.0, out.vertices[0][:, 1].min(), 0.0] + [0.0, 0.2, 0.0], body.faces)
    assert interpenetrate(sunk, PropSolid(prop))          # standing in the seat block from 0.2 m up
    above = Body(out.vertices[0] - [0.0, out.vertices[0][:, 1].min() - 0.42, 0.0], body.faces)
    assert not interpenetrate(above, PropSolid(prop))     # standing on it
