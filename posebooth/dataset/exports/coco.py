"""COCO person keypoints: X/person_keypoints.json for the whole dataset.

The layout pycocotools reads (COCO(), loadAnns, annToMask, COCOeval with
iouType 'keypoints'): `images` (id, file_name, width, height), `annotations`
(id, image_id, category_id 1, keypoints [x, y, v] * 17 with v = 0 written as
(0, 0, 0), num_keypoints, bbox [x, y, w, h], area, iscrowd 0, segmentation
as compressed RLE of the visible mask), `categories` (person, COCO's
keypoint names and skeleton). Image ids are the dataset's (sample *
clip_frames + frame + 1, unique over shards); annotation ids run from 1.
file_name is relative to the dataset folder. One annotation per person with
a visible pixel or a labelled keypoint, as in a shard's coco.json.
"""
from __future__ import annotations

import json

import numpy as np

from posebooth.assets.smpl_skeleton import COCO17_NAMES, COCO17_SKELETON

FILE = "person_keypoints.json"


def _annotations(source, shard, first_id: int) -> tuple[list[dict], list[dict]]:
    from posebooth.export.coco import mask_rle_counts

    rows = shard.rows
    W, H = source.size
    images, anns = {}, []
    xy = np.round(rows["coco17"][..., :2].astype(np.float64), 3)
    vis = rows["coco17"][..., 2].astype(np.int64)
    if np.any((vis < 0) | (vis > 2)):
        from posebooth.dataset.exports.source import SourceError
        raise SourceError(f"{source.root / shard.rel / 'annotations.npz'}: 'coco17' visibility must be 0, 1 or 2")
    rle: dict[int, dict[int, str] | None] = {}   # image -> person -> RLE counts (one pass over each mask)
    for r in range(shard.count):
        image_id = int(rows["image"][r])
        if image_id not in images:
            images[image_id] = {"id": image_id, "file_name": shard.images[r], "width": int(W), "height": int(H),
                                "sample": int(rows["sample"][r]), "frame": int(rows["frame"][r])}
        v = vis[r]
        n_kp = int(np.count_nonzero(v))
        if n_kp == 0 and rows["mask_area"][r] == 0:
            continue   # entirely out of view
        kp = np.zeros((17, 3))
        kp[:, :2] = np.where(v[:, None] > 0, xy[r], 0.0)
        kp[:, 2] = v
        ann = {"id": first_id + len(anns), "image_id": image_id, "category_id": 1,
               "keypoints": kp.ravel().tolist(), "num_keypoints": n_kp,
               "bbox": [float(x) for x in rows["bbox"][r]], "area": float(rows["mask_area"][r]), "iscrowd": 0,
               "person_index": int(rows["person"][r])}
        if image_id not in rle:
            mask = source.mask(shard, r)
            people = rows["person"][rows["image"] == image_id].tolist()
            rle[image_id] = None if mask is None else dict(zip(people, mask_rle_counts(mask, people)))
        if rle[image_id] is not None:
            ann["segmentation"] = {"size": [int(H), int(W)], "counts": rle[image_id][int(rows["person"][r])]}
        anns.append(ann)
    return list(images.values()), anns


def coco_document(source, add_fields=None) -> dict:
    """The whole dataset's COCO dict, one shard in memory at a time;
    add_fields(source, shard, anns) may add fields to a shard's annotations
    (the coco-wholebody export's parts)."""
    images, anns = [], []
    for shard_index in source.shards:
        shard = source.load_shard(shard_index)
        more_images, more_anns = _annotations(source, shard, len(anns) + 1)
        if add_fields is not None:
            add_fields(source, shard, more_anns)
        images += more_images
        anns += more_anns
    return {
        "info": {"description": "PoseBooth synthetic people", "version": "1"},
        "licenses": [], "images": images, "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO17_NAMES),
                        "skeleton": [list(e) for e in COCO17_SKELETON]}],
    }


def export(source, out):
    from posebooth.dataset.exports import Written

    data = coco_document(source)
    images, anns = data["images"], data["annotations"]
    out.write_bytes(FILE, (json.dumps(data, allow_nan=False) + "\n").encode("utf-8"))
    notes = [f"{FILE}: COCO person keypoints for pycocotools; v = 2 visible, 1 occluded (inside the image), "
             "0 not labelled (outside the image or behind the camera); bbox and area are of the visible mask"]
    if "mask" not in source.manifest.passes:
        notes.append("the dataset has no mask pass: annotations carry no segmentation")
    return Written(files=[FILE], rows=len(anns), images=len(images), notes=notes)
