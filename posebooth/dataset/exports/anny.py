"""anny-native parameters, for mesh recovery on the anny body: X/SSSSSS.npz
per dataset shard, one row per person with a visible mask.

Each row holds what anny itself takes to pose the rendered body in the
camera frame (OpenCV axes, metres):

    model = anny.Anny(pose_parameterization="local-ref")   # anny 0.6.2 defaults otherwise
    out = model(pose_parameters=torch.from_numpy(z["pose_parameters"][i:i+1]),
                phenotype_kwargs=torch.from_numpy(z["phenotypes"][i:i+1]))
    out["bone_poses"][0, z["smpl24_bones"], :3, 3]   # = joints3d_cam[i]; K @ that / z = joints2d[i]

Keys: `pose_parameters` (N, J, 4, 4) anny's 'local-ref' bone transforms
(the root's holds the body's rotation and pelvis position in the camera
frame), `bone_labels` (J,), `phenotypes` (N, S) in `phenotype_labels` order
(gender, age, muscle, weight, height, proportions; 0..1, gender <= 0.5 is
male), `smpl24_bones` (24,) the bone whose head is each SMPL-24 joint;
the truth: `joints3d_cam` (N, 24, 3), `joints2d` (N, 24, 2), `joints2d_vis`
(N, 24), `coco17` (N, 17, 3); `cam_K`, `cam_ext`, `bbox`, `imgname`
(relative to the dataset folder), `sample`, `frame`, `person`, `image`,
`anny_version`, `pose_parameterization`.
"""
from __future__ import annotations

import io

import numpy as np
from scipy.spatial.transform import Rotation

BATCH = 256   # rows posed per anny call


def camera_frame_poses(rows: dict, keep: np.ndarray):
    """The SMPL-24 driving poses moved into the camera frame: the root turned
    by the camera's rotation, the pelvis at its camera position (anny's
    posing follows a turned root rigidly, so this is the rendered body as
    the camera sees it)."""
    rot = rows["cam_ext"][keep, :3, :3].astype(np.float64)
    go = (Rotation.from_matrix(rot) * Rotation.from_rotvec(rows["global_orient"][keep].astype(np.float64)))
    pelvis = np.einsum("rij,rj->ri", rot, rows["transl"][keep].astype(np.float64)) + rows["cam_ext"][keep, :3, 3]
    return go.as_rotvec(), rows["body_pose"][keep].reshape(-1, 23, 3), pelvis


def export(source, out):
    from posebooth.assets.anny_body import get_anny_body
    from posebooth.assets.retarget import JOINT_BONES
    from posebooth.assets.smpl_skeleton import JOINT_NAMES
    from posebooth.dataset.exports import Written
    from posebooth.dataset.exports.source import SourceError

    body = get_anny_body()
    labels = list(body.model.bone_labels)
    bones = np.array([labels.index(JOINT_BONES[j]) for j in JOINT_NAMES], np.int64)
    phen_labels = list(body.shape_names)
    files, total, images = [], 0, set()
    for shard_index in source.shards:
        shard = source.load_shard(shard_index)
        rows = shard.rows
        if rows["body_shape"].shape[1] < len(phen_labels):
            raise SourceError(f"{source.root / shard.rel / 'annotations.npz'}: 'body_shape' has "
                              f"{rows['body_shape'].shape[1]} columns; anny's are {', '.join(phen_labels)}")
        keep = np.flatnonzero(rows["mask_area"] > 0)
        phen = rows["body_shape"][keep, :len(phen_labels)].astype(np.float32)
        go, bp, pelvis = camera_frame_poses(rows, keep)
        hands = [rows[k][keep].reshape(-1, 15, 3) if k in rows else None   # the fingers, when exported
                 for k in ("left_hand_pose", "right_hand_pose")]
        cut = lambda a, i: None if a is None else a[i:i + BATCH]   # noqa: E731
        params = np.concatenate([body.pose_parameters(go[i:i + BATCH], bp[i:i + BATCH], pelvis[i:i + BATCH],
                                                      phen[i:i + BATCH], cut(hands[0], i), cut(hands[1], i))
                                 for i in range(0, len(keep), BATCH)]
                                ) if len(keep) else np.zeros((0, len(labels), 4, 4), np.float32)
        arrays = {
            "imgname": np.asarray(shard.images)[keep].astype(str), "bbox": rows["bbox"][keep],
            "phenotype_labels": np.asarray(phen_labels), "phenotypes": phen,
            "pose_parameterization": np.asarray("local-ref"), "bone_labels": np.asarray(labels),
            "pose_parameters": params.astype(np.float32), "smpl24_bones": bones,
            "anny_version": np.asarray(body.version),
            **{k: rows[k][keep] for k in ("cam_K", "cam_ext", "joints3d_cam", "joints2d", "joints2d_vis", "coco17",
                                          "sample", "frame", "person", "image")},
        }
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        name = f"{shard_index:06d}.npz"
        out.write_bytes(name, buf.getvalue())
        files.append(name)
        total += len(keep)
        images.update(arrays["imgname"].tolist())
    notes = ["SSSSSS.npz: anny-native parameters per shard, one row per person with a visible mask; "
             "anny.Anny(pose_parameterization='local-ref')(pose_parameters, phenotype_kwargs=phenotypes) poses "
             "the rendered body in the camera frame (OpenCV axes, metres); bone heads smpl24_bones are "
             f"joints3d_cam; {body.version}"]
    return Written(files=files, rows=total, images=len(images), notes=notes, meta={"anny": body.version})
