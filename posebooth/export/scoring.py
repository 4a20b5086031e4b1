"""Fidelity scores of an export's frames (frame.fidelity; FORMAT.md, "Fidelity scores").

Two ways in, one result (annotations.npz's `fidelity`, `fidelity_pck`,
`fidelity_depth`, each (F, P), and dataset.json's `fidelity` summary):

- `ScoringGenerator` wraps an export's FrameGenerator (`posebooth render
  --score`): it scores each generated frame as it comes, on the thread that
  generates (the estimators live beside the diffusion model), and below
  `min_fidelity` generates it again with a new seed, up to `retries` times.
  Every attempt (seed and scores) is recorded in `.posebooth/fidelity/`;
  `write_scores` then adds the arrays and the summary once the writer has
  assembled the export.
- `score_export` scores any finished export folder (`posebooth score`):
  rgb/ when a model ran, else render/, against annotations.npz, depth/ and
  mask/.

The scores use the depth as exported (millimetres), so both ways give the
same numbers for the same image.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

from posebooth.export.driver import GeneratedFrame
from posebooth.export.files import ExportError, SafeOut
from posebooth.export.frame_files import depth_png
from posebooth.frame.fidelity import NOT_SCORED, PCK_THRESHOLD, FidelityScores, score_frame

FIDELITY_KEYS = ("fidelity", "fidelity_pck", "fidelity_depth")
RECORDS_DIR = ".posebooth/fidelity"
DEFINITION = (f"fidelity_pck: PCK@{PCK_THRESHOLD} of the bbox diagonal over the COCO-17 keypoints with v = 2; "
              "fidelity_depth: max(0, Pearson r) of the depth model's relative inverse depth and 1/z inside "
              "the person's visible mask (eroded 1 px); fidelity = sqrt(fidelity_pck * fidelity_depth), "
              "or the one that exists; -1 = not scored")
MAX_IMAGE_BYTES = 256 << 20
MAX_JSON_BYTES = 64 << 20
MAX_NPZ_BYTES = 4 << 30


class ScoreError(ExportError):
    """An export folder that cannot be scored; the message names the file."""


def retry_seed(seed: int, attempt: int) -> int:
    """The seed of a frame's attempt (0 = the first): seed + attempt, in 63 bits."""
    return (int(seed) + int(attempt)) % (1 << 63)


def score_generated(rendered, rgb: np.ndarray, estimators) -> FidelityScores:
    """Score a generated image against a frame.render RenderedFrame."""
    ann = rendered.annotations()
    depth_m = depth_png(rendered.passes.depth).astype(np.float64) / 1000.0
    return score_frame(rgb, ann.coco17, ann.bbox, depth_m, rendered.passes.instance,
                       pose=estimators.pose, depth=estimators.depth)


def _passes(scores: FidelityScores, min_fidelity: float | None) -> bool:
    if min_fidelity is None:
        return True
    worst = scores.frame_fidelity()
    return worst < 0 or worst >= min_fidelity   # nobody scored: nothing to retry for


class ScoringGenerator:
    """export.driver.FrameGenerator around another (export.generator's
    SceneGenerator, which takes `seed=` and `retry=`): scores each frame and
    regenerates it below `min_fidelity`. The last attempt is kept (the clip
    strategy goes on from it); `on_scored(frame, record)` gets every
    attempt's seed and scores."""

    def __init__(self, inner, estimators, *, min_fidelity: float | None = None, retries: int = 0,
                 on_scored: Callable[[int, dict], None] | None = None,
                 call: Callable[[Callable[[], FidelityScores]], FidelityScores] | None = None):
        """call(fn): where the estimators run; default here, on the thread that
        generates (headless); `on_worker(worker)` in the app."""
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.inner, self.estimators = inner, estimators
        self._call = call or (lambda fn: fn())
        self.min_fidelity = None if min_fidelity is None else float(min_fidelity)
        self.retries = int(retries) if min_fidelity is not None else 0
        self.on_scored = on_scored
        self.control_kinds = inner.control_kinds
        self.settings = {**inner.settings, "fidelity": {**estimators.settings(), "min_fidelity": self.min_fidelity,
                                                        "retries": self.retries,
                                                        "retry_seeds": "seed + attempt"}}
        self.records: dict[int, dict] = {}

    def __call__(self, rendered) -> GeneratedFrame:
        attempts = []
        res = self.inner(rendered)
        first_seed = res.seed
        for attempt in range(self.retries + 1):
            if attempt:
                res = self.inner(rendered, seed=retry_seed(first_seed, attempt), retry=True)
            rgb = np.asarray(res.rgb)
            scores = self._call(lambda: score_generated(rendered, rgb, self.estimators))
            attempts.append({"seed": int(res.seed), **scores.as_lists()})
            if _passes(scores, self.min_fidelity):
                break
        record = {"frame": int(rendered.frame), "kept": len(attempts) - 1, "attempts": attempts}
        self.records[int(rendered.frame)] = record
        if self.on_scored is not None:
            self.on_scored(int(rendered.frame), record)
        return res

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def on_worker(worker) -> Callable[[Callable[[], FidelityScores]], FidelityScores]:
    """ScoringGenerator's `call` for the app: the estimators run as a job on the
    pipeline.worker.GenerationWorker that owns the diffusion model (beside
    it on the GPU, never on the GUI thread); the export thread waits."""
    def call(fn):
        return worker.call(lambda backend, cancelled: fn()).result()
    return call


def record_writer(out_dir) -> Callable[[int, dict], None]:
    """on_scored for ScoringGenerator: OUT/.posebooth/fidelity/<frame>.json, atomically."""
    out = SafeOut(out_dir)

    def write(frame: int, record: dict) -> None:
        out.write_bytes(f"{RECORDS_DIR}/{int(frame):06d}.json", (json.dumps(record) + "\n").encode())
    return write


def read_records(out: SafeOut, frames, people: int) -> dict[int, dict]:
    """The attempt records on disk for `frames`; a damaged or foreign one is
    left out (that frame is scored again from its files)."""
    from posebooth.files.safe_read import UserFileError, read_user_file

    found = {}
    for f in frames:
        path = out.path(f"{RECORDS_DIR}/{int(f):06d}.json")
        if not path.exists():
            continue
        try:
            rec = json.loads(read_user_file(path, "fidelity record", 1 << 20))
            kept = rec["attempts"][rec["kept"]]
            arrays = [np.asarray(kept[k], np.float32) for k in ("fidelity", "pck", "depth")]
            if rec["frame"] != f or any(a.shape != (people,) or not np.isfinite(a).all() for a in arrays):
                continue
        except (UserFileError, ValueError, KeyError, TypeError, IndexError):
            continue
        found[int(f)] = rec
    return found


# -- a finished export folder ----------------------------------------------------
@dataclass
class ExportToScore:
    out: SafeOut
    manifest: dict
    arrays: dict[str, np.ndarray]
    image_folder: str

    @property
    def frames(self) -> list[int]:
        return [int(f) for f in self.arrays["frame_index"]]

    @property
    def people(self) -> int:
        return int(self.arrays["coco17"].shape[1])


def open_export(out_dir) -> ExportToScore:
    """dataset.json and annotations.npz of a scene export, checked (ScoreError names the file)."""
    from pathlib import Path

    from posebooth.files.safe_read import UserFileError, read_user_file

    root = Path(out_dir).expanduser()
    if not root.is_dir():
        raise ScoreError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}; give the folder "
                         f"`posebooth render` wrote")
    out = SafeOut(root, create=False)
    path = out.path("dataset.json")
    try:
        manifest = json.loads(read_user_file(path, "dataset manifest", MAX_JSON_BYTES))
    except UserFileError as e:
        raise ScoreError(f"{e}; {root} is not a finished PoseBooth export") from None
    except ValueError as e:
        raise ScoreError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "posebooth-dataset":
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        hint = " (a recipe dataset: dataset.scoring)" if fmt == "posebooth-recipe-dataset" else ""
        raise ScoreError(f"{path}: format is {fmt!r}, expected 'posebooth-dataset'{hint}")
    npz = out.path("annotations.npz")
    try:
        raw = read_user_file(npz, "annotations file", MAX_NPZ_BYTES)
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except UserFileError as e:
        raise ScoreError(str(e)) from None
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise ScoreError(f"{npz}: not a readable .npz ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
                         ) from None
    for key, tail in (("frame_index", ()), ("coco17", (17, 3)), ("bbox", (4,))):
        a = arrays.get(key)
        if a is None:
            raise ScoreError(f"{npz}: no `{key}` array")
        ok = a.ndim == 1 if key == "frame_index" else (a.ndim == 2 + len(tail) and a.shape[2:] == tail
                                                       and a.shape[0] == len(arrays["frame_index"]))
        if not ok or (a.dtype.kind == "f" and not np.isfinite(a).all()):
            raise ScoreError(f"{npz}: `{key}` is {a.dtype} {a.shape}, not the (F, P{', ' if tail else ''}"
                             f"{', '.join(map(str, tail))}) array of finite numbers FORMAT.md describes")
    folder = "rgb" if manifest.get("generator") is not None else "render"
    return ExportToScore(out, manifest, arrays, folder)


def read_frame_png(out: SafeOut, rel: str, what: str, size: tuple[int, int], channels: int) -> np.ndarray | None:
    """A frame file as an array, None when the file is absent; ScoreError when unusable."""
    from PIL import Image

    from posebooth.files.safe_read import UserFileError, read_user_file

    path = out.path(rel)
    if not path.exists():
        return None
    try:
        with Image.open(io.BytesIO(read_user_file(path, what, MAX_IMAGE_BYTES))) as im:
            a = np.asarray(im.convert("RGB") if channels == 3 else im)
    except (UserFileError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ScoreError(f"{path}: not a readable {what} ({str(e).splitlines()[0]})") from None
    if a.shape[:2] != (size[1], size[0]) or (channels == 1 and a.ndim != 2):
        raise ScoreError(f"{path}: a {a.shape[1]}x{a.shape[0]} image with shape {a.shape}; a {what} of this "
                         f"export is {size[0]}x{size[1]}{'' if channels == 3 else ', one channel'}")
    return a


def score_files(export: ExportToScore, row: int, estimators) -> tuple[FidelityScores, np.ndarray]:
    """Score frame row `row` of the export from its files: (scores, the image scored)."""
    f = export.frames[row]
    name = f"{f:06d}.png"
    size = tuple(int(x) for x in export.manifest.get("image_size", (0, 0)))
    image = read_frame_png(export.out, f"{export.image_folder}/{name}", "frame image", size, 3)
    if image is None:
        raise ScoreError(f"{export.out.path(f'{export.image_folder}/{name}')}: missing (annotations.npz lists "
                         f"frame {f}); re-run the export to finish it")
    depth = read_frame_png(export.out, f"depth/{name}", "depth image", size, 1)
    mask = read_frame_png(export.out, f"mask/{name}", "mask image", size, 1)
    use_depth = estimators.depth if depth is not None and mask is not None else None
    depth_m = depth.astype(np.float64) / 1000.0 if depth is not None else np.zeros(image.shape[:2])
    instance = mask if mask is not None else np.zeros(image.shape[:2], np.uint8)
    return score_frame(image, export.arrays["coco17"][row], export.arrays["bbox"][row], depth_m, instance,
                       pose=estimators.pose, depth=use_depth), image


def score_export(out_dir, estimators, *, settings: dict | None = None, use_records: bool = False,
                 overlays: bool = False, progress: Callable[[int, int], None] | None = None) -> dict:
    """Score every frame of a finished export from its files and write the
    scores (write_scores); returns the dataset.json summary. use_records
    (render --score, same estimators): frames with an attempt record keep
    their recorded scores and attempts. overlays: also write each scored
    frame's review image, fidelity/<frame>.png (export.fidelity_overlay)."""
    export = open_export(out_dir)
    records = read_records(export.out, export.frames, export.people) if use_records else {}
    scores = {}
    for row, f in enumerate(export.frames):
        if f not in records:
            scores[f], image = score_files(export, row, estimators)
            if overlays:
                _write_overlay(export, row, scores[f], image)
        if progress is not None:
            progress(row + 1, len(export.frames))
    return write_scores(export, scores, records, {**estimators.settings(), **(settings or {})})


OVERLAY_COLORS = ((1.0, 0.8, 0.2), (0.3, 0.7, 1.0), (1.0, 0.4, 0.8), (0.6, 1.0, 0.4))


def _write_overlay(export: ExportToScore, row: int, scores: FidelityScores, image: np.ndarray) -> None:
    from posebooth.export.fidelity_overlay import draw_fidelity_overlay
    from posebooth.export.png import encode_png

    img = draw_fidelity_overlay(image, export.arrays["coco17"][row], export.arrays["bbox"][row], scores.keypoints,
                                scores.estimated, OVERLAY_COLORS)
    export.out.write_bytes(f"fidelity/{export.frames[row]:06d}.png", encode_png(img))


def _from_record(record: dict) -> FidelityScores:
    kept = record["attempts"][record["kept"]]
    return FidelityScores(*(np.asarray(kept[k], np.float32) for k in ("fidelity", "pck", "depth")))


def score_stats(values: np.ndarray) -> dict:
    v = values[values >= 0]
    if not v.size:
        return {"scored": 0, "mean": None, "median": None, "min": None}
    return {"scored": int(v.size), "mean": round(float(v.mean()), 6), "median": round(float(np.median(v)), 6),
            "min": round(float(v.min()), 6)}


def write_scores(export: ExportToScore, scores: dict[int, FidelityScores], records: dict[int, dict],
                 settings: dict) -> dict:
    """annotations.npz with the three (F, P) arrays added (every other array
    kept) and dataset.json with its `fidelity` summary; each written atomically."""
    F, P = len(export.frames), export.people
    table = {k: np.full((F, P), NOT_SCORED, np.float32) for k in FIDELITY_KEYS}
    for row, f in enumerate(export.frames):
        s = _from_record(records[f]) if f in records else scores[f]
        table["fidelity"][row], table["fidelity_pck"][row], table["fidelity_depth"][row] = s.fidelity, s.pck, s.depth
    arrays = {**{k: v for k, v in export.arrays.items() if k not in FIDELITY_KEYS}, **table}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    export.out.write_bytes("annotations.npz", buf.getvalue(), fsync=True)
    min_fid = settings.get("min_fidelity")
    frame_worst = np.array([FidelityScores(table["fidelity"][r], table["fidelity_pck"][r],
                                           table["fidelity_depth"][r]).frame_fidelity() for r in range(F)])
    summary = {
        "definition": DEFINITION, "image_folder": export.image_folder, **settings,
        "fidelity": score_stats(table["fidelity"]), "pck": score_stats(table["fidelity_pck"]),
        "depth": score_stats(table["fidelity_depth"]),
        "frames_below": ([f for f, w in zip(export.frames, frame_worst) if 0 <= w < min_fid]
                         if min_fid is not None else []),
        "attempts": [{"frame": f, "seed": a["seed"], "fidelity": a["fidelity"], "pck": a["pck"],
                      "depth": a["depth"], "kept": i == records[f]["kept"]}
                     for f in export.frames if f in records for i, a in enumerate(records[f]["attempts"])],
    }
    manifest = {**export.manifest, "fidelity": summary}
    export.out.write_bytes("dataset.json", (json.dumps(manifest, indent=1, allow_nan=False) + "\n").encode(),
                           fsync=True)
    return summary
