"""COCO-WholeBody keypoints: X/coco_wholebody.json for the whole dataset.

COCO-WholeBody's own annotation layout (jin-s13/COCO-WholeBody), as
xtcocotools' COCO / COCOeval (iouType 'keypoints_wholebody') and mmpose's
CocoWholeBodyDataset read it: parse_data_info joins `keypoints` +
`foot_kpts` + `face_kpts` + `lefthand_kpts` + `righthand_kpts` into 133
points and reads `segmentation` unconditionally. The `coco` export's
document (same image ids, file names relative to the dataset folder, boxes,
areas, RLE segmentation, iscrowd 0, one annotation per person in view),
each annotation with the part fields of a scene export's
coco_wholebody.json (export.coco_wholebody.wholebody_fields) from the
shard's `wholebody133` rows.
"""
from __future__ import annotations

import json

import numpy as np

FILE = "coco_wholebody.json"


def _wholebody_rows(source, shard) -> np.ndarray:
    from posebooth.dataset.exports.source import SourceError

    where = source.root / shard.rel / "annotations.npz"
    wb = shard.rows.get("wholebody133")
    if wb is None:
        raise SourceError(f"{where}: no 'wholebody133' key (a dataset made before whole-body keypoints); run its "
                          f"recipe again with this PoseBooth to export coco-wholebody")
    v = wb[..., 2]
    if np.any((v != 0) & (v != 1) & (v != 2)):
        raise SourceError(f"{where}: 'wholebody133' visibility must be 0, 1 or 2")
    return wb.astype(np.float64)


def _add_parts(source, shard, anns: list[dict]) -> None:
    from posebooth.export.coco_wholebody import wholebody_fields

    wb = _wholebody_rows(source, shard)
    row = {(int(i), int(p)): r for r, (i, p) in enumerate(zip(shard.rows["image"], shard.rows["person"]))}
    for ann in anns:
        ann.update(wholebody_fields(wb[row[ann["image_id"], ann["person_index"]]], source.size))
        ann.setdefault("segmentation", [])   # no mask pass: no polygon, but mmpose reads the key


def export(source, out):
    from posebooth.assets.wholebody import WHOLEBODY_NAMES
    from posebooth.dataset.exports import Written
    from posebooth.dataset.exports.coco import coco_document

    data = coco_document(source, _add_parts)
    data["categories"][0]["keypoints_wholebody"] = list(WHOLEBODY_NAMES)
    out.write_bytes(FILE, (json.dumps(data, allow_nan=False) + "\n").encode("utf-8"))
    notes = [f"{FILE}: COCO-WholeBody keypoints for xtcocotools and mmpose (133 = keypoints 17 + foot_kpts 6 + "
             "face_kpts 68 + lefthand_kpts 21 + righthand_kpts 21); v = 2 visible, 1 occluded (inside the image), "
             "0 not labelled; a part is valid when one of its points is visible; bbox and area are of the "
             "visible mask"]
    if "mask" not in source.manifest.passes:
        notes.append("the dataset has no mask pass: segmentation is an empty list")
    return Written(files=[FILE], rows=len(data["annotations"]), images=len(data["images"]), notes=notes)
