"""`posebooth dataset fit-smpl DIR`: the user's own SMPL / SMPL-H / SMPL-X model
fitted to every anny body of a finished recipe dataset.

The exported pose reproduces anny's limb directions, but anny's skeleton is
not SMPL's (its hip centres sit ~4 cm wider): posing a plain SMPL body with it
lands ~6 cm from the rendered joints. So each row's anny mesh is rebuilt
(anny posed with the row's pose, pelvis and phenotypes, checked against the
row's joints3d_world) and the model fitted to it (dataset.smpl_fitter).

Per shard, DIR/shards/SSSSSS/smpl_fit.npz, aligned with annotations.npz rows:
betas (R, 10), global_orient (R, 3), body_pose (R, 69) (SMPL-H/X: rows 21,
22, SMPL's hands, are zero), transl_smplx (R, 3) (smplx's transl: pass it to
smplx as is), j0 (R, 3) (the rest pelvis J0(betas): j0 + transl_smplx is the
pelvis), joints3d_world (R, 24, 3) of the fitted model, fit_error_mm (R,)
(mean distance from the anny mesh's vertices to the fitted surface),
joint_error_mm (R,) (mean distance of the 24 joints to the row's), model
("smpl" | "smplh" | "smplx"), gender, sample / frame / person (the rows'
keys) and source (what it was fitted from, as JSON: a shard whose source is
unchanged is not fitted again). dataset.json gets a summary under "smpl_fit".
"""
from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from posebooth.dataset.layout import SHARDS_DIR, shard_dir
from posebooth.dataset.smpl_fitter import FitSettings

FIT_FILE = "smpl_fit.npz"
SUMMARY_KEY = "smpl_fit"
FORMAT_NAME = "posebooth-recipe-dataset"   # dataset.run's manifest format
INSTALL_HINT = "pip install -e '.[smpl]' (in a PoseBooth checkout; or pip install 'posebooth[smpl]')"
MAX_MANIFEST_BYTES = 1 << 26
MAX_ANNOTATIONS_BYTES = 1 << 31
ANNY_TOLERANCE_M = 1e-3    # the rebuilt anny joints must land this close to the exported ones
ROW_KEYS = {"global_orient": (3,), "body_pose": (69,), "transl": (3,), "joints3d_world": (24, 3)}
INDEX_KEYS = ("sample", "frame", "person")
FIT_KEYS = ("betas", "global_orient", "body_pose", "transl_smplx", "j0", "joints3d_world", "fit_error_mm",
            "joint_error_mm")


class FitError(ValueError):
    """The dataset cannot be fitted; one line naming the file, the key and what is expected."""


def read_manifest(root: Path) -> dict:
    from posebooth.files.safe_read import UserFileError, read_user_file

    path = root / "dataset.json"
    try:
        manifest = json.loads(read_user_file(path, "dataset manifest", MAX_MANIFEST_BYTES))
    except UserFileError as e:
        raise FitError(f"{root}: not a finished PoseBooth recipe dataset ({e})") from None
    except ValueError as e:
        raise FitError(f"{path}: damaged, not JSON ({e}); run `posebooth dataset run` again to rewrite it") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise FitError(f"{path}: not a PoseBooth recipe dataset manifest (format must be {FORMAT_NAME!r})")
    stats = manifest.get("stats") if isinstance(manifest.get("stats"), dict) else {}
    if manifest.get("complete") is not True:
        raise FitError(f"{root}: the dataset is not complete ({stats.get('samples_done', '?')} of "
                       f"{manifest.get('samples', '?')} samples); finish it with `posebooth dataset run` first")
    shards = manifest.get("shards_assembled")
    if not isinstance(shards, list) or not shards or \
            not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 10 ** 6 for s in shards):
        raise FitError(f"{path}: shards_assembled must be a non-empty list of shard numbers")
    return manifest


def read_rows(path: Path, shape_width: int) -> tuple[dict, str]:
    """The rows of a shard's annotations.npz that a fit needs, checked, and the file's sha256."""
    from posebooth.files.safe_read import UserFileError, read_user_file

    try:
        data = read_user_file(path, "dataset annotations file", MAX_ANNOTATIONS_BYTES)
    except UserFileError as e:
        raise FitError(f"{e}; the dataset is incomplete: run `posebooth dataset run` again") from None
    want = {**ROW_KEYS, "body_shape": (shape_width,), **{k: () for k in INDEX_KEYS}}
    rows = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            for key, tail in want.items():
                if key not in z.files:
                    raise FitError(f"{path}: no {key!r} array; a shard's annotations.npz has one (docs/FORMAT.md)")
                if z.zip.getinfo(f"{key}.npy").file_size > MAX_ANNOTATIONS_BYTES:   # before inflating it
                    raise FitError(f"{path}: {key!r} claims more than {MAX_ANNOTATIONS_BYTES} bytes")
                rows[key] = z[key]
    except FitError:
        raise
    except Exception as e:   # not a zip, a truncated member, pickled objects: one line, the reader's words
        raise FitError(f"{path}: damaged, not a readable .npz ({type(e).__name__}: "
                       f"{' '.join(str(e).split())[:200]}); run `posebooth dataset run` again") from None
    n = len(rows["sample"]) if rows["sample"].ndim == 1 else -1
    for key, tail in want.items():
        a = rows[key]
        if a.shape != (n, *tail) or a.dtype.kind not in ("iu" if key in INDEX_KEYS else "f"):
            raise FitError(f"{path}: {key!r} is {a.dtype} {a.shape}; expected "
                           f"{'integers' if key in INDEX_KEYS else 'floats'} of shape (R, {', '.join(map(str, tail))})"
                           .replace(", )", ")"))
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = int(np.flatnonzero(~np.isfinite(a.reshape(n, -1)).all(1))[0])
            raise FitError(f"{path}: {key!r} row {bad} holds NaN or infinity")
    if n < 1:
        raise FitError(f"{path}: no rows")
    return rows, hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _previous(path: Path, source: dict, n: int) -> dict | None:
    """The arrays of an earlier, whole fit of the same source, else None (fit again)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if json.loads(str(z["source"])) != source:
                return None
            arrays = {k: z[k] for k in FIT_KEYS}
    except Exception:   # missing, damaged, older: fitted again, never trusted
        return None
    whole = all(len(a) == n and np.isfinite(a).all() for a in arrays.values())
    return arrays if whole else None


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _stats(values: np.ndarray) -> dict:
    return {"mean": float(values.mean()), "median": float(np.median(values)),
            "p95": float(np.percentile(values, 95)), "max": float(values.max())}


class _ShardFitter:
    """Rebuilds a batch of anny meshes and fits the model to them."""

    def __init__(self, body, anny, settings: FitSettings, device: str):
        import torch

        from posebooth.dataset.smpl_fitter import SmplFitter
        from posebooth.dataset.surface_distance import vertex_faces

        self.anny, self.torch = anny, torch
        self.fitter = SmplFitter(body, device, settings)
        self.table = vertex_faces(self.fitter.faces, len(self.fitter.v_template))

    def fit(self, path: Path, rows: dict, lo: int, hi: int) -> dict:
        from posebooth.dataset.surface_distance import point_to_mesh_distance

        go, bp, transl = rows["global_orient"][lo:hi], rows["body_pose"][lo:hi], rows["transl"][lo:hi]
        target = rows["joints3d_world"][lo:hi]
        anny = self.anny.forward(go, bp.reshape(-1, 23, 3), transl, rows["body_shape"][lo:hi])
        gap = np.linalg.norm(anny.joints - target, axis=-1).max(1)
        if gap.max() > ANNY_TOLERANCE_M:
            i = lo + int(gap.argmax())
            raise FitError(f"{path}: row {i} (sample {rows['sample'][i]}, frame {rows['frame'][i]}, person "
                           f"{rows['person'][i]}): anny posed with its pose and body_shape lands "
                           f"{gap.max() * 1000:.1f} mm from its joints3d_world (at most "
                           f"{ANNY_TOLERANCE_M * 1000:g} mm); made by another anny version or a damaged file")
        fit = self.fitter.fit(anny.vertices, target, go, bp, transl)
        t = self.torch.as_tensor(anny.vertices, device=self.fitter.device)
        surface = point_to_mesh_distance(t, fit.vertices, self.fitter.faces, self.table).mean(1).cpu().numpy()
        return {"betas": fit.betas, "global_orient": fit.global_orient, "body_pose": fit.body_pose,
                "transl_smplx": fit.transl_smplx, "j0": fit.j0, "joints3d_world": fit.joints,
                "fit_error_mm": (surface * 1000).astype(np.float32),
                "joint_error_mm": (np.linalg.norm(fit.joints - target, axis=-1).mean(1) * 1000).astype(np.float32)}


def fit_dataset(folder, kind: str = "smpl", gender: str = "neutral", model_dir=None,
                settings: FitSettings = FitSettings(), device: str | None = None, batch: int | None = None,
                force: bool = False, progress: bool = True) -> dict:
    """Fit every row of a finished dataset; returns the summary written to dataset.json."""
    from posebooth.assets.registry import get_body
    from posebooth.assets.smpl_body import SmplBody
    from posebooth.export.files import SafeOut
    from posebooth.scene.model import BodySpec

    try:
        import smplx  # noqa: F401
    except ImportError as e:
        raise FitError(f"fit-smpl needs the optional smplx package (non-commercial licence), which does not "
                       f"import here ({' '.join(str(e).split())[:120]}): {INSTALL_HINT}") from None
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FitError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}; "
                       f"give the folder of a finished recipe dataset")
    manifest = read_manifest(root)
    body = SmplBody(kind, gender, model_dir)   # BodyModelError: the files, where to get them
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    batch = batch or (128 if device.startswith("cuda") else 8)
    anny = get_body(BodySpec(model="anny"))
    out = SafeOut(root, create=False)
    source_base = {"model": kind, "gender": gender, "model_sha256": _file_sha256(body.path),
                   "settings": settings.as_dict()}
    # First every shard is read and checked (a damaged one stops the run before hours of fitting);
    # only what a shard needs later is kept, so memory does not grow with the dataset.
    plan, errors = [], []
    for shard in sorted(set(manifest["shards_assembled"])):
        rows, sha = read_rows(root / shard_dir(shard) / "annotations.npz", len(anny.shape_names))
        source = {**source_base, "annotations_sha256": sha}
        previous = None if force else _previous(root / shard_dir(shard) / FIT_FILE, source, len(rows["sample"]))
        if previous is None:
            plan.append((shard, source, len(rows["sample"])))
        else:
            errors.append((previous["fit_error_mm"], previous["joint_error_mm"]))
    from tqdm import tqdm

    worker = _ShardFitter(body, anny, settings, device) if plan else None
    with tqdm(total=sum(n for *_, n in plan), unit="body", desc="fit-smpl", disable=not progress,
              dynamic_ncols=True) as bar:
        for shard, source, _ in plan:
            path = root / shard_dir(shard) / "annotations.npz"
            rows, sha = read_rows(path, len(anny.shape_names))
            if sha != source["annotations_sha256"]:
                raise FitError(f"{path}: changed while fit-smpl ran; run it again")
            parts = []
            for lo in range(0, len(rows["sample"]), batch):
                hi = min(lo + batch, len(rows["sample"]))
                parts.append(worker.fit(path, rows, lo, hi))
                bar.update(hi - lo)
            arrays = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
            arrays.update({k: rows[k] for k in INDEX_KEYS}, model=np.array(kind), gender=np.array(gender),
                          source=np.array(json.dumps(source, sort_keys=True)))
            out.write_bytes(f"{shard_dir(shard)}/{FIT_FILE}", _npz_bytes(arrays), fsync=True)
            errors.append((arrays["fit_error_mm"], arrays["joint_error_mm"]))
    fit_err = np.concatenate([e[0] for e in errors])
    joint_err = np.concatenate([e[1] for e in errors])
    summary = {"model": kind, "gender": gender, "model_file": body.path.name, "device": device,
               "bodies": int(len(fit_err)), "shards": len(errors), "shards_fitted_now": len(plan),
               "fit_error_mm": _stats(fit_err), "joint_error_mm": _stats(joint_err),
               "settings": settings.as_dict(), "file": f"{SHARDS_DIR}/SSSSSS/{FIT_FILE}",
               "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    manifest = read_manifest(root)   # again: change only our key of what is there now
    manifest[SUMMARY_KEY] = summary
    out.write_bytes("dataset.json", (json.dumps(manifest, indent=1) + "\n").encode("utf-8"), fsync=True)
    return summary
