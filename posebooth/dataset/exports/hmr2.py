"""4D-Humans (HMR 2.0) webdataset shards: X/SSSSSS.tar per dataset shard.

Written to what `ImageDataset.load_tars_as_webdataset` and
`process_webdataset_tar_item` read (shubham-goel/4D-Humans,
hmr2/datasets/image_dataset.py). One tar sample per image, key
SSSSSSSS_FFF (no dots: webdataset splits the key at the first one):

- `KEY.png`: the image (the loader renames 'jpg;jpeg;png' to jpg and
  decodes rgb8);
- `KEY.data.pyd`: a pickled list, one dict per person with a visible mask:
  keypoints_2d (44, 3) pixels + confidence, keypoints_3d (44, 4) camera
  frame metres + confidence, center (2,), scale (2,) = box width and height
  * 1.2 / 200 (the loader multiplies by 200), body_pose (72,) = camera-frame
  root rotation then the 23 body joints, betas (10,), has_body_pose,
  has_betas, extra_info (detection_npz_idx, our ids and visibility);
- `KEY.detection.npz`: `masks` (N, H, W) bool, the people's visible masks
  (the loader crops them with the image), when the dataset has masks.

The 44 keypoints are OpenPose BODY_25 then 19 extra joints. Slots 1-14
are filled from the SMPL-24 joints exactly as HMR 2.0's own SMPL wrapper
fills them (hmr2/models/smpl_wrapper.py, smpl_to_openpose), slots 0 and
15-18 (nose, eyes, ears) from our COCO keypoints (2D only); feet and the
LSP/H36M extras are not ours to give (confidence 0). keypoints_3d[39] (the
extras' MPII pelvis, the loss's `pelvis_id`) holds the SMPL pelvis with
confidence 0, so the 3D loss centres on the pelvis.

The pickles hold only numpy arrays rebuilt by `numpy.ndarray` and Python
builtins, so numpy 1.x and 2.x both read them (numpy 2's own array pickles
name numpy._core, which numpy 1.x lacks).
"""
from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np

from posebooth.dataset.exports.smpl_params import (BOX_RESCALE, J0_NOTE, center_scale, fit_meta, in_front,
                                                   smpl_rows)
from posebooth.dataset.exports.source import MAX_IMAGE_BYTES, SourceError
from posebooth.dataset.layout import frame_stem
from posebooth.export.files import ExportError
from posebooth.files.safe_read import UserFileError, read_user_file

N_KEYPOINTS = 44
PELVIS_ID = 25 + 14
# OpenPose slot <- SMPL-24 joint (the inverse of HMR 2.0's smpl_to_openpose for slots 1..14).
OPENPOSE_FROM_SMPL = {1: 12, 2: 17, 3: 19, 4: 21, 5: 16, 6: 18, 7: 20, 8: 0, 9: 2, 10: 5, 11: 8, 12: 1, 13: 4, 14: 7}
# OpenPose slot <- COCO-17 keypoint: nose, right eye, left eye, right ear, left ear.
OPENPOSE_FROM_COCO = {0: 0, 15: 2, 16: 1, 17: 4, 18: 3}


class _PortablePickler(pickle.Pickler):
    """Arrays as numpy.ndarray(shape, dtype string, writable buffer)."""

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            a = np.ascontiguousarray(obj)
            return np.ndarray, (a.shape, a.dtype.str, bytearray(a.tobytes()))
        if isinstance(obj, np.generic):
            return self.reducer_override(np.asarray(obj))
        return NotImplemented


def portable_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _PortablePickler(buf, protocol=4).dump(obj)
    return buf.getvalue()


def person_records(rows: dict, smpl, r: int, fitted: bool) -> dict:
    """One person's dict, as process_webdataset_tar_item reads it."""
    front = in_front(rows)[r]
    kp2 = np.zeros((N_KEYPOINTS, 3), np.float32)
    kp3 = np.zeros((N_KEYPOINTS, 4), np.float32)
    for slot, j in OPENPOSE_FROM_SMPL.items():
        kp2[slot] = (*rows["joints2d"][r, j], float(front[j]))
        kp3[slot] = (*rows["joints3d_cam"][r, j], 1.0)
    for slot, k in OPENPOSE_FROM_COCO.items():
        x, y, v = rows["coco17"][r, k]
        kp2[slot] = (x, y, 1.0) if v > 0 else (0.0, 0.0, 0.0)
    kp3[PELVIS_ID, :3] = rows["joints3d_cam"][r, 0]
    center, scale = center_scale(rows["bbox"][r:r + 1], square=False)
    one = np.array(1.0, np.float32)
    return {
        "keypoints_2d": kp2, "keypoints_3d": kp3,
        "center": center[0].astype(np.float32), "scale": scale[0].astype(np.float32),
        "body_pose": smpl.pose_cam[r].astype(np.float32), "betas": smpl.betas[r].astype(np.float32),
        "has_body_pose": one, "has_betas": one if fitted else np.array(0.0, np.float32),
        "extra_info": {"sample": int(rows["sample"][r]), "frame": int(rows["frame"][r]),
                       "person": int(rows["person"][r]), "image_id": int(rows["image"][r]),
                       "cam_K": rows["cam_K"][r].astype(np.float32), "joints2d_vis": rows["joints2d_vis"][r],
                       # smplx(body_pose, betas, transl=this) is the body in the camera frame
                       "smpl_transl_cam": (smpl.trans_cam[r] + rows["cam_ext"][r, :3, 3]).astype(np.float32)},
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _masks(source, shard, rows_of_image: list[int]) -> np.ndarray | None:
    mask = source.mask(shard, rows_of_image[0])
    if mask is None:
        return None
    return np.stack([mask == shard.rows["person"][r] for r in rows_of_image])


def _image_bytes(source, rel: str) -> bytes:
    try:
        return read_user_file(source.root / rel, "image", MAX_IMAGE_BYTES)
    except UserFileError as e:
        raise SourceError(str(e)) from None


def export(source, out):
    from posebooth.dataset.exports import Written

    files, people, images, fitted = [], 0, 0, []
    for shard_index in source.shards:
        shard = source.load_shard(shard_index)
        rows, smpl = shard.rows, smpl_rows(shard)
        fitted.append(smpl.fitted)
        by_image: dict[int, list[int]] = {}
        for r in np.flatnonzero(rows["mask_area"] > 0).tolist():
            by_image.setdefault(int(rows["image"][r]), []).append(r)
        name = f"{shard_index:06d}.tar"
        tmp = out.temp_path_for(name)
        try:
            with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
                for image_id in sorted(by_image):
                    rs = by_image[image_id]
                    key = frame_stem(rows["sample"][rs[0]], rows["frame"][rs[0]])
                    records = [person_records(rows, smpl, r, smpl.fitted) for r in rs]
                    masks = _masks(source, shard, rs)
                    if masks is not None:
                        for i, rec in enumerate(records):
                            rec["extra_info"]["detection_npz_idx"] = i
                    _add(tar, f"{key}.png", _image_bytes(source, shard.images[rs[0]]))
                    _add(tar, f"{key}.data.pyd", portable_pickle(records))
                    if masks is not None:
                        buf = io.BytesIO()
                        np.savez(buf, masks=masks)
                        _add(tar, f"{key}.detection.npz", buf.getvalue())
                    people += len(rs)
                    images += 1
            out.commit(tmp, name)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise ExportError(f"cannot write {name} in {out.root}: {e.strerror or e}; nothing partial was left "
                              f"under that name") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        files.append(name)
    notes = ["SSSSSS.tar: 4D-Humans webdataset shards (KEY.png, KEY.data.pyd, KEY.detection.npz), one sample per "
             "image, one record per person with a visible mask; list them in hmr2/configs/datasets_tar.yaml as "
             f"URLS: X/{{{source.shards[0]:06d}..{source.shards[-1]:06d}}}.tar",
             f"scale = box width and height x {BOX_RESCALE} / 200; keypoint confidence 1 for joints in front of "
             "the camera (extra_info.joints2d_vis has the visibility)",
             "keypoints: OpenPose slots 1-14 from the SMPL-24 joints (as HMR 2.0's SMPL wrapper maps them), "
             "0 and 15-18 from COCO nose/eyes/ears (2D only); keypoints_3d[39] is the SMPL pelvis (HMR 2.0 "
             "regresses its MPII pelvis from vertices; the two differ by a few cm)"]
    if not all(fitted):
        notes.append(J0_NOTE + "; has_betas is 0")
    return Written(files=files, rows=people, images=images, notes=notes,
                   meta={**fit_meta(source.shards, fitted), "image_root": "embedded"})
