"""SMPL parameters of a shard's rows in the convention BEDLAM and 4D-Humans
train on (smplx's `transl`, a root rotation in the camera frame).

Without a fit (shards/SSSSSS/smpl_fit.npz), the pose is the SMPL-24 driving
pose of the anny body: its limb directions are the body's, but it is not a
fitted SMPL body, betas are zeros, and smplx's `transl` is placed with the
generic neutral rest pelvis J0 (SMPL_REST_PELVIS), so that J0 + transl is
the rendered pelvis. With a fit, everything comes from the fit.

smplx: a vertex v of the rest body goes to R_root (v - J0) + J0 + transl, so
the pelvis lands at J0 + transl, J0 unrotated, in whatever frame transl is.
Moving the body by a camera (R, t): the root becomes R R_root and the pelvis
R (J0 + transl) + t. BEDLAM stores trans_cam = R (J0 + transl_world) - J0 and
adds cam_ext[:3, 3] back when it loads (train/dataset/dataset.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.assets.motion import SMPL_REST_PELVIS
from posebooth.dataset.exports.source import FIT_BETAS, Shard

BOX_RESCALE = 1.2        # BEDLAM's SCALE_FACTOR_BBOX: the box around the person, 20% larger
J0_NOTE = (f"no SMPL fit: betas are zeros and trans_* use SMPL's neutral rest pelvis J0 = "
           f"{SMPL_REST_PELVIS.tolist()} m (model frame), so J0 + trans is the rendered pelvis; the poses are the "
           f"SMPL-24 driving pose of the anny body (limb directions match the render; an SMPL body posed with "
           f"them lands ~60 mm from the exported joints)")


@dataclass
class SmplRows:
    pose_world: np.ndarray    # (R, 72) root rotation in the world frame, then the 23 body joints
    pose_cam: np.ndarray      # (R, 72) root rotation in the camera frame, then the 23 body joints
    betas: np.ndarray         # (R, 10)
    trans_world: np.ndarray   # (R, 3) smplx transl, world
    trans_cam: np.ndarray     # (R, 3) BEDLAM's: body in camera = smplx(pose_cam, betas) + trans_cam + cam_ext[:3, 3]
    j0: np.ndarray            # (R, 3) the rest pelvis used
    fitted: bool


def smpl_rows(shard: Shard) -> SmplRows:
    rows, fit = shard.rows, shard.fit
    n = shard.count
    rot = rows["cam_ext"][:, :3, :3].astype(np.float64)
    if fit is not None:
        go, bp, betas, j0 = fit["global_orient"], fit["body_pose"], fit["betas"], fit["j0"]
        pelvis = j0 + fit["transl_smplx"]
    else:
        go, bp = rows["global_orient"].astype(np.float64), rows["body_pose"].astype(np.float64)
        betas, j0 = np.zeros((n, FIT_BETAS)), np.broadcast_to(SMPL_REST_PELVIS, (n, 3)).copy()
        pelvis = rows["transl"].astype(np.float64)
    root_cam = (Rotation.from_matrix(rot) * Rotation.from_rotvec(go)).as_rotvec()
    trans_cam = np.einsum("rij,rj->ri", rot, pelvis) - j0
    return SmplRows(pose_world=np.concatenate([go, bp], 1), pose_cam=np.concatenate([root_cam, bp], 1),
                    betas=np.asarray(betas, np.float64), trans_world=pelvis - j0, trans_cam=trans_cam, j0=j0,
                    fitted=fit is not None)


def fit_meta(shards: list[int], fitted: list[bool]) -> dict:
    """export.json: which shards had an SMPL fit, and the rest pelvis the others used."""
    meta = {"fitted": all(fitted), "fitted_shards": [s for s, f in zip(shards, fitted) if f]}
    if not all(fitted):
        meta["smpl_rest_pelvis"] = SMPL_REST_PELVIS.tolist()
    return meta


def center_scale(bbox: np.ndarray, square: bool) -> tuple[np.ndarray, np.ndarray]:
    """Box centre (R, 2) and size in units of 200 px, BOX_RESCALE larger:
    (R,) of the longer side (square, BEDLAM), or (R, 2) width and height (4D-Humans)."""
    bbox = np.asarray(bbox, np.float64)
    center = bbox[:, :2] + bbox[:, 2:] / 2
    size = bbox[:, 2:] * BOX_RESCALE / 200.0
    return center, (size.max(axis=1) if square else size)


def in_front(rows: dict) -> np.ndarray:
    """(R, 24) joints in front of the camera: their 2D projection is defined."""
    return rows["joints3d_cam"][..., 2] > 0


def anny_gender(body_shape: np.ndarray) -> np.ndarray:
    """'m' / 'f' per row from anny's gender phenotype (column 0; <= 0.5 is male)."""
    return np.where(np.asarray(body_shape)[:, 0] <= 0.5, "m", "f")
