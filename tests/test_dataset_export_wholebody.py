"""`posebooth dataset export DIR --format coco-wholebody`: read back the way
its consumers read it, never through PoseBooth:

- xtcocotools' COCO (getAnnIds / loadAnns) and COCOeval with iouType
  'keypoints_wholebody' and COCO-WholeBody's 133 sigmas (as in mmpose's
  configs/_base_/datasets/coco_wholebody.py);
- mmpose's CocoWholeBodyDataset.parse_data_info, whose few lines are re-done
  here (keypoints + foot + face + left hand + right hand, `segmentation`
  read unconditionally).

Truth: each row's whole-body camera-frame points (`wholebody133_cam` of the
shard's annotations.npz), projected with the row's own cam_K by the pinhole
formula written here, land on the exported 2D points; the visibility is the
row's; one annotation per person in view.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from hostile_harness import assert_clear_error, run_cli
from test_dataset_exports import _fake_dataset, _truth

PX = 0.01   # the export rounds to 3 decimals; a half-pixel convention slip would show
RECIPE = {"samples": 3, "clip_frames": 1, "camera": {"size": [64, 64]}, "people": {"count": [1, 2]},
          "output": {"shard_size": 2, "passes": ["render", "mask"]}}
PARTS = {"keypoints": (0, 17), "foot_kpts": (17, 23), "face_kpts": (23, 91), "lefthand_kpts": (91, 112),
         "righthand_kpts": (112, 133)}
# COCO-WholeBody's per-keypoint OKS sigmas (jin-s13/COCO-WholeBody evaluation/myeval_wholebody.py, as mmpose's
# configs/_base_/datasets/coco_wholebody.py copies them): body 17, feet 6, face 68, hands 2 x 21.
SIGMAS = np.array([
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089,
    0.089, 0.068, 0.066, 0.066, 0.092, 0.094, 0.094, 0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020,
    0.023, 0.029, 0.032, 0.037, 0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011,
    0.013, 0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017, 0.011, 0.009, 0.011, 0.009,
    0.007, 0.013, 0.008, 0.011, 0.012, 0.010, 0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008, 0.009,
    0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01, 0.008, 0.029, 0.022, 0.035, 0.037, 0.047,
    0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031,
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021,
    0.032, 0.02, 0.019, 0.022, 0.031])


@pytest.fixture(scope="module")
def exported(tmp_path_factory, hr):
    from posebooth.dataset.recipe import Recipe
    from posebooth.dataset.run import run_recipe

    base = tmp_path_factory.mktemp("wholebody_export")
    root = base / "ds"
    manifest = run_recipe(Recipe.model_validate(RECIPE), root, progress=False, renderer=hr)
    assert manifest["complete"] and manifest["shards_assembled"] == [0, 1]
    out = base / "x"
    r = run_cli("dataset", "export", str(root), "--format", "coco-wholebody", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    meta = json.loads((out / "export.json").read_text())
    assert meta["complete"] is True and meta["target"] == "coco-wholebody" and meta["files"] == ["coco_wholebody.json"]
    return root, out / "coco_wholebody.json"


def _pinhole(K, points) -> np.ndarray:
    K, p = np.asarray(K, np.float64), np.asarray(points, np.float64)
    return np.stack([K[0, 0] * p[:, 0] / p[:, 2] + K[0, 2], K[1, 1] * p[:, 1] / p[:, 2] + K[1, 2]], axis=1)


def _mmpose_parse(ann: dict, img: dict, img_root: str) -> dict:
    """mmpose 1.x CocoWholeBodyDataset.parse_data_info, field by field."""
    x, y, w, h = ann["bbox"]
    x1, y1 = np.clip(x, 0, img["width"] - 1), np.clip(y, 0, img["height"] - 1)
    x2, y2 = np.clip(x + w, 0, img["width"] - 1), np.clip(y + h, 0, img["height"] - 1)
    kp = np.array(ann["keypoints"] + ann["foot_kpts"] + ann["face_kpts"] + ann["lefthand_kpts"]
                  + ann["righthand_kpts"]).reshape(1, -1, 3)
    return {"img_path": os.path.join(img_root, img["file_name"]), "bbox": np.array([x1, y1, x2, y2]).reshape(1, 4),
            "keypoints": kp[..., :2], "keypoints_visible": np.minimum(1, kp[..., 2] > 0),
            "num_keypoints": ann["num_keypoints"], "iscrowd": ann["iscrowd"], "segmentation": ann["segmentation"],
            "area": np.float32(ann["area"])}


@pytest.mark.gl
def test_wholebody_export_loads_in_xtcocotools_and_reprojects(exported):
    from pycocotools import mask as mask_utils
    from xtcocotools.coco import COCO

    root, path = exported
    gt = COCO(str(path))
    truth = _truth(root)
    in_view = {k for k, t in truth.items() if t["mask_area"] > 0 or (t["coco17"][:, 2] > 0).any()}
    assert len(gt.getImgIds()) == 3
    anns = gt.loadAnns(gt.getAnnIds())
    assert len(anns) == len(in_view) >= 3 and {(a["image_id"], a["person_index"]) for a in anns} == in_view
    assert sorted(a["id"] for a in anns) == list(range(1, len(anns) + 1))
    assert len(gt.loadCats(1)[0]["keypoints_wholebody"]) == 133
    checked = 0
    for ann in anns:
        img = gt.loadImgs(ann["image_id"])[0]
        t = truth[ann["image_id"], ann["person_index"]]
        assert ann["iscrowd"] == 0 and (root / img["file_name"]).is_file()
        assert Image.open(root / img["file_name"]).size == (img["width"], img["height"]) == (64, 64)
        for key, (lo, hi) in PARTS.items():
            kp = np.array(ann[key], np.float64).reshape(-1, 3)
            assert kp.shape == (hi - lo, 3), key
            v = t["wholebody133"][lo:hi, 2]
            np.testing.assert_array_equal(kp[:, 2], v)
            assert not kp[v == 0].any()        # COCO: an unlabelled point is (0, 0, 0)
            shown = v > 0
            if shown.any():
                uv = _pinhole(t["cam_K"], t["wholebody133_cam"][lo:hi][shown])
                assert np.abs(uv - kp[shown, :2]).max() < PX, key
                checked += int(shown.sum())
            if key != "keypoints":
                assert ann[key.replace("kpts", "valid")] == bool((v == 2).any())
        # the segmentation is the person's pixels of mask/ (decoded by pycocotools: xtcocotools 1.14's
        # decode fails under numpy 2, NPY_OWNDATA)
        mask = np.asarray(Image.open(root / f"shards/{img['sample'] // 2:06d}/mask/{img['sample']:08d}_000.png"))
        np.testing.assert_array_equal(mask_utils.decode(ann["segmentation"]), mask == ann["person_index"])
        # mmpose's reading gives 133 points with the row's visibility
        info = _mmpose_parse(ann, img, str(root))
        assert info["keypoints"].shape == (1, 133, 2) and os.path.isfile(info["img_path"])
        np.testing.assert_array_equal(info["keypoints_visible"][0], t["wholebody133"][:, 2] > 0)
    # hands and face were seen, not only the body
    assert checked > 17 * len(anns)


@pytest.mark.gl
def test_wholebody_export_scores_ap_1_against_itself(exported):
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    gt = COCO(str(exported[1]))
    anns = gt.loadAnns(gt.getAnnIds())
    parts = [k for k in PARTS if k != "keypoints"]
    dt = gt.loadRes([{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0,
                      "wholebody_score": 1.0, **{k: a[k] for k in parts}} for a in anns])
    ev = COCOeval(gt, dt, "keypoints_wholebody", SIGMAS, use_area=True)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


# -- hand-made datasets (no rendering) -----------------------------------------------
def _wholebody_rows(v: float = 2.0) -> dict:
    wb = np.zeros((1, 133, 3), np.float32)
    wb[0, :, :2], wb[0, :, 2] = 8.0, v
    return {"wholebody133": wb, "wholebody133_cam": np.tile([0.0, 0.0, 3.0], (1, 133, 1)).astype(np.float32)}


def test_a_dataset_without_masks_still_gives_mmpose_its_segmentation_key(tmp_path):
    root = _fake_dataset(tmp_path / "ds", rows=_wholebody_rows())
    r = run_cli("dataset", "export", str(root), "--format", "coco-wholebody", "--out", str(tmp_path / "x"))
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads((tmp_path / "x" / "coco_wholebody.json").read_text())
    (ann,) = data["annotations"]
    info = _mmpose_parse(ann, data["images"][0], str(root))
    assert info["segmentation"] == [] and info["keypoints"].shape == (1, 133, 2)
    assert info["keypoints_visible"].all() and ann["face_box"][2] == 0    # one point: a zero-size box at it


@pytest.mark.hostile
@pytest.mark.parametrize("case", ["no whole-body keypoints", "bad visibility", "wrong shape", "incomplete"])
def test_hostile_wholebody_sources_are_one_line(tmp_path, case):
    rows, manifest, named = _wholebody_rows(), None, ["annotations.npz", "wholebody133"]
    if case == "no whole-body keypoints":
        rows, named = {}, ["annotations.npz", "'wholebody133'", "before whole-body"]
    elif case == "bad visibility":
        rows = _wholebody_rows(v=3.0)
        named += ["0, 1 or 2"]
    elif case == "wrong shape":
        rows["wholebody133"] = np.zeros((1, 17, 3), np.float32)
        named += ["(R, 133, 3)"]
    else:
        manifest, named = {"complete": False}, [str(tmp_path / "ds"), "--allow-incomplete"]
    root = _fake_dataset(tmp_path / "ds", rows=rows, manifest=manifest)
    r = run_cli("dataset", "export", str(root), "--format", "coco-wholebody", "--out", str(tmp_path / "x"))
    assert_clear_error(r, *named)
    done = tmp_path / "x" / "export.json"
    assert not done.exists() or json.loads(done.read_text())["complete"] is False
    assert not (tmp_path / "x" / "coco_wholebody.json").exists()
