"""coco.json: the COCO person-keypoints layout (FORMAT.md), built from the
assembled annotation arrays. Loads with pycocotools."""
from __future__ import annotations

import numpy as np

from posebooth.assets.smpl_skeleton import COCO17_NAMES, COCO17_SKELETON


def coco_dataset(frames: list[int], image_folder: str, size: tuple[int, int], coco17: np.ndarray,
                 bbox: np.ndarray, mask_area: np.ndarray, mask_rle: np.ndarray | None = None,
                 description: str = "", images: list[tuple[int, str]] | None = None) -> dict:
    """frames: F frame indices; coco17 (F, P, 17, 3) with v in {0, 1, 2};
    bbox (F, P, 4) x, y, w, h of the visible mask; mask_area (F, P) pixels.
    One image per frame (id = frame index + 1: COCO ids start at 1), one
    annotation per person with a visible mask or a labelled keypoint.
    Keypoints with v = 0 are written as (0, 0, 0), as COCO requires.
    mask_rle (F, P) str: compressed COCO RLE counts of each visible mask
    (`mask_rle_counts`), written as the annotation's `segmentation`.
    images: (image id, file name) per row instead of the frame-named ones
    (the dataset engine's shards)."""
    W, H = size
    anns = []
    vis = np.asarray(coco17[..., 2]).astype(np.int64)
    # Pixel coordinates to 3 decimals. For float32 values x * 1000 is exact
    # in float64, so this rounds exactly as Python's round(x, 3) does.
    xy = np.round(np.asarray(coco17[..., :2], np.float32).astype(np.float64), 3)
    xy[vis == 0] = 0.0
    named = images
    images = []
    for f, frame in enumerate(frames):
        image_id, name = named[f] if named is not None else (int(frame) + 1, f"{image_folder}/{int(frame):06d}.png")
        images.append({"id": int(image_id), "file_name": name, "width": int(W), "height": int(H),
                       "frame_index": int(frame)})
        for p in range(coco17.shape[1]):
            v = vis[f, p]
            n_kp = int(np.count_nonzero(v))
            if n_kp == 0 and mask_area[f, p] == 0:
                continue  # person entirely out of view
            keypoints = [0.0] * 51
            keypoints[0::3], keypoints[1::3] = xy[f, p, :, 0].tolist(), xy[f, p, :, 1].tolist()
            keypoints[2::3] = v.tolist()
            anns.append({
                "id": len(anns) + 1, "image_id": image_id, "category_id": 1,
                "keypoints": keypoints,
                "num_keypoints": n_kp,
                "bbox": [float(x) for x in bbox[f, p]],
                "area": float(mask_area[f, p]),
                "iscrowd": 0,
                "person_index": p + 1,
            })
            if mask_rle is not None:
                anns[-1]["segmentation"] = {"size": [int(H), int(W)], "counts": str(mask_rle[f, p])}
    return {
        "info": {"description": description or "PoseBooth synthetic people", "version": "1"},
        "licenses": [],
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": list(COCO17_NAMES),
                        "skeleton": [list(e) for e in COCO17_SKELETON]}],
    }


def mask_rle_counts(instance: np.ndarray, instance_ids) -> list[str]:
    """Compressed COCO RLE counts strings of the pixels equal to each id.
    COCO's RLE runs down columns: the runs of the whole column-major image
    are found once, and each id's counts are sums of consecutive runs (its
    own, and everything else's between them). pycocotools compresses them."""
    from pycocotools import mask as mask_utils

    H, W = np.shape(instance)
    flat = np.ascontiguousarray(np.asarray(instance).T).ravel()
    starts = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1])
    lengths = np.diff(np.append(starts, flat.size))
    values = flat[starts]
    out = []
    for k in instance_ids:
        mine = values == k
        groups = np.concatenate([[0], np.flatnonzero(mine[1:] != mine[:-1]) + 1])
        counts = np.add.reduceat(lengths, groups).tolist()
        if mine[0]:
            counts.insert(0, 0)   # RLE counts start with a run of zeros
        rle = mask_utils.frPyObjects({"counts": counts, "size": [H, W]}, H, W)
        out.append(rle["counts"].decode("ascii"))
    return out
