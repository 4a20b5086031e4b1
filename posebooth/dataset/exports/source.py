"""Reading a recipe dataset for export: its manifest, and each assembled
shard's annotation rows (checked: keys, shapes, finite numbers, indices),
image paths and optional SMPL fit.

Everything under DIR is the user's file: read through the one bounded
reader, never unpickled, and each fault is one line naming the file and
the key (SourceError).
"""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from posebooth.dataset.layout import frame_stem, shard_dir

MAX_MANIFEST_BYTES = 64 << 20
MAX_IMAGE_BYTES = 1 << 30
MAX_NPZ_BYTES = 4 << 30          # a 100000-sample shard of 16-frame clips of 3 people is ~7 GB; 4 GiB is plenty
SMPL_FIT_FILE = "smpl_fit.npz"   # written per shard by `posebooth dataset fit-smpl`
FIT_BETAS = 10
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError)

# Row keys an export needs: (dtype kind, shape after R); -1 = any width.
ROW_SPEC: dict[str, tuple[str, tuple[int, ...]]] = {
    "global_orient": ("f", (3,)), "body_pose": ("f", (69,)), "transl": ("f", (3,)), "body_shape": ("f", (-1,)),
    "joints3d_world": ("f", (24, 3)), "joints3d_cam": ("f", (24, 3)), "joints2d": ("f", (24, 2)),
    "joints2d_vis": ("u", (24,)), "coco17": ("f", (17, 3)), "bbox": ("f", (4,)), "mask_area": ("iu", ()),
    "cam_K": ("f", (3, 3)), "cam_ext": ("f", (4, 4)), "sample": ("iu", ()), "frame": ("iu", ()),
    "person": ("iu", ()), "image": ("iu", ()),
}
# Row keys of newer datasets: checked when present and kept (an export that needs one says so).
OPTIONAL_ROW_SPEC: dict[str, tuple[str, tuple[int, ...]]] = {"wholebody133": ("f", (133, 3)),
                                                             "wholebody133_cam": ("f", (133, 3))}
FIT_SPEC = {"betas": (FIT_BETAS,), "global_orient": (3,), "body_pose": (69,), "transl_smplx": (3,), "j0": (3,)}


class SourceError(ValueError):
    """The dataset cannot be exported as it is; one line naming the file and key."""


class Manifest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal["posebooth-recipe-dataset"]
    format_version: Literal[1]
    samples: int = Field(ge=1)
    shard_size: int = Field(ge=1)
    clip_frames: int = Field(ge=1)
    image_size: tuple[PositiveInt, PositiveInt]
    passes: list[str]
    shards_assembled: list[int]
    complete: bool


@dataclass
class Shard:
    index: int
    rel: str                                  # "shards/000003", relative to the dataset root
    rows: dict[str, np.ndarray]
    images: list[str]                         # per row: the image path relative to the dataset root
    fit: dict[str, np.ndarray] | None = None  # smpl_fit.npz rows, when present

    @property
    def count(self) -> int:
        return len(self.rows["sample"])


@dataclass
class DatasetSource:
    root: Path
    manifest: Manifest
    shards: list[int] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.manifest.image_size)

    def load_shard(self, shard: int) -> Shard:
        rel = shard_dir(shard)
        where = f"{self.root / rel / 'annotations.npz'}"
        rows = _read_npz(self.root / rel / "annotations.npz", "shard annotations")
        rows = _check_rows(rows, where, self.manifest, shard)
        found: dict[tuple[int, int], str] = {}
        for s, f in zip(rows["sample"].tolist(), rows["frame"].tolist()):
            if (s, f) not in found:
                found[s, f] = _image(self.root, rel, s, f)
        images = [found[s, f] for s, f in zip(rows["sample"].tolist(), rows["frame"].tolist())]
        fit = None
        fit_path = self.root / rel / SMPL_FIT_FILE
        if fit_path.exists():
            fit = _check_fit(_read_npz(fit_path, "SMPL fit"), str(fit_path), len(rows["sample"]))
        return Shard(shard, rel, rows, images, fit)

    def mask(self, shard: Shard, row: int) -> np.ndarray | None:
        """The row's frame's instance mask (H, W) (pixel = person, 1-based;
        0 background), when the dataset has the mask pass."""
        from PIL import Image

        from posebooth.files.safe_read import UserFileError, read_user_file

        if "mask" not in self.manifest.passes:
            return None
        name = frame_stem(shard.rows["sample"][row], shard.rows["frame"][row])
        path = self.root / shard.rel / "mask" / f"{name}.png"
        if not path.exists():
            raise SourceError(f"{path}: missing (the dataset lists the mask pass); re-run the dataset to finish it")
        try:
            with Image.open(io.BytesIO(read_user_file(path, "mask image", MAX_IMAGE_BYTES))) as im:
                if im.size != self.size or im.mode not in ("L", "P", "I;16", "I"):
                    raise SourceError(f"{path}: a {im.size[0]}x{im.size[1]} {im.mode} image; a mask is a "
                                      f"{self.size[0]}x{self.size[1]} single-channel PNG")
                return np.asarray(im)
        except (UserFileError, OSError, ValueError, Image.DecompressionBombError) as e:
            if isinstance(e, SourceError):
                raise
            raise SourceError(f"{path}: not a readable mask image ({str(e).splitlines()[0]})") from None


def open_dataset(folder, allow_incomplete: bool = False) -> DatasetSource:
    from posebooth.files.json_model import load_model
    from posebooth.files.safe_read import UserFileError, read_user_file

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise SourceError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}; "
                          f"give the folder `posebooth dataset run` wrote")
    path = root / "dataset.json"
    if not path.exists():
        raise SourceError(f"{path}: missing; {root} is not a PoseBooth recipe dataset (or its run never finished "
                          f"a shard)")
    try:
        manifest = load_model(Manifest, read_user_file(path, "dataset manifest", MAX_MANIFEST_BYTES), str(path),
                              error=SourceError)
    except UserFileError as e:
        raise SourceError(str(e)) from None
    last = (manifest.samples - 1) // manifest.shard_size
    shards = sorted(set(manifest.shards_assembled))
    if any(not 0 <= s <= last for s in shards):
        raise SourceError(f"{path}: shards_assembled: must list shards 0..{last} (got {shards[:5]})")
    if not manifest.complete or len(shards) != last + 1:
        if not allow_incomplete:
            raise SourceError(f"{root}: the dataset is not complete ({len(shards)} of {last + 1} shard(s) "
                              f"assembled); finish it with `posebooth dataset run`, or pass --allow-incomplete "
                              f"to export the assembled shards only")
        if not shards:
            raise SourceError(f"{root}: no shard is assembled yet; nothing to export")
    return DatasetSource(Path(root), manifest, shards)


def _read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every member of a numeric .npz; refuses pickles and archives that
    would unpack past MAX_NPZ_BYTES before anything is decompressed."""
    from posebooth.files.safe_read import UserFileError, read_user_file

    try:
        data = read_user_file(path, what, MAX_NPZ_BYTES)
    except UserFileError as e:
        raise SourceError(str(e)) from None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            declared = sum(i.file_size for i in z.infolist())
        if declared > MAX_NPZ_BYTES:
            raise SourceError(f"{path}: its arrays would unpack to {declared} bytes; at most {MAX_NPZ_BYTES} "
                              f"are read")
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except SourceError:
        raise
    except _DAMAGED as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "allow_pickle" in msg:
            msg = "it holds pickled objects, which are never loaded"
        raise SourceError(f"{path}: not a readable numeric .npz ({msg})") from None


def _check_shape(a: np.ndarray, key: str, kinds: str, tail: tuple[int, ...], rows: int, where: str) -> None:
    ok = a.ndim == 1 + len(tail) and a.shape[0] == rows and all(t in (-1, s) for t, s in zip(tail, a.shape[1:]))
    want = "(" + ", ".join(["R", *("S" if t == -1 else str(t) for t in tail)]) + ")"
    if not ok:
        raise SourceError(f"{where}: {key!r} has shape {a.shape}; expected {want} with R = {rows} rows")
    if a.dtype.kind not in kinds:
        raise SourceError(f"{where}: {key!r} holds {a.dtype} values; expected "
                          f"{'floats' if kinds == 'f' else 'integers'}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise SourceError(f"{where}: {key!r} holds NaN or infinite values")


def _check_rows(rows: dict, where: str, m: Manifest, shard: int) -> dict[str, np.ndarray]:
    missing = [k for k in ROW_SPEC if k not in rows]
    if missing:
        raise SourceError(f"{where}: missing key(s) {', '.join(map(repr, missing))}; it is not a PoseBooth "
                          f"shard of format version 1")
    n = len(np.atleast_1d(rows["sample"]))
    for key, (kinds, tail) in ROW_SPEC.items():
        _check_shape(rows[key], key, kinds, tail, n, where)
    for key, (kinds, tail) in OPTIONAL_ROW_SPEC.items():
        if key in rows:
            _check_shape(rows[key], key, kinds, tail, n, where)
    lo, hi = shard * m.shard_size, min((shard + 1) * m.shard_size, m.samples)
    checks = (("sample", (rows["sample"] >= lo) & (rows["sample"] < hi), f"in {lo}..{hi - 1} (this shard)"),
              ("frame", (rows["frame"] >= 0) & (rows["frame"] < m.clip_frames), f"in 0..{m.clip_frames - 1}"),
              ("person", rows["person"] >= 1, ">= 1"),
              ("image", rows["image"] == rows["sample"] * m.clip_frames + rows["frame"] + 1,
               "sample * clip_frames + frame + 1"),
              ("joints2d_vis", rows["joints2d_vis"] <= 2, "0, 1 or 2"),
              ("mask_area", rows["mask_area"] >= 0, ">= 0"),
              ("bbox", rows["bbox"][:, 2:] >= 0, "a width and height >= 0"),
              ("cam_K", (rows["cam_K"][:, 0, 0] > 0) & (rows["cam_K"][:, 1, 1] > 0), "positive focal lengths"),
              ("cam_ext", np.all(rows["cam_ext"][:, 3] == [0, 0, 0, 1], axis=-1) & _rotations(rows["cam_ext"]),
               "a rotation and translation (last row 0, 0, 0, 1)"),
              ("body_shape", (rows["body_shape"] >= 0) & (rows["body_shape"] <= 1), "anny phenotypes in 0..1"))
    for key, good, allowed in checks:
        bad = np.flatnonzero(~np.asarray(good).reshape(n, -1).all(axis=1))
        if bad.size:
            raise SourceError(f"{where}: {key!r} row {bad[0]}: must be {allowed}")
    return {k: rows[k] for k in (*ROW_SPEC, *OPTIONAL_ROW_SPEC) if k in rows}


def _rotations(ext: np.ndarray) -> np.ndarray:
    rot = ext[:, :3, :3].astype(np.float64)
    ortho = np.abs(rot @ rot.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2)) < 1e-3
    return ortho & (np.linalg.det(rot) > 0)


def _check_fit(fit: dict, where: str, n: int) -> dict[str, np.ndarray]:
    missing = [k for k in FIT_SPEC if k not in fit]
    if missing:
        raise SourceError(f"{where}: missing key(s) {', '.join(map(repr, missing))}; an SMPL fit holds "
                          f"{', '.join(FIT_SPEC)}")
    for key, tail in FIT_SPEC.items():
        _check_shape(fit[key], key, "f", tail, n, where)
    return {k: fit[k].astype(np.float64) for k in FIT_SPEC}


def _image(root: Path, rel: str, sample: int, frame: int) -> str:
    """The generated image when a model ran (rgb/), else the body render."""
    name = f"{frame_stem(sample, frame)}.png"
    for folder in ("rgb", "render"):
        if (root / rel / folder / name).is_file():
            return f"{rel}/{folder}/{name}"
    raise SourceError(f"{root / rel / 'render' / name}: missing (no rgb/ or render/ image for sample {sample}, "
                      f"frame {frame}); re-run the dataset to finish it")
