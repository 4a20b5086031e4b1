"""`posebooth dataset export`: each format read back the way its consumer's
loader reads it, with the consumer's few lines re-done here (PoseBooth is
never used to read an export), and checked against the dataset's own
annotations and masks:

- bedlam: pixelite1201/BEDLAM train/dataset/dataset.py (np.load, pose_cam,
  shape padded to 11, focal length from cam_int, translation =
  cam_ext[:, 3] + trans_cam, gtkps[:, :24]);
- hmr2: shubham-goel/4D-Humans hmr2/datasets/image_dataset.py
  (webdataset: members grouped by key, png -> rgb8, .pyd unpickled, .npz
  np.load; split_data / process_webdataset_tar_item's fields);
- coco: pycocotools (COCO, annToMask, COCOeval);
- anny: anny.Anny(pose_parameterization='local-ref') itself.

Every row's 3D, projected with its own camera, lands on its 2D keypoints
within 0.01 px. The real-dataset tests render with the anny body (gl, slow);
the hostile CLI cases use a small hand-made dataset.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.transform import Rotation

from hostile_harness import assert_clear_error, run_cli

PX = 0.01
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
# Limbs whose direction the SMPL-24 pose reproduces on anny (FORMAT.md): spine, legs, feet, arms, hands.
LIMBS = (3, 4, 5, 6, 7, 8, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23)
SMALL = {"samples": 5, "clip_frames": 2, "camera": {"size": [96, 96]}, "people": {"count": [1, 3]},
         "output": {"shard_size": 3, "passes": ["render", "mask"]}}


# -- the dataset, read directly ---------------------------------------------
def _truth(root: Path) -> dict:
    """Every shard's annotation rows, keyed by (image id, person)."""
    rows = {}
    for npz in sorted(root.glob("shards/*/annotations.npz")):
        with np.load(npz) as z:
            a = {k: z[k] for k in z.files}
        for r in range(len(a["sample"])):
            rows[int(a["image"][r]), int(a["person"][r])] = {k: v[r] for k, v in a.items()}
    return rows


def _mask(root: Path, sample: int, frame: int) -> np.ndarray:
    shard = sample // 3
    return np.asarray(Image.open(root / f"shards/{shard:06d}/mask/{sample:08d}_{frame:03d}.png"))


def _project(K, points) -> np.ndarray:
    uvw = np.asarray(points, np.float64) @ np.asarray(K, np.float64).T
    return uvw[..., :2] / uvw[..., 2:]


def _limb_cosines(pose72, joints3d) -> np.ndarray:
    """Cosine between each limb of a generic SMPL skeleton posed with pose72
    (forward kinematics) and the same limb of the rendered joints."""
    from posebooth.assets.smpl_skeleton import REST_JOINTS   # SMPL's public kinematic tree: a reference

    rots = Rotation.from_rotvec(np.asarray(pose72, np.float64).reshape(24, 3)).as_matrix()
    glob = []
    for j, p in enumerate(SMPL_PARENTS):
        glob.append(rots[j] if p < 0 else glob[p] @ rots[j])
    out = []
    for j in LIMBS:
        p = SMPL_PARENTS[j]
        a, b = glob[p] @ (REST_JOINTS[j] - REST_JOINTS[p]), joints3d[j] - joints3d[p]
        out.append(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    return np.array(out)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, hr):
    from posebooth.dataset.recipe import Recipe
    from posebooth.dataset.run import run_recipe

    root = tmp_path_factory.mktemp("exports") / "ds"
    manifest = run_recipe(Recipe.model_validate(SMALL), root, progress=False, renderer=hr)
    assert manifest["complete"] and manifest["shards_assembled"] == [0, 1]
    return root


def _export(root: Path, fmt: str, out: Path, *extra: str) -> dict:
    r = run_cli("dataset", "export", str(root), "--format", fmt, "--out", str(out), *extra)
    assert r.returncode == 0, r.stderr[-3000:]
    meta = json.loads((out / "export.json").read_text())
    assert meta["complete"] is True and meta["target"] == fmt
    return meta


# -- bedlam -------------------------------------------------------------------
def _bedlam_items(npz: Path, img_dir: Path):
    """BEDLAM's DatasetHMR (is_train) reading, field by field."""
    data = np.load(npz, allow_pickle=True)
    imgname, scale, center = data["imgname"], data["scale"], data["center"]
    pose_cam = data["pose_cam"][:, :22 * 3].astype(np.float64)     # NUM_JOINTS_SMPLX * 3
    betas = data["shape"].astype(np.float64)
    if betas.shape[-1] == 10:
        betas = np.hstack((betas, np.zeros((betas.shape[0], 1))))
    cam_int, cam_ext, trans_cam = data["cam_int"], data["cam_ext"], data["trans_cam"]
    keypoints = data["gtkps"][:, :24]
    gender = np.array([0 if str(g) == "m" else 1 for g in data["gender"]]).astype(np.int32)
    for i in range(len(imgname)):
        img = np.asarray(Image.open(os.path.join(img_dir, imgname[i])).convert("RGB"))
        translation = cam_ext[i][:, 3].copy()
        translation[:3] += trans_cam[i]
        yield {"index": i, "img": img, "pose": pose_cam[i], "betas": betas[i], "keypoints": keypoints[i],
               "scale": float(scale[i]), "center": center[i], "focal_length": (cam_int[i][0, 0], cam_int[i][1, 1]),
               "translation": translation, "gender": gender[i], "cam_int": cam_int[i]}, data


@pytest.mark.gl
@pytest.mark.slow
def test_bedlam_reads_as_bedlams_loader_and_reprojects(dataset, tmp_path):
    meta = _export(dataset, "bedlam", tmp_path / "b")
    truth = _truth(dataset)
    j0 = np.array(meta["smpl_rest_pelvis"])
    assert meta["fitted"] is False and abs(j0[1] + 0.22) < 0.01     # SMPL's neutral rest pelvis, ~22 cm below
    genders = {json.loads(line)["index"]: [s["gender"] for s in json.loads(line)["shapes"]]
               for f in dataset.glob("shards/*/samples.jsonl") for line in f.read_text().splitlines()}
    seen = set()
    for item, data in _bedlam_items(tmp_path / "b" / "bedlam.npz", dataset):
        i = item["index"]
        key = (int(data["image"][i]), int(data["person"][i]))
        t, sample, person = truth[key], int(data["sample"][i]), int(data["person"][i])
        seen.add(key)
        assert item["img"].shape == (96, 96, 3) and item["betas"].shape == (11,) and not item["betas"].any()
        assert item["gender"] == (0 if genders[sample][person - 1] <= 0.5 else 1)
        # 2D: the truth's joints; every joint in front of the camera labelled, as BEDLAM does
        front = t["joints3d_cam"][:, 2] > 0
        np.testing.assert_array_equal(item["keypoints"][:, 2], front.astype(np.float32))
        np.testing.assert_allclose(item["keypoints"][front, :2], t["joints2d"][front], atol=1e-4)
        vis = t["joints2d_vis"] == 2
        assert np.abs(_project(item["cam_int"], t["joints3d_cam"][vis]) - item["keypoints"][vis, :2]).max() < PX
        # 3D: smplx's pelvis J0 + translation is the rendered pelvis, and lands on the pelvis keypoint
        np.testing.assert_allclose(j0 + item["translation"][:3], t["joints3d_cam"][0], atol=1e-5)
        if front[0]:
            assert np.abs(_project(item["cam_int"], j0 + item["translation"][:3]) - item["keypoints"][0, :2]).max() < PX
        # the pose is in the camera frame: its limbs point along the rendered ones
        assert _limb_cosines(data["pose_cam"][i], t["joints3d_cam"]).min() > 0.999
        rot = data["cam_ext"][i][:3, :3].astype(np.float64)
        np.testing.assert_allclose(Rotation.from_rotvec(data["pose_cam"][i][:3]).as_matrix(),
                                   rot @ Rotation.from_rotvec(data["pose_world"][i][:3]).as_matrix(), atol=1e-5)
        np.testing.assert_allclose(rot @ (j0 + data["trans_world"][i]) + data["cam_ext"][i][:3, 3],
                                   j0 + item["translation"][:3], atol=1e-5)
        # the crop box (centre, scale * 200) holds the person's visible mask
        ys, xs = np.nonzero(_mask(dataset, sample, int(data["frame"][i])) == person)
        half = item["scale"] * 200 / 2
        assert xs.min() >= item["center"][0] - half and xs.max() + 1 <= item["center"][0] + half
        assert ys.min() >= item["center"][1] - half and ys.max() + 1 <= item["center"][1] + half
    assert seen == {k for k, t in truth.items() if t["mask_area"] > 0} and seen


# -- hmr2 (4D-Humans) -----------------------------------------------------------
class _PortableOnly(pickle.Unpickler):
    """Refuses any global but numpy.ndarray and bytearray: what numpy 1.x can rebuild too."""

    def find_class(self, module, name):
        if (module, name) in {("numpy", "ndarray"), ("builtins", "bytearray")}:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


def _webdataset_samples(tar_path: Path):
    """webdataset's tar reading: consecutive members grouped by key (up to the
    basename's first dot), then decode('rgb8'), .pyd pickle, .npz np.load;
    then 4D-Humans' rename(jpg='jpg;jpeg;png')."""
    current, key = {}, None
    with tarfile.open(tar_path) as tar:
        for member in tar:
            prefix, suffix = re.match(r"^((?:.*/|)[^.]+)[.]([^/]*)$", member.name).groups()
            if prefix != key and current:
                yield current
                current = {}
            key = prefix
            current["__key__"] = prefix
            current[suffix] = tar.extractfile(member).read()
    if current:
        yield current


def _decode(sample: dict) -> dict:
    out = {"__key__": sample["__key__"]}
    for k, v in sample.items():
        if k.endswith("png"):
            out["jpg"] = np.asarray(Image.open(io.BytesIO(v)).convert("RGB"))
        elif k.endswith("pyd"):
            assert _PortableOnly(io.BytesIO(v)).load() is not None   # numpy-1.x-safe globals only
            out[k] = pickle.loads(v)
        elif k.endswith("npz"):
            out[k] = np.load(io.BytesIO(v))
    return out


@pytest.mark.gl
@pytest.mark.slow
def test_hmr2_tars_read_as_4d_humans_loader_and_reproject(dataset, tmp_path):
    meta = _export(dataset, "hmr2", tmp_path / "h")
    truth = _truth(dataset)
    assert sorted(meta["files"]) == ["000000.tar", "000001.tar"]
    j0 = np.array(meta["smpl_rest_pelvis"])
    seen = set()
    for tar in sorted((tmp_path / "h").glob("*.tar")):
        for raw in _webdataset_samples(tar):
            item = _decode(raw)
            for data in item["data.pyd"]:   # split_data
                mask = item["detection.npz"]["masks"][data["extra_info"]["detection_npz_idx"]]
                kp2d, kp3d = data["keypoints_2d"], data["keypoints_3d"]
                center, scale, body_pose = data["center"], data["scale"], data["body_pose"]
                assert kp2d.shape == (44, 3) and kp3d.shape == (44, 4) and body_pose.shape == (72,)
                assert data["betas"].shape == (10,) and data["has_body_pose"] > 0 and not data["has_betas"] > 0
                assert kp2d.flags.writeable and (kp2d[:, 2] > 0).sum() > 4          # filter_numkp
                assert data["scale"].min().item() * 200.0 > 1                        # filter_bbox_size
                info = data["extra_info"]
                key = (info["image_id"], info["person"])
                t = truth[key]
                seen.add(key)
                sample, frame = info["sample"], info["frame"]
                assert item["__key__"] == f"{sample:08d}_{frame:03d}"
                shard = dataset / f"shards/{sample // 3:06d}/render/{item['__key__']}.png"
                np.testing.assert_array_equal(item["jpg"], np.asarray(Image.open(shard).convert("RGB")))
                np.testing.assert_array_equal(mask, _mask(dataset, sample, frame) == info["person"])
                # OpenPose slots filled as HMR 2.0's smpl_to_openpose maps SMPL joints
                for slot, j in {1: 12, 2: 17, 4: 21, 7: 20, 8: 0, 9: 2, 11: 8, 14: 7}.items():
                    np.testing.assert_allclose(kp3d[slot, :3], t["joints3d_cam"][j], atol=1e-6)
                    if t["joints3d_cam"][j, 2] > 0:
                        np.testing.assert_allclose(kp2d[slot, :2], t["joints2d"][j], atol=1e-4)
                np.testing.assert_allclose(kp3d[39, :3], t["joints3d_cam"][0], atol=1e-6)   # pelvis_id
                # smplx(body_pose, betas, transl=smpl_transl_cam) puts its pelvis J0 + transl on the rendered one
                np.testing.assert_allclose(j0 + info["smpl_transl_cam"], t["joints3d_cam"][0], atol=1e-5)
                # each labelled 3D keypoint, projected with the row's camera, lands on its 2D keypoint
                both = (kp3d[:, 3] > 0) & (kp2d[:, 2] > 0)
                assert both.sum() >= 1
                assert np.abs(_project(info["cam_K"], kp3d[both, :3]) - kp2d[both, :2]).max() < PX
                # nose / eyes / ears from the COCO keypoints (2D only)
                for slot, k in {0: 0, 15: 2, 16: 1, 17: 4, 18: 3}.items():
                    assert kp3d[slot, 3] == 0
                    if t["coco17"][k, 2] > 0:
                        np.testing.assert_allclose(kp2d[slot, :2], t["coco17"][k, :2], atol=1e-4)
                # the box holds the mask; the root rotation is the camera's view of the world one
                ys, xs = np.nonzero(mask)
                assert xs.min() >= center[0] - scale[0] * 100 and xs.max() + 1 <= center[0] + scale[0] * 100
                assert ys.min() >= center[1] - scale[1] * 100 and ys.max() + 1 <= center[1] + scale[1] * 100
                assert _limb_cosines(body_pose, t["joints3d_cam"]).min() > 0.999
    assert seen == {k for k, t in truth.items() if t["mask_area"] > 0}


# -- coco -------------------------------------------------------------------------
@pytest.mark.gl
@pytest.mark.slow
def test_coco_loads_with_pycocotools(dataset, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    _export(dataset, "coco", tmp_path / "c")
    gt = COCO(str(tmp_path / "c" / "person_keypoints.json"))
    truth = _truth(dataset)
    assert len(gt.getImgIds()) == 10 and len(gt.getCatIds(catNms=["person"])) == 1
    anns = gt.loadAnns(gt.getAnnIds())
    assert sorted(a["id"] for a in anns) == list(range(1, len(anns) + 1))
    for ann in anns:
        img = gt.loadImgs(ann["image_id"])[0]
        assert (dataset / img["file_name"]).is_file()
        t = truth[ann["image_id"], ann["person_index"]]
        mask = _mask(dataset, img["sample"], img["frame"]) == ann["person_index"]
        np.testing.assert_array_equal(gt.annToMask(ann), mask)
        ys, xs = np.nonzero(mask)
        assert ann["area"] == mask.sum()
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        np.testing.assert_array_equal(kp[:, 2], t["coco17"][:, 2])
        np.testing.assert_allclose(kp[kp[:, 2] > 0, :2], t["coco17"][kp[:, 2] > 0, :2], atol=1e-3)
        assert not kp[kp[:, 2] == 0].any()
    # scoring the ground truth against itself: a perfect keypoint AP
    dt = gt.loadRes([{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
                     for a in anns if a["num_keypoints"] > 0])
    ev = COCOeval(gt, dt, "keypoints")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


# -- anny ---------------------------------------------------------------------------
@pytest.mark.gl
@pytest.mark.slow
def test_anny_parameters_pose_anny_onto_the_truth(dataset, tmp_path):
    import anny
    import torch

    meta = _export(dataset, "anny", tmp_path / "a")
    truth = _truth(dataset)
    anny.paths.set_anny_cache_path(os.environ["POSEBOOTH_CACHE_DIR"] + "/anny")   # the built model data
    model = anny.Anny(pose_parameterization="local-ref", skinning_method="lbs")
    rows = 0
    for f in meta["files"]:
        z = np.load(tmp_path / "a" / f)
        assert str(z["pose_parameterization"]) == "local-ref" and list(z["bone_labels"]) == list(model.bone_labels)
        assert list(z["phenotype_labels"]) == list(model.phenotype_labels)
        with torch.no_grad():
            out = model(pose_parameters=torch.from_numpy(z["pose_parameters"]),
                        phenotype_kwargs=torch.from_numpy(z["phenotypes"]))
        joints = out["bone_poses"][:, z["smpl24_bones"], :3, 3].double().numpy()
        for i in range(len(joints)):
            t = truth[int(z["image"][i]), int(z["person"][i])]
            np.testing.assert_allclose(joints[i], t["joints3d_cam"], atol=1e-5)
            np.testing.assert_allclose(z["phenotypes"][i], t["body_shape"][:6])
            vis = t["joints2d_vis"] == 2
            assert np.abs(_project(z["cam_K"][i], joints[i][vis]) - t["joints2d"][vis]).max() < PX
        rows += len(joints)
    assert rows == sum(t["mask_area"] > 0 for t in truth.values())


# -- SMPL fits, incomplete datasets, re-exports ---------------------------------------
@pytest.mark.gl
@pytest.mark.slow
def test_a_shard_smpl_fit_replaces_the_driving_pose(dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(dataset, root)
    with np.load(root / "shards/000000/annotations.npz") as z:
        n, cam_ext = len(z["sample"]), z["cam_ext"].astype(np.float64)
    rng = np.random.default_rng(0)
    fit = {"betas": rng.normal(size=(n, 10)), "global_orient": rng.normal(size=(n, 3)) * 0.3,
           "body_pose": rng.normal(size=(n, 69)) * 0.1, "transl_smplx": rng.normal(size=(n, 3)),
           "j0": rng.normal(size=(n, 3)) * 0.01 + [0, -0.22, 0.03]}
    np.savez(root / "shards/000000/smpl_fit.npz", **fit)
    meta = _export(root, "bedlam", tmp_path / "b")
    assert meta["fitted"] is False and meta["fitted_shards"] == [0]
    data = np.load(tmp_path / "b" / "bedlam.npz")
    with np.load(root / "shards/000000/annotations.npz") as z:
        keys = list(zip(z["image"].tolist(), z["person"].tolist()))
        visible = z["mask_area"] > 0
    for i in np.flatnonzero(data["sample"] < 3):
        r = keys.index((int(data["image"][i]), int(data["person"][i])))
        assert visible[r]
        np.testing.assert_allclose(data["shape"][i], fit["betas"][r], atol=1e-6)
        np.testing.assert_allclose(data["pose_world"][i], np.concatenate([fit["global_orient"][r],
                                                                          fit["body_pose"][r]]), atol=1e-6)
        np.testing.assert_allclose(data["trans_world"][i], fit["transl_smplx"][r], atol=1e-6)
        pelvis_cam = cam_ext[r, :3, :3] @ (fit["j0"][r] + fit["transl_smplx"][r]) + cam_ext[r, :3, 3]
        np.testing.assert_allclose(fit["j0"][r] + data["trans_cam"][i] + data["cam_ext"][i][:3, 3], pelvis_cam,
                                   atol=1e-5)
    h = _export(root, "hmr2", tmp_path / "h")
    records = [d for raw in _webdataset_samples(tmp_path / "h" / "000000.tar") for d in _decode(raw).get("data.pyd", [])]
    assert h["fitted_shards"] == [0] and records and all(d["has_betas"] > 0 for d in records)


@pytest.mark.gl
@pytest.mark.slow
def test_incomplete_datasets_need_the_flag_and_reexports_replace_files(dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(dataset, root)
    manifest = json.loads((root / "dataset.json").read_text())
    out = tmp_path / "h"
    _export(root, "hmr2", out)
    assert (out / "000001.tar").is_file()
    (root / "dataset.json").write_text(json.dumps({**manifest, "complete": False, "shards_assembled": [0]}))
    assert_clear_error(run_cli("dataset", "export", str(root), "--format", "hmr2", "--out", str(out)),
                       str(root), "--allow-incomplete")
    meta = _export(root, "hmr2", out, "--allow-incomplete")
    assert meta["shards"] == [0] and meta["source_complete"] is False and "INCOMPLETE" in (out / "README.md").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["000000.tar", "README.md", "export.json"]   # 000001 went


# -- hostile input (a small hand-made dataset: no rendering) ------------------------------
def _fake_dataset(root: Path, rows: dict | None = None, manifest: dict | None = None) -> Path:
    n = 1
    a = {"global_orient": np.zeros((n, 3)), "body_pose": np.zeros((n, 69)), "transl": np.array([[0, 0.9, 0]]),
         "body_shape": np.full((n, 6), 0.5), "joints3d_world": np.zeros((n, 24, 3)),
         "joints3d_cam": np.tile([0.0, 0.0, 3.0], (n, 24, 1)), "joints2d": np.full((n, 24, 2), 8.0),
         "joints2d_vis": np.full((n, 24), 2, np.uint8), "coco17": np.tile([8.0, 8.0, 2.0], (n, 17, 1)),
         "bbox": np.array([[4.0, 4.0, 8.0, 8.0]]), "mask_area": np.array([64]), "cam_K": np.eye(3)[None] * [10, 10, 1],
         "cam_ext": np.eye(4)[None], "seed": np.array([-1]), "sample": np.array([0]), "frame": np.array([0]),
         "person": np.array([1]), "image": np.array([1])}
    a = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in a.items()}
    a.update(rows or {})
    shard = root / "shards" / "000000"
    (shard / "render").mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(shard / "render" / "00000000_000.png")
    np.savez(shard / "annotations.npz", **{k: v for k, v in a.items() if v is not None})
    m = {"format": "posebooth-recipe-dataset", "format_version": 1, "samples": 1, "shard_size": 1, "clip_frames": 1,
         "image_size": [16, 16], "passes": ["render"], "shards_assembled": [0], "complete": True}
    m.update(manifest or {})
    (root / "dataset.json").write_text(json.dumps(m))
    return root


def test_a_hand_made_dataset_exports(tmp_path):
    """The hostile cases below start from this dataset, which exports cleanly."""
    root = _fake_dataset(tmp_path / "ds")
    meta = _export(root, "bedlam", tmp_path / "b")
    assert meta["rows"] == 1
    data = np.load(tmp_path / "b" / "bedlam.npz")
    assert data["imgname"][0] == "shards/000000/render/00000000_000.png" and data["gender"][0] == "m"   # anny gender 0.5: male


def _bad_rows(key, value):
    return lambda root: _fake_dataset(root, rows={key: value})


def _rewrite(rel, data):
    def make(root):
        _fake_dataset(root)
        path = root / rel
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
    return make


def _remove(rel):
    def make(root):
        _fake_dataset(root)
        (root / rel).unlink()
    return make


HOSTILE = {
    "no such folder": (lambda root: None, ["nope"]),
    "folder without dataset.json": (lambda root: root.mkdir(), ["dataset.json"]),
    "dataset.json not JSON": (_rewrite("dataset.json", "{oops"), ["dataset.json", "JSON"]),
    "dataset.json of another format": (lambda root: _fake_dataset(root, manifest={"format": "other"}),
                                       ["dataset.json", "format"]),
    "dataset.json a FIFO": (lambda root: (_remove("dataset.json")(root), os.mkfifo(root / "dataset.json")),
                            ["dataset.json", "FIFO"]),
    "incomplete": (lambda root: _fake_dataset(root, manifest={"complete": False}), ["--allow-incomplete"]),
    "annotations garbage": (_rewrite("shards/000000/annotations.npz", b"PK\x03\x04 not a zip"),
                            ["annotations.npz"]),
    "annotations missing a key": (_bad_rows("coco17", None), ["annotations.npz", "coco17"]),
    "annotations wrong shape": (_bad_rows("joints2d", np.zeros((1, 17, 2), np.float32)),
                                ["annotations.npz", "joints2d", "(R, 24, 2)"]),
    "annotations NaN": (_bad_rows("joints3d_cam", np.full((1, 24, 3), np.nan, np.float32)),
                        ["annotations.npz", "joints3d_cam", "NaN"]),
    "annotations pickled objects": (_bad_rows("bbox", np.array([[object()] * 4], dtype=object)),
                                    ["annotations.npz", "pickled"]),
    "annotations sample outside the shard": (_bad_rows("sample", np.array([7])), ["annotations.npz", "sample"]),
    "annotations camera not a rotation": (_bad_rows("cam_ext", np.diag([2.0, 1, 1, 1]).astype(np.float32)[None]),
                                          ["annotations.npz", "cam_ext", "rotation"]),
    "annotations phenotype out of range": (_bad_rows("body_shape", np.full((1, 6), 7.0, np.float32)),
                                           ["annotations.npz", "body_shape", "0..1"]),
    "mask pass without its mask": (lambda root: _fake_dataset(root, manifest={"passes": ["render", "mask"]}),
                                   ["mask/00000000_000.png", "missing"]),
    "missing image": (_remove("shards/000000/render/00000000_000.png"), ["00000000_000.png", "missing"]),
    "bad smpl fit": (_rewrite("shards/000000/smpl_fit.npz", b""), ["smpl_fit.npz"]),
}


@pytest.mark.hostile
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_datasets_are_one_line(tmp_path, case):
    make, named = HOSTILE[case]
    root = tmp_path / ("nope" if case == "no such folder" else "ds")
    make(root)
    fmt = "coco" if "smpl" not in case else "bedlam"
    r = run_cli("dataset", "export", str(root), "--format", fmt, "--out", str(tmp_path / "x"))
    assert_clear_error(r, *named)
    done = tmp_path / "x" / "export.json"
    assert not done.exists() or json.loads(done.read_text())["complete"] is False   # never marked complete


@pytest.mark.hostile
@pytest.mark.parametrize("case", ["unknown format", "out is a file", "out inside a file", "out a foreign folder"])
def test_hostile_outputs_are_one_line(tmp_path, case):
    root = _fake_dataset(tmp_path / "ds")
    out, fmt, named = tmp_path / "x", "coco", [str(tmp_path / "x")]
    if case == "unknown format":
        fmt, named = "smplx", ["--format", "bedlam, hmr2, coco, anny"]
    elif case == "out is a file":
        out.write_text("mine")
    elif case == "out inside a file":
        out.write_text("mine")
        out, named = out / "sub", ["x"]
    else:
        out.mkdir()
        (out / "thesis.tex").write_text("mine")
    assert_clear_error(run_cli("dataset", "export", str(root), "--format", fmt, "--out", str(out)), *named)
    if case != "unknown format" and case != "out inside a file":
        assert not (out / "export.json").exists()
    if case in ("out is a file", "out inside a file"):
        assert (tmp_path / "x").read_text() == "mine"
    if case == "out a foreign folder":
        assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
