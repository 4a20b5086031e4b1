"""`posebooth dataset export DIR --format F --out X`: a recipe dataset in
the layout another tool trains on, written from that tool's own loader
(docs/FORMAT.md, "Exports of recipe datasets").

Each format module has `export(source, out) -> Written`. This module checks
the output folder, writes X/export.json (settings and notes, `complete`
false until every file is in place) and X/README.md, and removes files an
earlier export of the same folder listed but this one did not write.
"""
from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from posebooth.dataset.exports.source import SourceError, open_dataset

FORMATS = ("bedlam", "hmr2", "coco", "anny", "coco-wholebody")
EXPORT_FILE = "export.json"
EXPORT_FORMAT = "posebooth-dataset-export"


@dataclass
class Written:
    files: list[str]                    # relative to X
    rows: int                           # person rows (coco: annotations) written
    images: int
    notes: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def export_dataset(folder, fmt: str, out, allow_incomplete: bool = False) -> dict:
    """Export dataset `folder` as `fmt` into folder `out`; returns X/export.json."""
    from posebooth import __version__

    if fmt not in FORMATS:
        raise SourceError(f"--format {fmt!r}: not a known format; choose one of {', '.join(FORMATS)}")
    source = open_dataset(folder, allow_incomplete)
    target, previous = _open_output(out, fmt)
    meta = {"format": EXPORT_FORMAT, "target": fmt, "app_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": str(Path(os.path.realpath(source.root))), "image_root": "source",
            "source_complete": bool(source.manifest.complete), "shards": source.shards, "complete": False}
    _write_meta(target, {**meta, "files": previous})
    module = importlib.import_module(f"posebooth.dataset.exports.{fmt.replace('-', '_')}")
    written: Written = module.export(source, target)
    meta.update(written.meta, rows=written.rows, images=written.images, notes=written.notes,
                files=sorted(written.files), complete=True)
    target.write_bytes("README.md", _readme(meta).encode("utf-8"))
    _write_meta(target, meta)
    for rel in set(previous) - set(written.files) - {EXPORT_FILE, "README.md"}:
        _remove_stale(target, rel)
    return meta


def _open_output(out, fmt: str):
    from posebooth.export.files import ExportError, SafeOut
    from posebooth.files.json_model import JsonFileError, parse_json
    from posebooth.files.safe_read import UserFileError, read_user_file

    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ExportError(f"{path}: exists and is not a folder; --out names the folder to export into")
    old = None
    try:
        occupied = path.is_dir() and any(path.iterdir())
    except OSError as e:
        raise ExportError(f"{path}: cannot list the output folder ({e.strerror or e})") from None
    if occupied:
        try:
            old = parse_json(read_user_file(path / EXPORT_FILE, "export settings", 1 << 24), str(path / EXPORT_FILE))
        except (UserFileError, JsonFileError):
            old = None
        if not (isinstance(old, dict) and old.get("format") == EXPORT_FORMAT and old.get("target") == fmt):
            raise ExportError(f"{path}: not empty and not an earlier {fmt} export (no {EXPORT_FILE} of one); "
                              f"export into an empty or new folder")
    target = SafeOut(path)
    target.clean_temp_files()
    files = old.get("files") if isinstance(old, dict) else None
    return target, [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def _remove_stale(target, rel: str) -> None:
    from posebooth.export.files import ExportError

    try:
        path = target.path(rel)
    except ExportError:
        return   # a name that would lead outside X: never touched
    if path.is_file() and not path.is_symlink():
        path.unlink(missing_ok=True)


def _write_meta(target, meta: dict) -> None:
    target.write_bytes(EXPORT_FILE, (json.dumps(meta, indent=1, allow_nan=False) + "\n").encode("utf-8"),
                       fsync=True)


_TITLES = {"bedlam": "BEDLAM training labels (pixelite1201/BEDLAM, train/dataset/dataset.py)",
           "hmr2": "4D-Humans / HMR 2.0 webdataset shards (hmr2/datasets/image_dataset.py)",
           "coco": "COCO person keypoints (pycocotools)",
           "anny": "anny-native parameters (anny.Anny, pose_parameterization='local-ref')",
           "coco-wholebody": "COCO-WholeBody keypoints (xtcocotools; mmpose's CocoWholeBodyDataset)"}


def _readme(meta: dict) -> str:
    lines = [f"# {_TITLES[meta['target']]}", "",
             f"Exported by PoseBooth {meta['app_version']} on {meta['created']} from {meta['source']}",
             f"(shards {meta['shards'][0]}..{meta['shards'][-1]}, "
             f"{'a complete' if meta['source_complete'] else 'an INCOMPLETE'} dataset): "
             f"{meta['rows']} row(s), {meta['images']} image(s).", "",
             ""]
    if meta["image_root"] == "source":
        lines += ["Image paths are relative to the dataset folder above (set it as the image root).", ""]
    lines += [f"- {n}" for n in meta["notes"]]
    return "\n".join(lines) + "\n"
