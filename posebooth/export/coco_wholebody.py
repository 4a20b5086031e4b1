"""coco_wholebody.json: the export's whole-body keypoints in COCO-WholeBody's
own annotation layout (what xtcocotools and mmpose's CocoWholeBodyDataset
read): the COCO person fields of coco.json plus foot_kpts (6), face_kpts
(68), lefthand_kpts and righthand_kpts (21 each), face_box, lefthand_box,
righthand_box and foot_valid, face_valid, lefthand_valid, righthand_valid.

A part is valid when one of its points is visible (v = 2); its box is the
tight box of its points inside the image (v > 0), grown by BOX_MARGIN of its
size on each side and clipped to the image; [0, 0, 0, 0] when none.
"""
from __future__ import annotations

import numpy as np

from posebooth.assets.wholebody import BODY, FACE, FEET, LEFT_HAND, RIGHT_HAND, WHOLEBODY_NAMES
from posebooth.export.coco import coco_dataset

BOX_MARGIN = 0.1
_PARTS = {"foot": FEET, "face": FACE, "lefthand": LEFT_HAND, "righthand": RIGHT_HAND}


def _box(kp: np.ndarray, size) -> list[float]:
    inside = kp[kp[:, 2] > 0, :2]
    if not len(inside):
        return [0.0, 0.0, 0.0, 0.0]
    lo, hi = inside.min(0), inside.max(0)
    pad = (hi - lo) * BOX_MARGIN
    lo = np.maximum(lo - pad, 0.0)
    hi = np.minimum(hi + pad, np.asarray(size, np.float64))
    return [round(float(v), 3) for v in (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])]


def _kpts(kp: np.ndarray) -> list[float]:
    out = np.where(kp[:, 2:3] > 0, kp, 0.0)
    out[:, :2] = np.round(out[:, :2].astype(np.float32).astype(np.float64), 3)
    return [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(out.reshape(-1))]


def wholebody_fields(kp133: np.ndarray, size) -> dict:
    """One person's COCO-WholeBody part fields (`*_kpts`, `*_valid`,
    `*_box`) from its 133 (x, y, v) keypoints; size (W, H) of the image.
    Shared by the scene export and the recipe dataset export."""
    kp = np.asarray(kp133, np.float64)
    out = {}
    for part, sl in _PARTS.items():
        pts = kp[sl]
        out[f"{part}_kpts"] = _kpts(pts)
        out[f"{part}_valid"] = bool((pts[:, 2] == 2).any())
        if part != "foot":
            out[f"{part}_box"] = _box(pts, size)
    return out


def coco_wholebody_dataset(frames, image_folder: str, size, wholebody133: np.ndarray, bbox, mask_area,
                           mask_rle=None) -> dict:
    """coco.json's dataset (export.coco) with each annotation carrying the
    whole-body fields; wholebody133 (F, P, 133, 3) of annotations.npz."""
    wb = np.asarray(wholebody133, np.float64)
    data = coco_dataset(frames, image_folder, size, wb[:, :, BODY], bbox, mask_area, mask_rle)
    index = {int(f): n for n, f in enumerate(frames)}
    for ann in data["annotations"]:
        ann.update(wholebody_fields(wb[index[ann["image_id"] - 1], ann["person_index"] - 1], size))
    data["categories"][0]["keypoints_wholebody"] = list(WHOLEBODY_NAMES)
    return data
