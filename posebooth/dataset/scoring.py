"""Fidelity scores of a recipe dataset's images (`posebooth score DIR` on a
`posebooth dataset run` folder; FORMAT.md, "Fidelity scores").

Each assembled shard's annotations.npz gains `fidelity`, `fidelity_pck` and
`fidelity_depth`, each (R,): one score per person row, computed as for a
scene export (frame.fidelity) from the frame's rgb/ (or render/) image,
depth/ and mask/; every other array is kept. dataset.json gains the same
`fidelity` summary. Shards not assembled yet are left as they are.
"""
from __future__ import annotations

import io
import json
from typing import Callable

import numpy as np

from posebooth.dataset.exports.source import SourceError, _read_npz, open_dataset
from posebooth.dataset.layout import frame_stem
from posebooth.export.files import SafeOut
from posebooth.export.scoring import DEFINITION, FIDELITY_KEYS, ScoreError, read_frame_png, score_stats
from posebooth.frame.fidelity import NOT_SCORED, score_frame


def _score_shard(src, out: SafeOut, shard: int, estimators) -> dict[str, np.ndarray]:
    sh = src.load_shard(shard)
    rows, size = sh.rows, src.size
    table = {k: np.full(sh.count, NOT_SCORED, np.float32) for k in FIDELITY_KEYS}
    frames: dict[tuple[int, int], list[int]] = {}
    for r, (s, f) in enumerate(zip(rows["sample"].tolist(), rows["frame"].tolist())):
        frames.setdefault((s, f), []).append(r)
    for (s, f), idx in frames.items():
        stem = f"{sh.rel}/%s/{frame_stem(s, f)}.png"
        image = read_frame_png(out, sh.images[idx[0]], "frame image", size, 3)
        depth = read_frame_png(out, stem % "depth", "depth image", size, 1)
        mask = read_frame_png(out, stem % "mask", "mask image", size, 1)
        persons = rows["person"][idx].astype(int)   # 1-based, = the person's id in mask/
        n = int(persons.max())
        coco, bbox = np.zeros((n, 17, 3)), np.zeros((n, 4))
        coco[persons - 1], bbox[persons - 1] = rows["coco17"][idx], rows["bbox"][idx]
        use_depth = estimators.depth if depth is not None and mask is not None else None
        scores = score_frame(image, coco, bbox,
                             np.zeros(image.shape[:2]) if depth is None else depth.astype(np.float64) / 1000.0,
                             np.zeros(image.shape[:2], np.uint8) if mask is None else mask,
                             pose=estimators.pose, depth=use_depth, people=list(persons - 1))
        for key, values in zip(FIDELITY_KEYS, (scores.fidelity, scores.pck, scores.depth)):
            table[key][idx] = values[persons - 1]
    raw = _read_npz(src.root / sh.rel / "annotations.npz", "shard annotations")
    buf = io.BytesIO()
    np.savez(buf, **{**{k: v for k, v in raw.items() if k not in FIDELITY_KEYS}, **table})
    out.write_bytes(f"{sh.rel}/annotations.npz", buf.getvalue(), fsync=True)
    return table


def score_recipe_dataset(folder, estimators, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Score every assembled shard; returns dataset.json's `fidelity` summary."""
    try:
        src = open_dataset(folder, allow_incomplete=True)
    except SourceError as e:
        raise ScoreError(str(e)) from None
    out = SafeOut(src.root, create=False)
    tables = []
    for i, shard in enumerate(src.shards):
        try:
            tables.append(_score_shard(src, out, shard, estimators))
        except SourceError as e:
            raise ScoreError(str(e)) from None
        if progress is not None:
            progress(i + 1, len(src.shards))
    whole = {k: np.concatenate([t[k] for t in tables]) if tables else np.zeros(0, np.float32)
             for k in FIDELITY_KEYS}
    folder_used = "rgb" if any((src.root / "shards").glob("*/rgb")) else "render"
    summary = {"definition": DEFINITION, "image_folder": folder_used, **estimators.settings(),
               "shards_scored": list(src.shards), "fidelity": score_stats(whole["fidelity"]),
               "pck": score_stats(whole["fidelity_pck"]), "depth": score_stats(whole["fidelity_depth"]),
               "frames_below": [], "attempts": []}
    from posebooth.files.safe_read import read_user_file

    manifest = json.loads(read_user_file(out.path("dataset.json"), "dataset manifest", 64 << 20))
    manifest["fidelity"] = summary
    out.write_bytes("dataset.json", (json.dumps(manifest, indent=1, allow_nan=False) + "\n").encode(), fsync=True)
    return summary
