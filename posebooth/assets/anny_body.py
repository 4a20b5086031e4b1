"""The anny body (Apache-2.0 code, CC0 assets): PoseBooth's free default body.

anny is Z-up, faces -Y, body's left at +X; this backend converts to PoseBooth's
Y-up world, world = (x, z, -y), and nothing outside this file knows. Poses are
SMPL-24 axis-angles, retargeted onto anny's rig by `retarget.SmplToAnny`.

Never call anny's non-commercial SMPL conversion data (anny.paths.
download_noncommercial_data, get_anny2smpl*_data_path): it is not ours to ship.
"""
from __future__ import annotations

import logging
import sys
import threading
import time

import numpy as np
import torch

from posebooth.assets.body import BodyModelError, BodyOutput
from posebooth.assets.cache import anny_cache_dir, configure_warp
from posebooth.assets.retarget import JOINT_BONES, Prepared, SmplToAnny, bone_joints
from posebooth.assets.smpl_skeleton import COCO17_FROM_SMPL, JOINT_NAMES

logger = logging.getLogger(__name__)

BUILD_MESSAGE = "Building the anny body model (first run, about a minute)..."
_COCO_HEAD = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")   # COCO 0-4
_COCO_BODY = [COCO17_FROM_SMPL[k] for k in range(5, 17)]                    # COCO 5-16


def _build_anny(phenotypes: str):
    """Construct anny (float32, warp skinning) with its cache under ours.

    A cold build writes ~790 MB of intermediate data; only the compact file
    (~51 MB) is read by a warm construction, so the rest is deleted afterwards.
    """
    configure_warp()   # before anny's warp skinning initialises warp
    import anny
    import anny.paths

    cache = anny_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    anny.paths.set_anny_cache_path(cache)
    before = set(cache.rglob("*.safetensors"))
    # A warm load takes well under a second: only announce builds that take longer.
    progress: list = []

    def announce():
        from tqdm import tqdm
        logger.info(BUILD_MESSAGE)
        progress.append(tqdm(desc=BUILD_MESSAGE, bar_format="{desc} {elapsed}", file=sys.stderr))

    timer = threading.Timer(1.5, announce)
    timer.start()
    try:
        # warp_lbs runs on CPU through warp's CPU backend (and on CUDA when moved there).
        model = anny.Anny(pose_parameterization="local-ref", skinning_method="warp_lbs",
                          phenotypes=phenotypes)
    except Exception as exc:  # a broken cache or install: say what to do
        raise BodyModelError(f"Could not build the anny body model ({exc}). Delete {cache} "
                             "and try again; check that anny==0.6.2 is installed.") from exc
    finally:
        timer.cancel()
        timer.join()
        for bar in progress:
            bar.close()
    prune_build_files(cache, before)
    return model.to(torch.float32).eval()


def prune_build_files(cache, before: set) -> list:
    """Delete the cache files a build just wrote, except the compact model data."""
    removed = [p for p in set(cache.rglob("*.safetensors")) - before
               if not p.name.startswith("build_compact_model_data_")]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


class AnnyBody:
    """BodyModel backed by anny, driven by SMPL-24 poses.

    `forward` convention: the pelvis joint (anny's root bone head) lands exactly
    at `transl`, and `global_orient` turns the body about it, as in SMPL. The
    zero pose is a T-pose (arms along +-X, palms down, facing +Z). Joints are
    SMPL-24 points on anny: the heads of the mapped bones (`retarget.JOINT_BONES`).

    phenotypes: "default" gives anny's default shape set (gender, age, muscle,
    weight, height, proportions); "all" adds cupsize, firmness and the african/
    asian/caucasian mix, at twice the blend shapes (a 111 MB cache file and a
    several times slower forward).
    """

    name = "anny"

    def __init__(self, phenotypes: str = "default"):
        import anny

        t0 = time.perf_counter()
        model = _build_anny(phenotypes)
        self.model = model
        self.version = f"anny {anny.__version__}"
        self.shape_names = tuple(model.phenotype_labels)
        self.default_shape = np.full(len(self.shape_names), 0.5, dtype=np.float32)
        labels, parents = list(model.bone_labels), [int(p) for p in model.bone_parents]
        self.retarget = SmplToAnny(labels, parents, model.reference_bone_orientations.float())
        self._joint_bones = torch.tensor([labels.index(JOINT_BONES[j]) for j in JOINT_NAMES])
        self._no_params = torch.zeros(1, 0)
        self._delta_template = torch.eye(4)[None, None].repeat(1, len(labels), 1, 1)
        self._rest_cache: dict[bytes, tuple[dict, Prepared]] = {}
        self._cache_lock = threading.Lock()
        self._root_ref_is_identity = bool(torch.equal(self.retarget.ref_root, torch.eye(3)))

        with torch.inference_mode():
            rest = model(pose_parameters=None)["vertices"][0].numpy()   # anny axes; volume sign is the same
            faces = model.faces if model.faces.shape[1] == 3 else model.get_triangular_faces()
        faces = faces.cpu().numpy().astype(np.int32)
        if _signed_volume(rest, faces) < 0:   # make them counter-clockwise from outside
            faces = faces[:, ::-1].copy()
        self.faces = faces

        parts = torch.tensor(bone_joints(labels, parents, hands_own_fingers=True))
        idx, w = model.vertex_bone_indices, model.vertex_bone_weights.float()
        per_part = torch.zeros(idx.shape[0], len(JOINT_NAMES)).scatter_add_(1, parts[idx], w)
        self.part_labels = per_part.argmax(1).numpy().astype(np.uint8)

        # Nose, eyes, ears: anny's own COCO regressor (Apache-2.0 data shipped in
        # the package). Its ear weights spread over 4,000 vertices; the ones
        # holding 99.9% of each keypoint's weight give it within 0.02 mm.
        reg = anny.KeypointsRegressor.coco(model, labels=list(_COCO_HEAD)).regression_weights.float()
        order = reg.argsort(1, descending=True)
        share = reg.gather(1, order).cumsum(1) / reg.sum(1, keepdim=True)
        keep = torch.zeros_like(reg, dtype=torch.bool).scatter_(1, order, share < 0.999)
        keep.scatter_(1, order[:, :1], True)
        reg = torch.where(keep, reg, 0.0)
        self._coco_vertices = torch.nonzero(reg.sum(0)).flatten()
        self._coco_weights = reg[:, self._coco_vertices] / reg.sum(1, keepdim=True)
        logger.info("anny body ready in %.1f s", time.perf_counter() - t0)

    def _shape_tensor(self, shape) -> torch.Tensor:
        if shape is None:
            return torch.from_numpy(self.default_shape)[None]
        shape = torch.as_tensor(np.asarray(shape, dtype=np.float32))
        shape = shape.reshape(1, -1) if shape.ndim == 1 else shape
        if shape.ndim != 2 or shape.shape[1] != len(self.shape_names):
            raise ValueError(f"shape must be (S,) or (B, S) with S={len(self.shape_names)} "
                             f"({', '.join(self.shape_names)}), got {tuple(shape.shape)}")
        return shape

    def _rest(self, phen: torch.Tensor) -> tuple[dict, Prepared]:
        """anny's rest model and the retargeting constants for a shape batch.

        Uses anny internals (pinned anny==0.6.2) so that one rest model feeds both
        the retargeting and the skinning. Each distinct shape is built once and
        cached (the GUI poses one body many times; an export's batch holds a
        few people's shapes over many frames), which skips the blend shapes.
        """
        if phen.shape[0] > 1:
            uniq, inverse = torch.unique(phen, dim=0, return_inverse=True)
            entries = [self._rest(u[None]) for u in uniq]
            if len(entries) == 1:
                return entries[0]   # batch 1: broadcast over the poses
            rest = {k: torch.cat([e[0][k] for e in entries])[inverse] for k in entries[0][0]}
            return rest, Prepared(*(torch.cat(parts)[inverse] for parts in zip(*(e[1] for e in entries))))
        key = phen.numpy().tobytes()
        with self._cache_lock:
            if key in self._rest_cache:
                return self._rest_cache[key]
        m = self.model
        coeffs = m._get_phenotype_blendshape_coefficients(phen, self._no_params, self._no_params)
        rest = m.get_rest_model(coeffs)
        entry = rest, self.retarget.prepare(rest["rest_bone_heads"], rest["rest_bone_poses"][..., :3, :3])
        with self._cache_lock:
            if len(self._rest_cache) >= 64:   # ~0.2 MB each
                self._rest_cache.pop(next(iter(self._rest_cache)))
            self._rest_cache[key] = entry
        return entry

    def forward(self, global_orient, body_pose, transl, shape=None) -> BodyOutput:
        """Pose a batch: global_orient (B, 3), body_pose (B, 23, 3), transl (B, 3), shape
        (B, S) | (S,) | None in `shape_names` order, values in [0, 1] (default 0.5)."""
        m = self.model
        with torch.inference_mode():
            go = torch.as_tensor(np.asarray(global_orient, dtype=np.float32)).reshape(-1, 3)
            B = go.shape[0]
            bp = torch.as_tensor(np.asarray(body_pose, dtype=np.float32)).reshape(B, 23, 3)
            tr = torch.as_tensor(np.asarray(transl, dtype=np.float32)).reshape(B, 3)
            phen = self._shape_tensor(shape)
            if phen.shape[0] not in (1, B):
                raise ValueError(f"shape batch {phen.shape[0]} does not match pose batch {B}")
            rest, prep = self._rest(phen)
            rest_poses = rest["rest_bone_poses"]

            # local-ref deltas that pose anny straight in the Y-up world: the
            # root's delta holds the axis change and d_0 = U_0 transl.
            delta = self._delta_template.expand(B, -1, -1, -1).clone()
            self.retarget(torch.cat([go[:, None], bp], 1), prep, out=delta[..., :3, :3])
            delta[:, 0, :3, 3] = tr if self._root_ref_is_identity else tr @ self.retarget.ref_root.T
            transforms, poses = m.get_bone_transforms(delta, rest_poses)
            vertices = m.get_skinned_vertices(rest["rest_vertices"].expand(B, -1, -1), transforms)
            joints = poses[:, self._joint_bones, :3, 3]
            head_kp = self._coco_weights @ vertices[:, self._coco_vertices]
            coco = torch.cat([head_kp, joints[:, _COCO_BODY]], 1)
        return BodyOutput(vertices=vertices.numpy(), joints=joints.numpy(), coco17=coco.numpy())


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (vertices[faces[:, i]].astype(np.float64) for i in range(3))
    return float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0)


_bodies: dict[str, AnnyBody] = {}
_lock = threading.Lock()


def get_anny_body(phenotypes: str = "default") -> AnnyBody:
    """The process-wide anny body (built once; the first build takes about a minute)."""
    with _lock:
        if phenotypes not in _bodies:
            _bodies[phenotypes] = AnnyBody(phenotypes)
        return _bodies[phenotypes]
