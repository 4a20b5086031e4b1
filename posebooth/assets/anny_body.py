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
from posebooth.assets.cache import configure_warp, prepare_anny_cache
from posebooth.assets.hand_skeleton import HAND21_NAMES
from posebooth.assets.retarget import JOINT_BONES, Prepared, SmplToAnny, bone_joints
from posebooth.assets.smpl_skeleton import COCO17_FROM_SMPL, JOINT_NAMES

logger = logging.getLogger(__name__)

BUILD_MESSAGE = "Building the anny body model (first run, about a minute)..."
_COCO_HEAD = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")   # COCO 0-4
_COCO_BODY = [COCO17_FROM_SMPL[k] for k in range(5, 17)]                    # COCO 5-16
_CACHED_SHAPES = 64   # rest models kept (per-shape cache of AnnyBody._rest)


def _install_concrete_broadcast_shapes() -> None:
    """torch.broadcast_shapes without sympy for plain integer shapes.

    roma (inside anny) calls torch.broadcast_shapes on every rigid transform;
    torch's implementation imports its symbolic-shape machinery, and with it
    sympy, on first use: 0.3 s of the app's start-up (measured), for shapes
    that are always plain integers here. Those get numpy's broadcasting (the
    same rule); anything else (symbolic sizes, tracing) goes to torch's own.
    """
    import numpy as np
    import torch

    original = torch.broadcast_shapes
    if getattr(original, "_posebooth_concrete", False):
        return

    def broadcast_shapes(*shapes):
        dims = [(s,) if isinstance(s, int) else s for s in shapes]
        if torch.jit.is_tracing() or not all(type(d) is int for s in dims for d in s):
            return original(*shapes)
        try:
            return torch.Size(np.broadcast_shapes(*[tuple(s) for s in dims]))
        except ValueError as e:   # torch's error type for shapes that do not broadcast
            raise RuntimeError(str(e)) from None

    broadcast_shapes._posebooth_concrete = True
    broadcast_shapes.__doc__ = original.__doc__
    torch.broadcast_shapes = broadcast_shapes


def import_anny():
    """Import anny (and anny.paths) without importing TorchDynamo.

    anny's rotation library, roma, wraps two functions in torch._dynamo.disable
    at import, and that imports all of TorchDynamo: ~2 s, more than torch
    itself, on every app start and render. Nothing here runs under
    torch.compile, where that wrapper matters, so a no-op `disable` stands in
    while anny imports; the real torch._dynamo stays importable as usual.
    """
    _install_concrete_broadcast_shapes()
    if "anny.paths" in sys.modules or "torch._dynamo" in sys.modules:
        import anny
        import anny.paths  # noqa: F401
        return anny
    import types
    stub = types.ModuleType("torch._dynamo")
    stub.disable = lambda fn=None, recursive=True, **kw: fn if fn is not None else (lambda f: f)
    sys.modules["torch._dynamo"] = stub
    try:
        import anny
        import anny.paths  # noqa: F401
    finally:
        if sys.modules.get("torch._dynamo") is stub:
            del sys.modules["torch._dynamo"]
    return anny


def _build_anny(phenotypes: str):
    """Construct anny (float32, warp skinning) with its cache under ours.

    A cold build writes ~790 MB of intermediate data; only the compact file
    (~51 MB) is read by a warm construction, so the rest is deleted afterwards.
    """
    cache = prepare_anny_cache()   # an unusable cache folder: one clear error, first
    configure_warp()   # before anny's warp skinning initialises warp
    anny = import_anny()

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
                          phenotypes=phenotypes, facial_actions="all")
    except Exception as exc:  # a broken cache or install: say what to do
        raise BodyModelError(f"Could not build the anny body model ({exc}). Delete {cache} "
                             "and try again; check that anny==0.6.2 is installed.") from exc
    finally:
        timer.cancel()
        timer.join()
        for bar in progress:
            bar.close()
    prune_build_files(cache, before)
    _keep_skinning_kernel()
    return model.to(torch.float32).eval()


def _keep_skinning_kernel() -> None:
    """anny makes its warp skinning kernel anew on every call (a kernel
    object whose code warp walks and hashes, about 0.5 ms, a third of
    skinning three bodies). The kernel depends only on get_kernel's
    arguments (dtypes and a count, all hashable), so one per set is kept."""
    import functools

    import anny.skinning.warp_skinning as skinning

    if not getattr(skinning.get_kernel, "_posebooth_kept", False):
        kept = functools.cache(skinning.get_kernel)
        kept._posebooth_kept = True
        skinning.get_kernel = kept


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
        anny = import_anny()

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
        self.expression_names = tuple(model.facial_action_labels)
        self._no_face = torch.zeros(1, len(self.expression_names))
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
        self._init_hands(labels)
        self._init_face()
        logger.info("anny body ready in %.1f s", time.perf_counter() - t0)

    def _init_hands(self, labels: list[str]) -> None:
        """The 21 hand points per side (HAND21_NAMES): the wrist, finger bone
        heads, and the fingertips as the skin vertex of each distal phalanx
        farthest along it (on the default rest mesh)."""
        m = self.model
        with torch.inference_mode():
            coeffs = m._get_phenotype_blendshape_coefficients(torch.from_numpy(self.default_shape)[None],
                                                              self._no_params, self._no_face)
            rest = m.get_rest_model(coeffs)
        verts, poses = rest["rest_vertices"][0], rest["rest_bone_poses"][0]
        heads, tips = [], []
        for S in "LR":
            bones = [f"wrist.{S}"] + [f"finger{f}-{k}.{S}" for f in range(1, 6) for k in (1, 2, 3)]
            heads.append([labels.index(b) for b in bones])
            for f in range(1, 6):
                b = labels.index(f"finger{f}-3.{S}")
                weight = (m.vertex_bone_weights * (m.vertex_bone_indices == b)).sum(1)
                own = torch.nonzero(weight > 0.9).flatten()
                offset = verts[own] - poses[b, :3, 3]
                along = offset @ poses[b, :3, 1]
                across = (offset - along[:, None] * poses[b, :3, 1]).norm(dim=1)
                tips.append(int(own[(along - across).argmax()]))   # the tip of the pad, near the axis
        # (2, 21) gather order: bone heads first (2 x 16), tips after (10 vertices)
        order = []
        for side in range(2):
            row = [side * 16]
            for f in range(5):
                row += [side * 16 + 1 + 3 * f + k for k in range(3)] + [32 + side * 5 + f]
            order.append(row)
        assert len(order[0]) == len(HAND21_NAMES)
        self._hand_bones = torch.tensor(heads).flatten()
        self._tip_vertices = torch.tensor(tips)
        self._hand21_order = torch.tensor(order)

    def _init_face(self) -> None:
        """anny's facial actions as a sparse linear blend shape: the rows of its
        blend shapes after the phenotype basis, on the vertices they move (they
        move no bone: checked on anny 0.6.2), added to the rest vertices."""
        m = self.model
        with torch.inference_mode():
            n_phen = m._get_phenotype_blendshape_coefficients(
                torch.from_numpy(self.default_shape)[None], self._no_params, self._no_face).shape[1] \
                - len(self.expression_names)
            shapes = m.blendshapes[n_phen:n_phen + len(self.expression_names)].float()
            moved = torch.nonzero(shapes.abs().sum((0, 2)) > 0).flatten()
        self._face_vertices = moved
        self._face_shapes = shapes[:, moved].reshape(len(self.expression_names), -1).contiguous()
        # Their skinning weights over the few bones they hang from, dense: (Vf, nf).
        idx, w = m.vertex_bone_indices[moved], m.vertex_bone_weights[moved].float()
        self._face_bones = torch.unique(idx[w > 0])
        where = torch.searchsorted(self._face_bones, idx.clamp(max=int(self._face_bones[-1])))
        dense = torch.zeros(len(moved), len(self._face_bones))
        self._face_weights = dense.scatter_add_(1, where, torch.where(w > 0, w, 0.0))
        self._face_weights_np = self._face_weights.numpy()
        self._face_shapes_np = self._face_shapes.numpy()
        self._face_vertices_np = moved.numpy()

    def _add_face(self, vertices: torch.Tensor, transforms: torch.Tensor, expression) -> None:
        """Add the facial blend shapes in use to skinned `vertices`, in place.

        Skinning is linear: sum_b w_b T_b (v + d) = (skinned v) + (sum_b w_b R_b) d,
        so each moved vertex's offset d turns by its blended bone rotation. This
        skins the rest mesh the shape cache already holds: a changed rest mesh
        per call made warp's skinning 5x slower (a fresh input every time).
        numpy, not torch: torch ops on warp's fresh output waited for torch's
        thread pool (10+ ms a call measured on a busy 2-core machine); these
        loops of small numpy ops stay on this thread, with no BLAS call.
        """
        face = np.asarray(expression, dtype=np.float32).reshape(-1, len(self.expression_names))
        if not face.any():
            return
        B = transforms.shape[0]
        face = np.broadcast_to(face, (B, face.shape[1]))
        rot = transforms[:, self._face_bones, :3, :3].numpy().reshape(B, -1, 9)
        n = len(self._face_vertices_np)
        if B == 1:
            moved = np.zeros(self._face_shapes_np.shape[1], np.float32)
            for k in np.flatnonzero(face[0]):
                moved += face[0, k] * self._face_shapes_np[k]
            blended = np.zeros((n, 9), np.float32)
            for f in range(rot.shape[1]):
                blended += self._face_weights_np[:, f:f + 1] * rot[0, f]
            moved, blended = moved[None], blended[None]
        else:   # a batch: two matrix products, big enough for BLAS (only the actions in use)
            used = np.flatnonzero(face.any(0))
            moved = face[:, used] @ self._face_shapes_np[used]
            blended = (self._face_weights_np @ rot.transpose(1, 0, 2).reshape(rot.shape[1], -1)
                       ).reshape(n, B, 9).transpose(1, 0, 2)
        # Each moved vertex's offset turned by its blended rotation, written
        # out per component: numpy's einsum took 10 ms at batch 64 on the
        # strided (B, n, 3, 3) view, this 3 ms.
        r, d = blended.reshape(B, n, 3, 3), moved.reshape(B, n, 3)
        offset = np.empty((B, n, 3), np.float32)
        for i in range(3):
            offset[..., i] = r[..., i, 0] * d[..., 0] + r[..., i, 1] * d[..., 1] + r[..., i, 2] * d[..., 2]
        vertices.index_add_(1, self._face_vertices, torch.from_numpy(offset))

    def expression_vector(self, expression) -> np.ndarray:
        """Named weights (dict) -> (E,) in `expression_names` order; unknown names are ignored."""
        vec = np.zeros(len(self.expression_names), dtype=np.float32)
        for i, name in enumerate(self.expression_names):
            vec[i] = expression.get(name, 0.0)
        return vec

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
        the retargeting and the skinning. All the shapes a call has not seen
        before go through anny in ONE batched call: one call per shape made 64
        distinct shapes (a dataset batch) 3-5x slower than a bare anny forward,
        by anny's per-call cost (blend shapes, Horn procrustes). A single shape
        comes back as batch 1, broadcast over the poses. New shapes are cached
        (the GUI poses one body many times; an export or a dataset sample poses
        a few people over many frames) unless a call brings so many that they
        would only churn the cache.
        """
        keys = [row.tobytes() for row in phen.numpy()]
        unique = list(dict.fromkeys(keys))
        with self._cache_lock:
            found = {k: self._rest_cache.get(k) for k in unique}
        new = [k for k in unique if found[k] is None]
        if new:
            rows = phen if len(new) == len(keys) else phen[[keys.index(k) for k in new]]
            m = self.model
            coeffs = m._get_phenotype_blendshape_coefficients(rows, self._no_params, self._no_face)
            rest = m.get_rest_model(coeffs)
            built = rest, self.retarget.prepare(rest["rest_bone_heads"], rest["rest_bone_poses"][..., :3, :3])
            cache = len(new) <= _CACHED_SHAPES // 4
            if cache or len(new) < len(keys):
                for i, k in enumerate(new):   # cached rows are copies: a view would keep the batch alive
                    found[k] = built if len(new) == 1 else _row(built, i, copy=cache)
                    if cache:
                        self._remember(k, found[k])
            if len(new) == len(keys):
                return built   # no shape repeats and none was cached: already in the poses' order
        if len(unique) == 1:
            return found[unique[0]]
        where = {k: i for i, k in enumerate(unique)}
        index = torch.tensor([where[k] for k in keys])
        entries = [found[k] for k in unique]
        rest = {name: torch.cat([e[0][name] for e in entries])[index] for name in entries[0][0]}
        return rest, Prepared(*(torch.cat(parts)[index] for parts in zip(*(e[1] for e in entries))))

    def _remember(self, key: bytes, entry: tuple[dict, Prepared]) -> None:
        with self._cache_lock:
            if len(self._rest_cache) >= _CACHED_SHAPES:   # ~0.2 MB each
                self._rest_cache.pop(next(iter(self._rest_cache)))
            self._rest_cache[key] = entry

    def _deltas(self, global_orient, body_pose, transl, shape, left_hand_pose=None,
                right_hand_pose=None) -> tuple[torch.Tensor, dict]:
        """anny's pose input for SMPL-24 poses (and MANO-15 hands, flat when
        None): (B, J, 4, 4) local-ref bone deltas that pose anny straight in the
        Y-up world (the root's delta holds the axis change and d_0 = U_0
        transl); and the rest model."""
        go = torch.as_tensor(np.asarray(global_orient, dtype=np.float32)).reshape(-1, 3)
        B = go.shape[0]
        bp = torch.as_tensor(np.asarray(body_pose, dtype=np.float32)).reshape(B, 23, 3)
        tr = torch.as_tensor(np.asarray(transl, dtype=np.float32)).reshape(B, 3)
        aa = [go[:, None], bp]
        if left_hand_pose is not None or right_hand_pose is not None:
            for hand in (left_hand_pose, right_hand_pose):
                aa.append(torch.zeros(B, 15, 3) if hand is None else
                          torch.as_tensor(np.asarray(hand, dtype=np.float32)).reshape(B, 15, 3))
        phen = self._shape_tensor(shape)
        if phen.shape[0] not in (1, B):
            raise ValueError(f"shape batch {phen.shape[0]} does not match pose batch {B}")
        rest, prep = self._rest(phen)
        delta = self._delta_template.expand(B, -1, -1, -1).clone()
        self.retarget(torch.cat(aa, 1), prep, out=delta[..., :3, :3])
        delta[:, 0, :3, 3] = tr if self._root_ref_is_identity else tr @ self.retarget.ref_root.T
        return delta, rest

    def pose_parameters(self, global_orient, body_pose, transl, shape=None, left_hand_pose=None,
                        right_hand_pose=None) -> np.ndarray:
        """anny-native pose of SMPL-24 poses (and hands): (B, J, 4, 4) for `self.model`
        (pose_parameterization 'local-ref', bones `model.bone_labels`);
        model(pose_parameters=..., phenotype_kwargs=shape) poses the body `forward` poses."""
        with torch.inference_mode():
            return self._deltas(global_orient, body_pose, transl, shape, left_hand_pose, right_hand_pose)[0].numpy()

    def forward(self, global_orient, body_pose, transl, shape=None, left_hand_pose=None,
                right_hand_pose=None, expression=None) -> BodyOutput:
        """Pose a batch: global_orient (B, 3), body_pose (B, 23, 3), transl (B, 3), shape
        (B, S) | (S,) | None in `shape_names` order, values in [0, 1] (default 0.5);
        hand poses (B, 15, 3) MANO-15 (None: flat); expression (B, E) | (E,) weights in
        `expression_names` order (None: neutral)."""
        m = self.model
        with torch.inference_mode():
            delta, rest = self._deltas(global_orient, body_pose, transl, shape, left_hand_pose, right_hand_pose)
            B = delta.shape[0]
            transforms, poses = m.get_bone_transforms(delta, rest["rest_bone_poses"])
            vertices = m.get_skinned_vertices(rest["rest_vertices"].expand(B, -1, -1), transforms)
            if expression is not None:
                self._add_face(vertices, transforms, expression)
            joints = poses[:, self._joint_bones, :3, 3]
            # A weighted sum, not a BLAS matmul: see the note above retarget._skew.
            head_kp = (self._coco_weights[..., None] * vertices[:, None, self._coco_vertices]).sum(2)
            coco = torch.cat([head_kp, joints[:, _COCO_BODY]], 1)
            points = torch.cat([poses[:, self._hand_bones, :3, 3], vertices[:, self._tip_vertices]], 1)
            hand21 = points[:, self._hand21_order]
        return BodyOutput(vertices=vertices.numpy(), joints=joints.numpy(), coco17=coco.numpy(),
                          hand21=hand21.numpy())


def _row(entry: tuple[dict, Prepared], i: int, copy: bool) -> tuple[dict, Prepared]:
    """Shape i of a batched rest entry, as batch 1."""
    take = (lambda t: t[i:i + 1].clone()) if copy else (lambda t: t[i:i + 1])
    return {k: take(v) for k, v in entry[0].items()}, Prepared(*map(take, entry[1]))


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
