"""BEDLAM's training labels: one .npz, one row per visible person and frame.

Written to what BEDLAM's loader reads (pixelite1201/BEDLAM,
train/dataset/dataset.py, DatasetHMR) and as its own preprocessing writes
them (data_processing/df_full_body_smpl.py):

- `imgname` (N,) str, joined to the dataset's image folder; `center` (N, 2)
  and `scale` (N,) = the longer box side * 1.2 / 200 (SCALE_FACTOR_BBOX);
- `pose_cam` (N, 72): root rotation in the camera frame, then the 23 body
  joints (the SMPL-X trainer takes [:, :66], SMPL's first 22 joints);
  `pose_world` (N, 72) the same with the world root; `shape` (N, 10) betas
  (the loader pads them to 11);
- `trans_cam` (N, 3): the loader's `translation` is cam_ext[:3, 3] + trans_cam,
  and smplx(pose_cam, shape) + translation is the body in the camera frame;
  `trans_world` (N, 3) smplx's transl in the world;
- `cam_int` (N, 3, 3) (the focal length comes from [0, 0], [1, 1]);
  `cam_ext` (N, 4, 4) world -> camera;
- `gtkps` (N, 24, 3): SMPL-24 joints in pixels (BEDLAM's projection K p / z)
  and a confidence: 1 for every joint in front of the camera (BEDLAM labels
  occluded and out-of-image joints too), 0 behind it;
- `gender` (N,) 'm' / 'f' (the loader compares with 'm').

Extra keys for the user (the loader ignores them): `gtkps_vis` (N, 24) our
visibility (2 visible, 1 occluded, 0 outside), `joints3d_cam`, `sample`,
`frame`, `person`, `image`. Arrays only, no pickles: numpy 1.x reads it.
"""
from __future__ import annotations

import io

import numpy as np

from posebooth.dataset.exports.smpl_params import (BOX_RESCALE, J0_NOTE, anny_gender, center_scale, fit_meta,
                                                   in_front, smpl_rows)

FILE = "bedlam.npz"


def export(source, out):
    from posebooth.dataset.exports import Written

    cols: dict[str, list] = {}
    fitted = []
    for shard_index in source.shards:
        shard = source.load_shard(shard_index)
        rows, smpl = shard.rows, smpl_rows(shard)
        keep = rows["mask_area"] > 0
        fitted.append(smpl.fitted)
        center, scale = center_scale(rows["bbox"], square=True)
        conf = in_front(rows).astype(np.float32)
        part = {
            "imgname": np.asarray(shard.images), "center": center, "scale": scale,
            "pose_cam": smpl.pose_cam, "pose_world": smpl.pose_world, "shape": smpl.betas,
            "trans_cam": smpl.trans_cam, "trans_world": smpl.trans_world,
            "cam_int": rows["cam_K"], "cam_ext": rows["cam_ext"],
            "gtkps": np.concatenate([rows["joints2d"], conf[..., None]], -1),
            "gender": anny_gender(rows["body_shape"]),
            "gtkps_vis": rows["joints2d_vis"], "joints3d_cam": rows["joints3d_cam"],
            "sample": rows["sample"], "frame": rows["frame"], "person": rows["person"], "image": rows["image"],
        }
        for k, v in part.items():
            cols.setdefault(k, []).append(np.asarray(v)[keep])
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    for k, v in arrays.items():
        if v.dtype.kind == "f":
            arrays[k] = v.astype(np.float32)
    arrays["imgname"] = arrays["imgname"].astype(str)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    out.write_bytes(FILE, buf.getvalue())
    notes = [f"{FILE}: the keys BEDLAM's train/dataset/dataset.py reads, one row per person with a visible mask; "
             f"scale = longer box side x {BOX_RESCALE} / 200; gtkps confidence 1 for joints in front of the "
             f"camera (gtkps_vis has the visibility)",
             "frames: cam_ext maps PoseBooth's world (Y up, metres) to OpenCV camera axes; pose_world and "
             "trans_world are in that world, not BEDLAM's",
             "gtkps are SMPL-24 joints (as BEDLAM's SMPL preprocessing writes); the SMPL-X trainer compares "
             "gtkps[:, 22:24] with SMPL-X's jaw and left eye, not the hands"]
    if not all(fitted):
        notes.append(J0_NOTE)
    return Written(files=[FILE], rows=len(arrays["imgname"]), images=len(set(arrays["imgname"].tolist())),
                   notes=notes, meta=fit_meta(source.shards, fitted))
