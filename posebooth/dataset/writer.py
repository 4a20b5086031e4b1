"""Writing a recipe dataset: each sample's frames into its shard, its rows
last (the resume marker), and a shard's annotations.npz / coco.json /
samples.jsonl once all its samples are on disk.

Any number of processes (or Ray workers, on a shared filesystem) may write
samples of one run into the same folder at once: files are written
atomically, each sample by one worker, and a shard is assembled by whoever
writes its last sample, or by `finish()`. `.posebooth/run.json` records the
run's settings; a run with other settings into the same folder is refused.
"""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import numpy as np

from posebooth.dataset.layout import (RUN_FILE, SHARDS_DIR, STATE_DIR, frame_stem, sample_record, shard_dir,
                                      shard_indices, shard_of)
from posebooth.export.bookkeeping import check_finite
from posebooth.export.files import ExportError, SafeOut
from posebooth.export.frame_files import write_frame_files

# Person-row keys of a shard's annotations.npz (one row per person and frame).
ROW_KEYS = ("global_orient", "body_pose", "transl", "body_shape", "joints3d_world", "joints3d_cam", "joints2d",
            "joints2d_vis", "coco17", "bbox", "mask_area", "wholebody133", "wholebody133_cam", "left_hand_pose",
            "right_hand_pose", "expression")
IMAGE_KEYS = ("cam_K", "cam_ext", "seed")
# Person-row keys only a run that scores as it generates has ([generation.score]).
SCORE_KEYS = ("fidelity", "fidelity_pck", "fidelity_depth")


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode("utf-8")


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


class SampleWriter:
    def __init__(self, out_dir, settings: dict, recipe_text: str | None = None):
        self.out = SafeOut(out_dir)
        self.settings = json.loads(json.dumps(settings))   # as read back from run.json
        self.shard_size = int(settings["shard_size"])
        self.samples = int(settings["samples"])
        self.passes = list(settings["passes"])
        self.control_kinds = list(settings["control_kinds"]) if "control" in self.passes else []
        self._shards: dict[int, SafeOut] = {}
        self.image_folder = "rgb" if settings.get("model") else "render"   # what coco.json points at
        self._open(recipe_text)

    def _open(self, recipe_text: str | None) -> None:
        from posebooth.files.safe_read import UserFileError, read_user_file

        path = self.out.path(RUN_FILE)
        if path.exists():
            try:
                state = json.loads(read_user_file(path, "run settings", 1 << 20))
            except (UserFileError, ValueError):
                raise ExportError(f"{path}: damaged; write to an empty folder, or delete this one") from None
            if not isinstance(state, dict) or state.get("settings") != self.settings:
                raise ExportError(f"{self.out.root} holds a dataset made with another recipe, seed, size or "
                                  f"sample count; write to an empty folder, or delete this one to start over")
            self.created = state.get("created", "")
            return
        if (self.out.root / SHARDS_DIR).exists():
            raise ExportError(f"{self.out.root} holds dataset shards but no {RUN_FILE} saying which recipe made "
                              f"them; write to an empty folder, or delete this one to start over")
        self.out.ensure_folder(STATE_DIR)
        self.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.out.write_bytes(RUN_FILE, _json_bytes({"settings": self.settings, "created": self.created}),
                             fsync=True)
        if recipe_text is not None:
            self.out.write_bytes("recipe.toml", recipe_text.encode("utf-8"))

    def _shard(self, shard: int) -> SafeOut:
        if shard not in self._shards:
            out = SafeOut(self.out.path(shard_dir(shard) + "/x").parent)
            for p in self.passes + (["rgb"] if self.settings.get("model") else []):
                if p != "control" or self.control_kinds:
                    out.ensure_folder(p)
            self._shards[shard] = out
        return self._shards[shard]

    def clean_temp_files(self) -> None:
        """Remove what a killed run left half-written (call before workers start)."""
        self.out.clean_temp_files()

    def done(self, index: int) -> bool:
        return self.out.exists(sample_record(index, self.shard_size))

    def pending(self, indices) -> list[int]:
        return [i for i in indices if not self.done(i)]

    def write(self, sample, rendered_frames, rgb=None, seeds=None, controls=None) -> None:
        """Write one sample: frame.render's RenderedFrame per clip frame (and,
        with a model, per frame the generated image, its seed and the control
        images handed to the model)."""
        out = self._shard(shard_of(sample.index, self.shard_size))
        rows = []
        for f, rendered in enumerate(rendered_frames):
            arrays = write_frame_files(out, frame_stem(sample.index, f), rendered, self.passes, self.control_kinds,
                                       rgb=None if rgb is None else rgb[f], seed=-1 if seeds is None else seeds[f],
                                       controls=None if controls is None else controls[f])
            check_finite(f, arrays)
            rows.append(arrays)
        self.write_record(sample.index, rows, sample.meta)

    # -- a sample written in two places (Ray: render tasks, then the GPU actor) --
    def write_rendered(self, sample, rendered_frames, controls) -> list[dict]:
        """Everything of a sample but the generated images, their overlays
        and the record; returns its rows for `write_generated`."""
        out = self._shard(shard_of(sample.index, self.shard_size))
        later = [p for p in self.passes if p != "overlay"]
        rows = []
        for f, rendered in enumerate(rendered_frames):
            arrays = write_frame_files(out, frame_stem(sample.index, f), rendered, later, self.control_kinds,
                                       controls=controls[f])
            check_finite(f, arrays)
            rows.append(arrays)
        return rows

    def write_generated(self, index: int, rows: list[dict], rgb, seeds, colors, meta: dict) -> None:
        """The generated images (and their overlays) of a sample whose other
        files `write_rendered` wrote, then its record: the same files as `write`."""
        from posebooth.export.overlay import draw_overlay
        from posebooth.export.png import encode_png

        out = self._shard(shard_of(index, self.shard_size))
        for f, arrays in enumerate(rows):
            name = frame_stem(index, f)
            out.write_bytes(f"rgb/{name}.png", encode_png(np.asarray(rgb[f], np.uint8)))
            if "overlay" in self.passes:
                img = draw_overlay(rgb[f], arrays["joints2d"], arrays["joints2d_vis"], arrays["bbox"], colors)
                out.write_bytes(f"overlay/{name}.png", encode_png(img))
            arrays["seed"] = np.asarray(int(seeds[f]), np.int64)
        self.write_record(index, rows, meta)

    def write_record(self, index: int, rows: list[dict], meta: dict) -> None:
        record = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
        record["meta"] = np.array(json.dumps(meta, allow_nan=False))
        # Last, and flushed: the sample is done once its record exists.
        self.out.write_bytes(sample_record(index, self.shard_size), _npz_bytes(record), fsync=True)

    def read_record(self, index: int) -> dict:
        with np.load(self.out.path(sample_record(index, self.shard_size)), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    # -- assembly ------------------------------------------------------------
    def shard_complete(self, shard: int) -> bool:
        return all(self.done(i) for i in shard_indices(shard, self.shard_size, self.samples))

    def assemble_shard(self, shard: int) -> dict:
        """annotations.npz (one row per person and frame), coco.json and
        samples.jsonl of a complete shard; returns its counts."""
        from posebooth.export.coco import coco_dataset

        out = self._shard(shard)
        cols: dict[str, list] = {k: [] for k in (*ROW_KEYS, *IMAGE_KEYS, "sample", "frame", "person", "image")}
        metas, images, coco_rows, clip_frames = [], [], [], []
        frames_per = int(self.settings["clip_frames"])
        for i in shard_indices(shard, self.shard_size, self.samples):
            rec = self.read_record(i)
            metas.append(json.loads(str(rec["meta"])))
            F, P = rec["coco17"].shape[:2]
            for f in range(F):
                image_id = i * frames_per + f + 1
                images.append((image_id, f"{self.image_folder}/{frame_stem(i, f)}.png"))
                clip_frames.append(f)
                coco_rows.append({k: rec[k][f] for k in ("coco17", "bbox", "mask_area", "mask_rle")})
                for p in range(P):
                    for k in ROW_KEYS:
                        cols[k].append(rec[k][f, p])
                    for k in SCORE_KEYS:
                        if k in rec:
                            cols.setdefault(k, []).append(rec[k][f, p])
                    for k in IMAGE_KEYS:
                        cols[k].append(rec[k][f])
                    cols["sample"].append(i)
                    cols["frame"].append(f)
                    cols["person"].append(p + 1)
                    cols["image"].append(image_id)
        arrays = {k: np.stack(v) if v and np.ndim(v[0]) else np.asarray(v) for k, v in cols.items()}
        arrays["body_shape"] = _pad_rows(cols["body_shape"])
        out.write_bytes("annotations.npz", _npz_bytes(arrays), fsync=True)
        P = max(len(r["coco17"]) for r in coco_rows)
        coco = coco_dataset(clip_frames, "render", tuple(self.settings["size"]),
                            np.stack([_pad(r["coco17"], P) for r in coco_rows]),
                            np.stack([_pad(r["bbox"], P) for r in coco_rows]),
                            np.stack([_pad(r["mask_area"], P) for r in coco_rows]),
                            np.stack([_pad(r["mask_rle"], P) for r in coco_rows]), images=images)
        out.write_bytes("coco.json", (json.dumps(coco, allow_nan=False) + "\n").encode("utf-8"), fsync=True)
        out.write_bytes("samples.jsonl", "".join(json.dumps(m) + "\n" for m in metas).encode("utf-8"), fsync=True)
        return {"samples": len(metas), "people": len(cols["sample"]) // max(1, frames_per),
                "placement_tries": sum(m["placement_tries"] for m in metas)}


def _pad(a: np.ndarray, n: int) -> np.ndarray:
    """Rows of fewer people padded to n (zeros: not visible, no annotation)."""
    a = np.asarray(a)
    if len(a) == n:
        return a
    pad = np.zeros((n - len(a), *a.shape[1:]), a.dtype)
    return np.concatenate([a, pad])


def _pad_rows(rows: list) -> np.ndarray:
    width = max(len(r) for r in rows)
    return np.stack([np.pad(np.asarray(r, np.float32), (0, width - len(r))) for r in rows])
