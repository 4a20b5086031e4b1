"""The dataset writer (docs/FORMAT.md): per-frame pass files and annotation
rows, then annotations.npz, coco.json, videos and dataset.json.

Resumable: each frame's annotation rows go to a small sidecar
`.posebooth/frames/<frame>.npy` (one structured record), written LAST,
after all the frame's files. A frame counts as done when its sidecar and
every expected file exist, and a re-run of the same export skips it (its
files are not touched). The final files are assembled from the sidecars,
so a run killed at any point loses at most the frames in flight.
`.posebooth/export.json` records the settings; a re-run with other settings
into the same folder is refused, and so is a folder whose export.json is
damaged or missing beside exported files (export.bookkeeping: unknown
settings are never mixed with new ones). A damaged sidecar only means its
frame is rendered again, and no row with NaN or infinity is ever written or
assembled. dataset.json says `complete: false` before the final files are
replaced, and true only once they all are.

Frames are encoded and written on a small thread pool (the PNG deflate and
numpy release the GIL), so rendering the next frame overlaps writing this one.

A writer made with `share=True` writes a share of the frames of an export
that another writer (in another process, export.helpers) has opened: it
checks the settings but cleans nothing up and assembles nothing.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np

from posebooth.frame.annotations import FrameAnnotations
from posebooth.frame.render import renderer_passes
from posebooth.assets.face_presets import FACIAL_ACTIONS
from posebooth.export.bookkeeping import (FRAMES_DIR, STATE_DIR, STATE_FILE, load_sidecar, read_state,
                                          refuse_unrecorded_export, sidecar_bytes, sidecar_name,
                                          stack_rows)
from posebooth.export.files import ExportError, SafeOut
from posebooth.export.frame_files import write_frame_files
from posebooth.export.passes import IMAGE_PASSES, PASS_FOLDERS, PASSES

FORMAT_NAME = "posebooth-dataset"
FORMAT_VERSION = 2   # 2: whole-body keypoints, hands and face (FORMAT.md "changes in version 2")
OUTPUT_FOLDERS = (*PASSES, "rgb", "openpose")   # the folders of frame files


def frame_name(frame: int) -> str:
    return f"{int(frame):06d}"


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _json_bytes(obj, indent: int | None = 1) -> bytes:
    """indent=None: compact, and ~10x faster (json's C encoder only runs
    without indentation); for the large machine-read files."""
    return (json.dumps(obj, indent=indent, allow_nan=False) + "\n").encode("utf-8")


class DatasetWriter:
    """One export into one folder. Use: `pending_frames()`, then `submit()`
    each rendered frame, then `finish()` (or `abort()` on error)."""

    def __init__(self, out_dir, scene, frames, passes, *, body_models: list[dict],
                 control_kinds=("depth",), generator: dict | None = None, video: bool = False,
                 workers: int = 2, max_in_flight: int = 4, app_version: str | None = None,
                 share: bool = False, on_written=None):
        from posebooth import __version__
        from posebooth.scene.io import scene_to_json

        unknown = set(passes) - set(PASSES)
        if unknown:
            raise ExportError(f"unknown pass(es) {sorted(unknown)}; choose from {', '.join(PASSES)}")
        self.out = SafeOut(out_dir)
        self.scene = scene
        self.frames = sorted(set(int(f) for f in frames))
        # render/ is always written (FORMAT.md); keep the canonical order.
        self.passes = [p for p in PASSES if p in set(passes) | {"render"}]
        self.control_kinds = list(dict.fromkeys(control_kinds)) if "control" in self.passes else []
        self.generator = generator
        self.video = video
        self.body_models = body_models
        self.people = len(scene.people)
        self.size = (int(scene.camera.width), int(scene.camera.height))
        self.app_version = app_version or __version__
        self.share = share
        self.on_written = on_written   # (frame, sidecar arrays), on a writer thread, once a frame is on disk
        self._scene_json = scene_to_json(scene)
        self._state = self._open_state()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="posebooth-write")
        self._in_flight: deque[Future] = deque()
        self._max_in_flight = max(1, max_in_flight)
        self._written_now: dict[int, dict] = {}   # frame -> sidecar arrays written in this run (helpers' too)
        self._on_disk: dict[int, dict | None] = {}  # frame -> checked rows of an earlier run's sidecar
        self._lock = threading.Lock()

    # -- settings / resume -------------------------------------------------
    def _settings(self) -> dict:
        s = {"scene_sha256": hashlib.sha256(self._scene_json.encode("utf-8")).hexdigest(),
             "image_size": list(self.size), "passes": self.passes, "control_kinds": self.control_kinds,
             "generator": self.generator, "people": self.people}
        return json.loads(json.dumps(s))  # as it reads back from export.json (tuples -> lists)

    def _open_state(self) -> dict:
        """Check the folder's settings against this export's (or record them
        in a new folder). read_state refuses a damaged export.json; files of
        an export with no export.json are refused too: their settings are
        unknown, and new frames must never be mixed with them."""
        settings = self._settings()
        state = read_state(self.out)
        if state is not None and state["settings"] != settings:
            raise ExportError(
                f"{self.out.root} holds an export made from a different scene or with other "
                f"settings (size, passes, controls or generator). Write to an empty folder, "
                f"or delete this one to start over.")
        if state is None and self.share:
            raise ExportError(f"{self.out.root}: no export to write a share of (no {STATE_FILE})")
        if state is None:
            refuse_unrecorded_export(self.out, OUTPUT_FOLDERS)
        if self.share:   # the opening writer made the folders and cleaned up
            return state
        self.out.clean_temp_files()
        if state is None:
            created = datetime.now(timezone.utc).isoformat(timespec="seconds")
            state = {"settings": settings, "created": created}
            self.out.ensure_folder(STATE_DIR)
            self.out.write_bytes(STATE_FILE, _json_bytes(state), fsync=True)
        if not self.out.exists("scene.json"):
            self.out.write_bytes("scene.json", self._scene_json.encode("utf-8"))
        for p in self.passes:
            if p != "control" or self.control_kinds:
                self.out.ensure_folder(PASS_FOLDERS.get(p, p))
        if self.generator is not None:
            self.out.ensure_folder("rgb")
        self.out.ensure_folder(FRAMES_DIR)
        return state

    def expected_files(self, frame: int) -> list[str]:
        n = frame_name(frame)
        files = [f"{p}/{n}.png" for p in IMAGE_PASSES if p in self.passes]
        files += [f"control/{n}_{k}.png" for k in self.control_kinds]
        if "mesh" in self.passes:
            files += [f"mesh/{n}_{k}.ply" for k in range(1, self.people + 1)]
        if "openpose_json" in self.passes:
            files.append(f"openpose/{n}_keypoints.json")
        if self.generator is not None:
            files.append(f"rgb/{n}.png")
        return files

    def sidecar(self, frame: int) -> str:
        return sidecar_name(frame)

    def _disk_rows(self, frame: int) -> dict | None:
        """The frame's rows from an earlier run's sidecar, read and checked
        once; None when it is missing or damaged (the frame is not done)."""
        if frame not in self._on_disk:
            self._on_disk[frame] = load_sidecar(self.out, frame, self.people, self.size)
        return self._on_disk[frame]

    def frame_done(self, frame: int) -> bool:
        return all(self.out.exists(f) for f in self.expected_files(frame)) and \
            self._disk_rows(frame) is not None

    def pending_frames(self) -> list[int]:
        """The requested frames that are not complete on disk yet."""
        return [f for f in self.frames if not self.frame_done(f)]

    # -- per frame -----------------------------------------------------------
    def renderer_passes(self) -> tuple[str, ...]:
        """The renderer passes this export needs (the annotations' always)."""
        wanted = ["rgb"] + [p for p in ("normal", "parts") if p in self.passes]
        return renderer_passes(wanted, self.control_kinds, annotate=True)

    def submit(self, rendered, rgb: np.ndarray | None = None, controls: dict | None = None,
               seed: int = -1) -> None:
        """Queue one frame for writing: `rendered` is frame.render's
        RenderedFrame (rendered with `renderer_passes()`). With a generator:
        `rgb` is the generated image, `controls` the exact conditioning images
        handed to the model and `seed` its seed."""
        if self.generator is not None and rgb is None:
            raise ExportError("this export has a generator: every frame needs its generated rgb image")
        self._raise_failed()
        while len(self._in_flight) >= self._max_in_flight:
            self._in_flight.popleft().result()
        self._in_flight.append(self._pool.submit(self._write_frame, rendered, rgb, controls, seed))

    def _write_frame(self, rendered, rgb, controls, seed) -> None:
        arrays = write_frame_files(self.out, frame_name(rendered.frame), rendered, self.passes,
                                   self.control_kinds, rgb=rgb, controls=controls, seed=seed)
        # Last, and flushed: its presence marks the frame's files as complete.
        self.out.write_bytes(self.sidecar(rendered.frame), sidecar_bytes(arrays), fsync=True)
        with self._lock:
            self._written_now[int(rendered.frame)] = arrays
        if self.on_written is not None:
            self.on_written(int(rendered.frame), arrays)

    def add_written_elsewhere(self, frame: int, arrays: dict) -> None:
        """A frame of this export that a helper process wrote in this run,
        with its sidecar arrays (so assembly need not read them back)."""
        with self._lock:
            self._written_now[int(frame)] = arrays

    def _raise_failed(self) -> None:
        for fut in list(self._in_flight):
            if fut.done() and fut.exception() is not None:
                raise fut.exception()

    def drain(self) -> None:
        """Wait for every queued frame; re-raise the first failure."""
        while self._in_flight:
            self._in_flight.popleft().result()

    # -- assembly ------------------------------------------------------------
    def _done_rows(self) -> tuple[list[int], list[dict]]:
        """Frames written in this run, and those complete on disk from
        earlier runs; with their rows."""
        folder = self.out.path(f"{FRAMES_DIR}/x").parent
        on_disk = {int(p.stem) for p in folder.glob("*.npy") if p.stem.isdigit()}
        with self._lock:
            known = dict(self._written_now)
        done = sorted(set(known) | {f for f in (on_disk | set(self.frames)) - set(known) if self.frame_done(f)})
        return done, [known[f] if f in known else self._disk_rows(f) for f in done]

    def finish(self) -> dict:
        """Drain the queue, assemble annotations.npz / coco.json / videos /
        dataset.json; returns the manifest (complete: every requested frame
        and pass on disk). A shared writer only drains (returns None)."""
        self.drain()
        self._pool.shutdown(wait=True)
        return None if self.share else self._assemble()

    def abort(self) -> None:
        """Stop after an error: drop queued frames, let running ones end, and
        leave a manifest with complete: false (best effort)."""
        for fut in self._in_flight:
            fut.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._in_flight.clear()
        if self.share:
            return
        try:
            self._assemble(videos=False)
        except Exception:
            self._mark_incomplete()

    def _mark_incomplete(self) -> None:
        """After a failed assembly: make sure no dataset.json (an earlier
        run's) says complete. Rewritten with complete: false, or removed
        when that cannot be done (unreadable, or the disk is full)."""
        from posebooth.files.safe_read import read_user_file

        try:
            path = self.out.path("dataset.json")
            if not os.path.lexists(path):
                return
            try:
                manifest = json.loads(read_user_file(path, "dataset manifest", 1 << 26))
            except ValueError:
                manifest = None
            if isinstance(manifest, dict):
                if manifest.get("complete") is False:
                    return
                try:
                    manifest["complete"] = False
                    self.out.write_bytes("dataset.json", _json_bytes(manifest), fsync=True)
                    return
                except (ExportError, ValueError):
                    pass
            path.unlink()
        except (OSError, ExportError):
            pass

    def _assemble(self, videos: bool = True) -> dict:
        from posebooth.export.coco import coco_dataset
        from posebooth.export.coco_wholebody import coco_wholebody_dataset
        from posebooth.assets.props import prop_records

        done, rows = self._done_rows()
        arrays = stack_rows(done, rows, self.people)   # ExportError on NaN / infinity or mixed shapes
        folder = "rgb" if self.generator is not None else "render"
        coco = coco_dataset(done, folder, self.size, arrays["coco17"], arrays["bbox"], arrays["mask_area"],
                            arrays["mask_rle"])
        manifest = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "app_version": self.app_version,
            "created": self._state["created"], "image_size": list(self.size),
            "fps": float(self.scene.timeline.fps), "frames": done, "people": self.people,
            "passes": self.passes + (["rgb"] if self.generator is not None else []),
            "body_models": self.body_models, "generator": self.generator, "complete": False,
            "props": prop_records(self.scene), "expression_names": list(FACIAL_ACTIONS),
        }
        # Incomplete first: should a write below fail (a full disk), no
        # dataset.json says complete over a half-replaced set of files.
        self.out.write_bytes("dataset.json", _json_bytes(manifest), fsync=True)
        self.out.write_bytes("annotations.npz", _npz_bytes({k: arrays[k] for k in FrameAnnotations.NPZ_KEYS}),
                             fsync=True)
        self.out.write_bytes("coco.json", _json_bytes(coco, indent=None), fsync=True)
        wholebody = coco_wholebody_dataset(done, folder, self.size, arrays["wholebody133"], arrays["bbox"],
                                           arrays["mask_area"], arrays["mask_rle"])
        self.out.write_bytes("coco_wholebody.json", _json_bytes(wholebody, indent=None), fsync=True)
        complete = all(f in done for f in self.frames)
        if self.video and videos:
            complete = self._write_videos(done) and complete
        if complete:
            manifest["complete"] = True
            self.out.write_bytes("dataset.json", _json_bytes(manifest), fsync=True)
        return manifest

    def _write_videos(self, done: list[int]) -> bool:
        """video/<source>.mp4 for render, overlay and rgb; re-encoded only when
        a frame was written in this run or the clip is missing. True when every
        clip is on disk."""
        from posebooth.export.video import write_video

        sources = ["render"] + [s for s in ("overlay",) if s in self.passes] + \
            (["rgb"] if self.generator is not None else [])
        if not done:
            return False
        self.out.ensure_folder("video")
        for src in sources:
            rel = f"video/{src}.mp4"
            if self._written_now or not self.out.exists(rel):
                files = [self.out.path(f"{src}/{frame_name(f)}.png") for f in done]
                write_video(self.out, rel, files, self.scene.timeline.fps)
        return all(self.out.exists(f"video/{s}.mp4") for s in sources)

