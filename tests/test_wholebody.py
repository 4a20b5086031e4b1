"""COCO-WholeBody keypoints, the OpenPose-full control and the openpose_json
pass on the real anny body, against independent references: the plain
pinhole formula, trimesh ray casting, xtcocotools' loader, the HSV palette
of controlnet_aux's draw_handpose computed here, and the exported arrays."""
from __future__ import annotations

import colorsys
import json
from importlib import resources

import numpy as np
import pytest

from posebooth.assets.posing import pose_people
from posebooth.assets.starter import starter_scene
from posebooth.frame.render import render_frame
from posebooth.scene.model import CameraKey
from posebooth.scene.tracks import camera_at

pytestmark = [pytest.mark.gl]
S = 128
LH, RH = slice(91, 112), slice(112, 133)


def _preset(name, side):
    from posebooth.assets.hand_presets import hand_preset
    return hand_preset(name, side).reshape(-1).tolist()


@pytest.fixture(scope="module")
def posed():
    """One person: right fist, left "v", a smile; and a person with the T-pose."""
    sc = starter_scene(people=1, width=S, height=S)
    key = sc.people[0].keys[0]
    key.right_hand_pose, key.left_hand_pose = _preset("fist", "right"), _preset("v", "left")
    key.expression = {"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8, "jawOpen": 0.3}
    return sc, pose_people(sc, 0)


def _shot(hr, sc, people, position, target, focal=35.0, openpose="full"):
    sc.camera.keys = [CameraKey(frame=0, position=list(position), target=list(target), focal_mm=focal)]
    cam = camera_at(sc.camera, 0)
    return render_frame(hr, people, cam, 0, controls=("openpose",), openpose=openpose), cam


@pytest.fixture(scope="module")
def shots(hr, posed):
    """Close-ups: the right fist from the side and above, the left hand from
    below (palm side), the face three-quarters, the feet."""
    sc, people = posed
    p = people[0]
    rh, lh, nose = p.hand21[1].mean(0), p.hand21[0].mean(0), p.coco17[0]
    feet = p.vertices[p.vertices[:, 1] < p.vertices[:, 1].min() + 0.1].mean(0)
    views = [(rh + [-0.1, 0.25, 0.2], rh), (lh + [0.05, -0.3, 0.1], lh),
             (nose + [0.3, 0.05, 0.4], nose), (feet + [0.5, 0.5, 0.8], feet)]
    return [_shot(hr, sc, people, pos, tgt) for pos, tgt in views]


def test_reprojection_of_all_133_points(posed, shots):
    """x, y = K (R X + t) with X the stored vertices (face, feet), the posed
    finger bones and tips (hand21) and COCO-17: within 1e-3 px."""
    _, people = posed
    p = people[0]
    data = json.loads(resources.files("posebooth.resources").joinpath("anny_wholebody.json").read_text())
    surface = np.array([np.asarray(d["weights"]) @ np.asarray(p.vertices, np.float64)[d["vertices"]]
                        for d in data["points"]])
    world = np.concatenate([p.coco17, surface, p.hand21.reshape(42, 3)]).astype(np.float64)
    checked = 0
    for rendered, cam in shots:
        a = rendered.annotations()
        R, t = cam.extrinsic[:3, :3].astype(np.float64), cam.extrinsic[:3, 3].astype(np.float64)
        K = np.asarray(cam.K, np.float64)
        X = world @ R.T + t
        np.testing.assert_allclose(a.wholebody133_cam[0], X, atol=2e-5)
        u = K[0, 0] * X[:, 0] / X[:, 2] + K[0, 1] * X[:, 1] / X[:, 2] + K[0, 2]
        v = K[1, 1] * X[:, 1] / X[:, 2] + K[1, 2]
        seen = a.wholebody133[0, :, 2] > 0
        err = np.hypot(a.wholebody133[0, seen, 0] - u[seen], a.wholebody133[0, seen, 1] - v[seen])
        assert err.max() <= 1e-3
        inside = (X[:, 2] > 0) & (u >= 0) & (u < S) & (v >= 0) & (v < S)
        np.testing.assert_array_equal(seen, inside)
        checked += seen.sum()
    assert checked > 150


def test_visibility_agrees_with_ray_casting(posed, shots):
    """v against the first hit of a ray from the camera centre to the point
    on the posed mesh (trimesh). Clear-cut cases only: a surface point (face,
    feet, fingertips) is visible when the first hit is within 5 mm of it and
    hidden when it is more than 4 cm in front; a finger joint (inside the
    finger) visible when the first hit is within 12 mm, hidden beyond 5 cm."""
    import trimesh
    from posebooth.assets.wholebody import SURFACE

    _, people = posed
    p = people[0]
    mesh = trimesh.Trimesh(np.asarray(p.vertices, np.float64), p.faces, process=False)
    agree = total = hidden = 0
    for rendered, cam in shots:
        a = rendered.annotations()
        centre = -cam.extrinsic[:3, :3].T @ cam.extrinsic[:3, 3]
        world = (a.wholebody133_cam[0] - cam.extrinsic[:3, 3]) @ cam.extrinsic[:3, :3]
        ids = [i for i in range(17, 133) if a.wholebody133[0, i, 2] > 0]
        dirs = world[ids] - centre
        dist = np.linalg.norm(dirs, axis=1)
        dirs /= dist[:, None]
        locs, ray, _ = mesh.ray.intersects_location(np.repeat(centre[None], len(ids), 0), dirs,
                                                    multiple_hits=False)
        first = np.full(len(ids), np.inf)
        for r, loc in zip(ray, locs):
            first[r] = min(first[r], np.linalg.norm(loc - centre))
        for n, i in enumerate(ids):
            ahead = dist[n] - first[n]          # how far in front of the point the first hit is
            near, far = (0.005, 0.04) if SURFACE[i] else (0.012, 0.05)
            truth = True if ahead <= near else False if ahead > far else None
            if truth is None:
                continue
            total += 1
            hidden += not truth
            agree += truth == (a.wholebody133[0, i, 2] == 2)
    assert total >= 80 and hidden >= 10
    assert agree / total >= 0.95, (agree, total, hidden)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, posed):
    from posebooth.export.driver import export_scene
    sc, _ = posed
    sc = sc.model_copy(deep=True)
    sc.camera.keys = [CameraKey(frame=0, position=[0.3, 1.2, 3.0], target=[0, 1.0, 0])]
    out = tmp_path_factory.mktemp("wholebody")
    export_scene(sc, out, passes=("render", "mask", "openpose_json"), progress=False, workers=1)
    return out


def test_coco_wholebody_loads_with_xtcocotools_and_boxes_hold_their_points(exported):
    from xtcocotools.coco import COCO

    a = np.load(exported / "annotations.npz")
    assert a["wholebody133"].shape == (1, 1, 133, 3) and a["wholebody133_cam"].shape == (1, 1, 133, 3)
    assert a["left_hand_pose"].shape == (1, 1, 45) and a["expression"].shape[:2] == (1, 1)
    names = json.loads((exported / "dataset.json").read_text())["expression_names"]
    assert a["expression"][0, 0, names.index("mouthSmileLeft")] == pytest.approx(0.8)
    assert json.loads((exported / "dataset.json").read_text())["format_version"] == 2
    coco = COCO(str(exported / "coco_wholebody.json"))
    (ann,) = coco.loadAnns(coco.getAnnIds())
    wb = a["wholebody133"][0, 0]
    parts = {"foot": (17, 23), "face": (23, 91), "lefthand": (91, 112), "righthand": (112, 133)}
    np.testing.assert_allclose(np.reshape(ann["keypoints"], (17, 3))[:, :2], np.where(wb[:17, 2:] > 0, wb[:17, :2], 0),
                               atol=1e-3)
    valid = 0
    for part, (lo, hi) in parts.items():
        kp = np.reshape(ann[f"{part}_kpts"], (-1, 3))
        assert len(kp) == hi - lo
        np.testing.assert_array_equal(kp[:, 2], wb[lo:hi, 2])
        assert ann[f"{part}_valid"] == bool((wb[lo:hi, 2] == 2).any())
        if part == "foot" or not ann[f"{part}_valid"]:
            continue
        valid += 1
        x, y, w, h = ann[f"{part}_box"]
        shown = kp[kp[:, 2] > 0, :2]
        assert (shown[:, 0] >= x).all() and (shown[:, 0] <= x + w).all()
        assert (shown[:, 1] >= y).all() and (shown[:, 1] <= y + h).all()
    assert valid == 3


def test_openpose_json_equals_the_exported_keypoints(exported):
    wb = np.load(exported / "annotations.npz")["wholebody133"][0, 0].astype(np.float64)
    data = json.loads((exported / "openpose" / "000000_keypoints.json").read_text())
    (person,) = data["people"]

    def same(flat, idx):
        got = np.reshape(flat, (-1, 3))
        want = wb[idx]
        shown = want[:, 2] > 0
        np.testing.assert_allclose(got[shown, :2], want[shown, :2], atol=5e-4)
        np.testing.assert_allclose(got[:, 2], np.where(shown, want[:, 2] / 2, 0))

    # BODY_25 (OpenPose's order) without its two midpoints (neck 1, mid-hip 8).
    body25 = [0, None, 6, 8, 10, 5, 7, 9, None, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3, 17, 18, 19, 20, 21, 22]
    pose = np.reshape(person["pose_keypoints_2d"], (25, 3))
    keep = [k for k, i in enumerate(body25) if i is not None]
    same(pose[keep].ravel(), [body25[k] for k in keep])
    np.testing.assert_allclose(pose[1, :2], wb[[5, 6], :2].mean(0), atol=5e-4)
    same(person["hand_left_keypoints_2d"], list(range(91, 112)))
    same(person["hand_right_keypoints_2d"], list(range(112, 133)))
    same(np.reshape(person["face_keypoints_2d"], (70, 3))[:68].ravel(), list(range(23, 91)))


def _hand_colours():
    return [tuple(round(c * 255) for c in colorsys.hsv_to_rgb(i / 20, 1.0, 1.0)) for i in range(20)]


def test_openpose_full_draws_hands_in_their_palette(hr, posed):
    """Seen from below, the open left hand ("v"): blue (0, 0, 255) discs at
    its projected joints and the palette colour of each finger's edges
    along them; the body-only image has none of it."""
    sc, people = posed
    sc = sc.model_copy(deep=True)
    sc.camera.width = sc.camera.height = 2 * S     # the lines show between the 4-pixel discs
    lh = people[0].hand21[0].mean(0)
    r, _ = _shot(hr, sc, people, lh + [0.0, -0.25, 0.05], lh, openpose="body+hands")
    img = r.controls(["openpose"])["openpose"]
    body, _ = _shot(hr, sc, people, lh + [0.0, -0.25, 0.05], lh, openpose="body")
    body_img = body.controls(["openpose"])["openpose"]
    kp = r.annotations().wholebody133[0, LH]
    assert (kp[:, 2] > 0).all()
    at = lambda image, p: tuple(image[int(p[1]), int(p[0])])
    joints = [at(img, p) == (0, 0, 255) for p in kp]
    assert np.mean(joints) >= 0.9
    assert not any(at(body_img, p) == (0, 0, 255) for p in kp[1:])
    colours = _hand_colours()
    edges = [(0 if k == 0 else 4 * f + k, 4 * f + k + 1) for f in range(5) for k in range(4)]
    hits = tried = 0
    for i, (a, b) in enumerate(edges):
        length = np.hypot(*(kp[b, :2] - kp[a, :2]))
        if length < 14:        # too short to show its line between the two discs
            continue
        tried += 1
        mid = (kp[a, :2] + kp[b, :2]) / 2
        near = img[int(mid[1]) - 1:int(mid[1]) + 2, int(mid[0]) - 1:int(mid[0]) + 2].reshape(-1, 3)
        hits += any(tuple(c) == colours[i] for c in near)
    assert tried >= 12 and hits >= 0.8 * tried, (hits, tried)


def test_a_hand_hidden_by_another_person_is_not_drawn(hr):
    """Person 2 stands in front of person 1's right hand: those joints are
    hidden by another person, and no hand disc is drawn there, while person
    1's left hand is drawn."""
    sc = starter_scene(people=2, width=S, height=S)
    sc.people[0].keys[0].transl = [0.0, 0.93, 0.0]
    sc.people[1].keys[0].transl = [-0.8, 0.93, 0.7]
    sc.camera.keys = [CameraKey(frame=0, position=[0.0, 1.4, 4.0], target=[0.0, 1.3, 0.0], focal_mm=35)]
    people = pose_people(sc, 0)
    r = render_frame(hr, people, camera_at(sc.camera, 0), 0, controls=("openpose",), openpose="full")
    a = r.annotations()
    img = r.controls(["openpose"])["openpose"]
    hidden = a.wholebody_by_other[0, RH]
    assert hidden[1:].all()
    blue = np.all(img == (0, 0, 255), axis=-1)
    for x, y, v in a.wholebody133[0, RH][1:]:
        assert not blue[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2].any()
    left = a.wholebody133[0, LH]
    assert (left[:, 2] == 2).sum() >= 15
    assert sum(blue[int(y), int(x)] for x, y, v in left) >= 15


@pytest.mark.hostile
def test_points_chosen_on_another_mesh_are_refused_in_one_line(posed):
    """A body whose mesh is not the one the face points were chosen on (an
    anny of another topology): one line naming the data file, not an
    IndexError deep in numpy."""
    from dataclasses import replace

    from posebooth.assets.wholebody import WholeBodyDataError, wholebody_points

    _, people = posed
    other = replace(people[0], vertices=people[0].vertices[:5000])
    with pytest.raises(WholeBodyDataError, match=r"anny_wholebody\.json: chosen on a mesh of \d+ vertices") as e:
        wholebody_points(other)
    assert "\n" not in str(e.value)
