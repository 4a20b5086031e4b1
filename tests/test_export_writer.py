"""A full export on the test body, checked against FORMAT.md and against the
renderer's float passes (export.writer / export.driver)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import trimesh

from fake_body import fake_body_for
from posebooth.assets.posing import pose_people
from posebooth.export.driver import GeneratedFrame, export_scene
from posebooth.export.writer import PASSES
from posebooth.frame import conditioning
from posebooth.scene.io import scene_to_json
from posebooth.scene.model import ControlSetting
from posebooth.assets.starter import starter_scene
from posebooth.scene.tracks import camera_at

pytestmark = pytest.mark.gl

W, H, FRAMES = 128, 96, 3
NPZ = {  # key: (dtype, shape after F with P people)
    "frame_index": (np.int32, ()), "cam_K": (np.float32, (3, 3)), "cam_ext": (np.float32, (4, 4)),
    "global_orient": (np.float32, ("P", 3)), "body_pose": (np.float32, ("P", 69)),
    "transl": (np.float32, ("P", 3)), "betas": (np.float32, ("P", None)),
    "body_shape": (np.float32, ("P", None)), "joints3d_world": (np.float32, ("P", 24, 3)),
    "joints3d_cam": (np.float32, ("P", 24, 3)), "joints2d": (np.float32, ("P", 24, 2)),
    "joints2d_vis": (np.uint8, ("P", 24)), "coco17": (np.float32, ("P", 17, 3)),
    "bbox": (np.float32, ("P", 4)), "seed": (np.int64, ()),
    "wholebody133": (np.float32, ("P", 133, 3)), "wholebody133_cam": (np.float32, ("P", 133, 3)),
    "left_hand_pose": (np.float32, ("P", 45)), "right_hand_pose": (np.float32, ("P", 45)),
    "expression": (np.float32, ("P", 52)),
}
MANIFEST_KEYS = {"format", "format_version", "app_version", "created", "image_size", "fps", "frames",
                 "people", "passes", "body_models", "generator", "complete", "props", "expression_names"}




def _scene():
    sc = starter_scene(people=2, width=W, height=H, frames=FRAMES)
    for person in sc.people:   # the rows below are checked against the keys' own transl
        person.on_ground = False
    sc.people[1].keys[0].transl = [0.3, 0.93, -0.7]          # partly behind person 1
    moved = sc.people[0].keys[0].model_copy(update={"frame": FRAMES - 1,
                                                    "transl": [-0.5, 0.93, 0.2]})
    sc.people[0].keys.append(moved)
    sc.generation.controls = [ControlSetting(kind="depth"), ControlSetting(kind="openpose"),
                              ControlSetting(kind="normal")]
    return sc


@pytest.fixture(scope="module")
def export(hr, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "out"
    sc = _scene()
    manifest = export_scene(sc, out, passes=PASSES, video=True, renderer=hr,
                            body_for=fake_body_for, progress=False)
    return out, sc, manifest


def _render(hr, sc, frame):
    from posebooth.viewport.renderer import RenderMesh
    people = pose_people(sc, frame, body_for=fake_body_for)
    cam = camera_at(sc.camera, frame)
    meshes = [RenderMesh(p.vertices, p.faces, p.part_labels, p.index + 1, p.color) for p in people]
    return people, cam, hr.render(meshes, cam)


def test_manifest_and_scene(export):
    out, sc, manifest = export
    data = json.loads((out / "dataset.json").read_text())
    assert data == manifest and set(data) == MANIFEST_KEYS
    assert data["format"] == "posebooth-dataset" and data["format_version"] == 2
    assert data["complete"] is True and data["generator"] is None
    assert data["image_size"] == [W, H] and data["frames"] == list(range(FRAMES))
    assert data["people"] == 2 and data["fps"] == sc.timeline.fps
    assert data["passes"] == list(PASSES)
    assert data["body_models"] == [{"name": "fake", "version": "fake 1.0"}] * 2
    assert data["props"] == []
    assert (out / "scene.json").read_text() == scene_to_json(sc)
    assert not list(out.rglob("*.tmp*"))


def test_annotations_npz_keys_shapes_dtypes(export):
    out, sc, _ = export
    npz = np.load(out / "annotations.npz")
    assert set(npz.files) == set(NPZ)
    for key, (dtype, shape) in NPZ.items():
        a = npz[key]
        assert a.dtype == dtype, key
        want = [FRAMES] + [2 if s == "P" else s for s in shape]
        assert a.ndim == len(want), key
        assert all(w is None or w == s for w, s in zip(want, a.shape)), (key, a.shape)
    np.testing.assert_array_equal(npz["frame_index"], np.arange(FRAMES))
    assert (npz["seed"] == -1).all()
    assert not npz["betas"].any()              # not an SMPL-family body
    # Rows follow the frames: person 1 moves between its keys.
    np.testing.assert_allclose(npz["transl"][0, 0], sc.people[0].keys[0].transl, atol=1e-6)
    np.testing.assert_allclose(npz["transl"][-1, 0], [-0.5, 0.93, 0.2], atol=1e-6)


def test_pass_pngs_equal_the_float_passes(export, hr):
    out, sc, _ = export
    for frame in (0, FRAMES - 1):
        people, cam, rp = _render(hr, sc, frame)
        n = f"{frame:06d}"
        depth = cv2.imread(str(out / "depth" / f"{n}.png"), cv2.IMREAD_UNCHANGED)
        assert depth.dtype == np.uint16 and depth.shape == (H, W)
        fg = rp.depth > 0
        assert ((depth == 0) == ~fg).all()
        assert np.abs(depth[fg] / 1000.0 - rp.depth[fg]).max() <= 0.0005 + 1e-7   # within 0.5 mm
        normal = cv2.imread(str(out / "normal" / f"{n}.png"))[..., ::-1]
        want = np.round((rp.normal[fg].astype(np.float64) + 1) / 2 * 255)
        diff = np.abs(normal[fg].astype(np.float64) - want)
        assert diff.max() <= 1 and (diff == 0).mean() > 0.999     # float32 ties may round apart
        assert not normal[~fg].any()
        np.testing.assert_array_equal(cv2.imread(str(out / "parts" / f"{n}.png"), cv2.IMREAD_UNCHANGED),
                                      rp.parts)
        np.testing.assert_array_equal(cv2.imread(str(out / "mask" / f"{n}.png"), cv2.IMREAD_UNCHANGED),
                                      rp.instance)
        np.testing.assert_array_equal(cv2.imread(str(out / "render" / f"{n}.png"))[..., ::-1], rp.rgb)
        ctrl = cv2.imread(str(out / "control" / f"{n}_depth.png"))[..., ::-1]
        np.testing.assert_array_equal(ctrl, conditioning.controlnet_depth_image(rp.depth))
        ctrl = cv2.imread(str(out / "control" / f"{n}_normal.png"))[..., ::-1]
        np.testing.assert_array_equal(ctrl, conditioning.normal_control_image(rp.normal))
        assert cv2.imread(str(out / "control" / f"{n}_openpose.png")).any()
        assert cv2.imread(str(out / "overlay" / f"{n}.png")).shape == (H, W, 3)
        for p in people:
            mesh = trimesh.load(out / "mesh" / f"{n}_{p.index + 1}.ply", process=False)
            np.testing.assert_allclose(mesh.vertices, p.vertices, atol=1e-6)
            np.testing.assert_array_equal(mesh.faces, p.faces)


def test_coco_loads_and_visible_keypoints_lie_on_their_mask(export):
    from pycocotools.coco import COCO

    out, _, _ = export
    coco = COCO(str(out / "coco.json"))
    assert coco.getCatIds() == [1] and len(coco.loadCats(1)[0]["keypoints"]) == 17
    npz = np.load(out / "annotations.npz")
    checked = 0
    for img in coco.loadImgs(coco.getImgIds()):
        assert img["file_name"].startswith("render/") and (out / img["file_name"]).is_file()
        mask = cv2.imread(str(out / "mask" / f"{img['frame_index']:06d}.png"), cv2.IMREAD_UNCHANGED)
        padded = np.pad(mask, 1)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])):
            k = ann["person_index"]
            kp = np.array(ann["keypoints"], float).reshape(17, 3)
            assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum())
            assert (kp[kp[:, 2] == 0, :2] == 0).all()
            f = list(npz["frame_index"]).index(img["frame_index"])
            np.testing.assert_allclose(ann["bbox"], npz["bbox"][f, k - 1])
            np.testing.assert_array_equal(coco.annToMask(ann), mask == k)
            for x, y, v in kp:
                if v == 2:
                    i, j = int(np.floor(y)), int(np.floor(x))
                    # the pixel itself or (at the silhouette border) a neighbour
                    assert (padded[i:i + 3, j:j + 3] == k).any(), (img["id"], k, x, y)
                    checked += 1
    assert checked > 20


def _read_video(path):
    import imageio_ffmpeg
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    frames = list(gen)
    return meta["size"], len(frames)


def test_videos_decode_to_every_frame(export):
    out, _, _ = export
    for name in ("render", "overlay"):
        size, n = _read_video(out / "video" / f"{name}.mp4")
        assert size == (W, H) and n == FRAMES


def test_odd_size_video_and_generator_seam(hr, tmp_path):
    """An odd image size still makes a valid H.264 clip (padded to even),
    and a generator's images, seed and settings land where FORMAT.md says."""
    sc = starter_scene(people=1, width=65, height=49, frames=2)
    seen = []

    class Gen:
        settings = {"model": "test/tiny", "steps": 2, "seed_policy": "fixed"}
        control_kinds = ("depth", "openpose")

        def __call__(self, inputs) -> GeneratedFrame:
            seen.append(inputs)
            img = np.full((49, 65, 3), 30 + inputs.frame, np.uint8)
            return GeneratedFrame(rgb=img, seed=1000 + inputs.frame)

    out = tmp_path / "gen"
    m = export_scene(sc, out, passes=["render", "control", "depth"], video=True, renderer=hr,
                     body_for=fake_body_for, progress=False, generator=Gen())
    assert m["complete"] and m["generator"] == Gen.settings and "rgb" in m["passes"]
    npz = np.load(out / "annotations.npz")
    np.testing.assert_array_equal(npz["seed"], [1000, 1001])
    assert (cv2.imread(str(out / "rgb" / "000001.png")) == 31).all()
    coco = json.loads((out / "coco.json").read_text())
    assert [i["file_name"] for i in coco["images"]] == ["rgb/000000.png", "rgb/000001.png"]
    for inputs in seen:
        written = cv2.imread(str(out / "control" / f"{inputs.frame:06d}_openpose.png"))[..., ::-1]
        np.testing.assert_array_equal(written, inputs.controls(["openpose"])["openpose"])
    assert sorted(p.name for p in (out / "control").iterdir()) == [
        "000000_depth.png", "000000_openpose.png", "000001_depth.png", "000001_openpose.png"]
    for name in ("render", "rgb"):
        size, n = _read_video(out / "video" / f"{name}.mp4")
        assert size == (66, 50) and n == 2


def test_resizing_scales_explicit_intrinsics():
    from posebooth.frame.sizes import with_size
    from posebooth.scene.model import Intrinsics
    from posebooth.assets.starter import starter_scene
    from posebooth.scene.tracks import camera_at
    sc = starter_scene()
    sc.camera.width, sc.camera.height = 200, 100
    sc.camera.intrinsics = Intrinsics(fx=250.0, fy=240.0, cx=101.0, cy=48.0)
    big = with_size(sc, (400, 300))
    a, b = camera_at(sc.camera, 0), camera_at(big.camera, 0)
    pts = np.array([[0.1, 1.2, 0.0], [-0.3, 0.4, 0.2]])
    (xa, _), (xb, _) = a.project(pts), b.project(pts)
    np.testing.assert_allclose(xb, xa * [2.0, 3.0], atol=1e-9)  # same view, pixels scaled per axis
