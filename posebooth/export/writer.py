"""The dataset writer (docs/FORMAT.md): per-frame pass files and annotation
rows, then annotations.npz, coco.json, videos and dataset.json.

Resumable: each frame's annotation rows go to a small sidecar
`.posebooth/frames/<frame>.npy` (one structured record), written LAST,
after all the frame's files. A frame counts as done when its sidecar and
every expected file exist, and a re-run of the same export skips it (its
files are not touched). The final files are assembled from the sidecars,
so a run killed at any point loses at most the frames in flight.
`.posebooth/export.json` records the settings; a re-run with other settings
into the same folder is refused.

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
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np

from posebooth.export.annotations import FrameAnnotations, annotate_frame
from posebooth.export.files import ExportError, SafeOut
from posebooth.export.png import encode_png

FORMAT_NAME = "posebooth-dataset"
FORMAT_VERSION = 1
PASSES = ("render", "depth", "normal", "parts", "mask", "control", "overlay", "mesh")
IMAGE_PASSES = ("render", "depth", "normal", "parts", "mask", "overlay")
STATE_DIR = ".posebooth"


def frame_name(frame: int) -> str:
    return f"{int(frame):06d}"


def depth_png(depth: np.ndarray) -> np.ndarray:
    """Camera z (m, 0 = background) -> uint16 millimetres, rounded, clipped."""
    mm = np.asarray(depth, np.float64) * 1000.0
    return np.clip(np.rint(mm, out=mm), 0, 65535).astype(np.uint16)


def normal_png(normal: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Unit normals -> uint8 round((n + 1) / 2 * 255) (float32 arithmetic,
    ties to even); background (0, 0, 0). cv2 does it in ~0.5 ms where numpy's
    boolean-mask assignment alone takes ~10 ms at 512x512."""
    import cv2

    out = cv2.convertScaleAbs(np.asarray(normal, np.float32), alpha=127.5, beta=127.5)
    return cv2.bitwise_and(out, out, mask=np.asarray(foreground, np.uint8))


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def sidecar_bytes(arrays: dict) -> bytes:
    """A frame's rows as one structured .npy record (a field per array):
    one header to write and parse, ~6x faster both ways than an npz."""
    record = np.zeros((), np.dtype([(k, v.dtype, v.shape) for k, v in arrays.items()]))
    for k, v in arrays.items():
        record[k] = v
    buf = io.BytesIO()
    np.save(buf, record, allow_pickle=False)
    return buf.getvalue()


def read_sidecar(path) -> dict:
    record = np.load(path, allow_pickle=False)
    return {k: np.array(record[k]) for k in record.dtype.names}


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
        self._lock = threading.Lock()

    # -- settings / resume -------------------------------------------------
    def _settings(self) -> dict:
        s = {"scene_sha256": hashlib.sha256(self._scene_json.encode("utf-8")).hexdigest(),
             "image_size": list(self.size), "passes": self.passes, "control_kinds": self.control_kinds,
             "generator": self.generator, "people": self.people}
        return json.loads(json.dumps(s))  # as it reads back from export.json (tuples -> lists)

    def _open_state(self) -> dict:
        rel = f"{STATE_DIR}/export.json"
        settings = self._settings()
        state = None
        if self.out.exists(rel):
            try:
                state = json.loads(self.out.path(rel).read_text("utf-8"))
            except (OSError, ValueError):
                state = None
            if state is not None and state.get("settings") != settings:
                raise ExportError(
                    f"{self.out.root} holds an export made from a different scene or with other "
                    f"settings (size, passes, controls or generator). Write to an empty folder, "
                    f"or delete this one to start over.")
        elif self.share:
            raise ExportError(f"{self.out.root}: no export to write a share of (no {rel})")
        elif self.out.exists("dataset.json"):
            raise ExportError(f"{self.out.root} already holds a dataset that this export cannot "
                              f"resume. Write to an empty folder.")
        if self.share:   # the opening writer made the folders and cleaned up
            return state
        self.out.clean_temp_files()
        if state is None:
            created = datetime.now(timezone.utc).isoformat(timespec="seconds")
            state = {"settings": settings, "created": created}
            self.out.ensure_folder(STATE_DIR)
            self.out.write_bytes(rel, _json_bytes(state), fsync=True)
        if not self.out.exists("scene.json"):
            self.out.write_bytes("scene.json", self._scene_json.encode("utf-8"))
        for p in self.passes:
            if p != "control" or self.control_kinds:
                self.out.ensure_folder(p)
        if self.generator is not None:
            self.out.ensure_folder("rgb")
        self.out.ensure_folder(f"{STATE_DIR}/frames")
        return state

    def expected_files(self, frame: int) -> list[str]:
        n = frame_name(frame)
        files = [f"{p}/{n}.png" for p in IMAGE_PASSES if p in self.passes]
        files += [f"control/{n}_{k}.png" for k in self.control_kinds]
        if "mesh" in self.passes:
            files += [f"mesh/{n}_{k}.ply" for k in range(1, self.people + 1)]
        if self.generator is not None:
            files.append(f"rgb/{n}.png")
        return files

    def sidecar(self, frame: int) -> str:
        return f"{STATE_DIR}/frames/{frame_name(frame)}.npy"

    def frame_done(self, frame: int) -> bool:
        return self.out.exists(self.sidecar(frame)) and \
            all(self.out.exists(f) for f in self.expected_files(frame))

    def pending_frames(self) -> list[int]:
        """The requested frames that are not complete on disk yet."""
        return [f for f in self.frames if not self.frame_done(f)]

    # -- per frame -----------------------------------------------------------
    def renderer_passes(self) -> tuple[str, ...]:
        """The renderer passes this export needs (depth and instance always:
        the annotations are computed from them)."""
        need = {"depth", "instance", "rgb"}
        if "normal" in self.passes or "normal" in self.control_kinds:
            need.add("normal")
        if "parts" in self.passes:
            need.add("parts")
        return tuple(p for p in ("rgb", "depth", "normal", "parts", "instance") if p in need)

    def submit(self, frame: int, passes, people, camera, annotations: FrameAnnotations | None = None,
               rgb: np.ndarray | None = None, controls: dict | None = None, seed: int = -1) -> None:
        """Queue one rendered frame for writing. `passes`: the renderer's
        RenderPasses for `people` (pose_people's list) seen by `camera`.
        With a generator: `rgb` is the generated image, `controls` the exact
        conditioning images handed to the model and `seed` its seed; then
        pass `annotations` too if they were already computed for it."""
        if self.generator is not None and rgb is None:
            raise ExportError("this export has a generator: every frame needs its generated rgb image")
        self._raise_failed()
        while len(self._in_flight) >= self._max_in_flight:
            self._in_flight.popleft().result()
        self._in_flight.append(self._pool.submit(self._write_frame, frame, passes, people, camera,
                                                 annotations, rgb, controls, seed))

    def _write_frame(self, frame, passes, people, camera, ann, rgb, controls, seed) -> None:
        from posebooth.export.controls import control_images
        from posebooth.export.coco import mask_rle_counts
        from posebooth.export.overlay import draw_overlay

        if ann is None:
            ann = annotate_frame(people, camera, passes.depth, passes.instance, frame, seed)
        ann.seed = int(seed)
        n = frame_name(frame)
        w = self.out.write_bytes
        fg = passes.depth > 0
        if "render" in self.passes:
            w(f"render/{n}.png", encode_png(passes.rgb))
        if "depth" in self.passes:
            w(f"depth/{n}.png", encode_png(depth_png(passes.depth)))
        if "normal" in self.passes:
            w(f"normal/{n}.png", encode_png(normal_png(passes.normal, fg)))
        if "parts" in self.passes:
            w(f"parts/{n}.png", encode_png(passes.parts))
        if "mask" in self.passes:
            w(f"mask/{n}.png", encode_png(passes.instance))
        if rgb is not None:
            w(f"rgb/{n}.png", encode_png(np.asarray(rgb, np.uint8)))
        if self.control_kinds:
            made = controls if controls is not None else control_images(self.control_kinds, passes, ann)
            for kind in self.control_kinds:
                if kind not in made:
                    raise ExportError(f"frame {frame}: no {kind!r} control image was given")
                w(f"control/{n}_{kind}.png", encode_png(made[kind]))
        if "overlay" in self.passes:
            base = rgb if rgb is not None else passes.rgb
            img = draw_overlay(base, ann.joints2d, ann.joints2d_vis, ann.bbox, [p.color for p in people])
            w(f"overlay/{n}.png", encode_png(img))
        if "mesh" in self.passes:
            import trimesh

            for p in people:
                m = trimesh.Trimesh(np.asarray(p.vertices), np.asarray(p.faces), process=False)
                w(f"mesh/{n}_{p.index + 1}.ply", m.export(file_type="ply"))
        arrays = ann.to_arrays()
        arrays["mask_rle"] = np.array(mask_rle_counts(passes.instance, [p.index + 1 for p in people]),
                                      dtype=str).reshape(len(people))
        # Last, and flushed: its presence marks the frame's files as complete.
        w(self.sidecar(frame), sidecar_bytes(arrays), fsync=True)
        with self._lock:
            self._written_now[int(frame)] = arrays
        if self.on_written is not None:
            self.on_written(int(frame), arrays)

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
    def _done_frames(self) -> list[int]:
        """Frames written in this run, and those complete on disk from earlier runs."""
        folder = self.out.path(f"{STATE_DIR}/frames/x").parent
        on_disk = {int(p.stem) for p in folder.glob("*.npy") if p.stem.isdigit()}
        known = set(self._written_now)
        return sorted(known | {f for f in (on_disk | set(self.frames)) - known if self.frame_done(f)})

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
            pass

    def _assemble(self, videos: bool = True) -> dict:
        from posebooth.export.coco import coco_dataset

        done = self._done_frames()
        rows = [self._written_now.get(f) or read_sidecar(self.out.path(self.sidecar(f))) for f in done]
        arrays = self._stack(rows)
        self.out.write_bytes("annotations.npz", _npz_bytes({k: arrays[k] for k in FrameAnnotations.NPZ_KEYS}))
        folder = "rgb" if self.generator is not None else "render"
        coco = coco_dataset(done, folder, self.size, arrays["coco17"], arrays["bbox"], arrays["mask_area"],
                            arrays["mask_rle"])
        self.out.write_bytes("coco.json", _json_bytes(coco, indent=None))
        complete = all(f in done for f in self.frames)
        if self.video and videos:
            complete = self._write_videos(done) and complete
        manifest = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "app_version": self.app_version,
            "created": self._state["created"], "image_size": list(self.size),
            "fps": float(self.scene.timeline.fps), "frames": done, "people": self.people,
            "passes": self.passes + (["rgb"] if self.generator is not None else []),
            "body_models": self.body_models, "generator": self.generator, "complete": bool(complete),
        }
        self.out.write_bytes("dataset.json", _json_bytes(manifest), fsync=True)
        return manifest

    def _stack(self, rows: list[dict]) -> dict:
        P = self.people
        if rows:
            return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
        empty = {"frame_index": (np.int32, ()), "cam_K": (np.float32, (3, 3)),
                 "cam_ext": (np.float32, (4, 4)),
                 "global_orient": (np.float32, (P, 3)), "body_pose": (np.float32, (P, 69)),
                 "transl": (np.float32, (P, 3)), "betas": (np.float32, (P, 10)),
                 "body_shape": (np.float32, (P, 1)), "joints3d_world": (np.float32, (P, 24, 3)),
                 "joints3d_cam": (np.float32, (P, 24, 3)), "joints2d": (np.float32, (P, 24, 2)),
                 "joints2d_vis": (np.uint8, (P, 24)), "coco17": (np.float32, (P, 17, 3)),
                 "bbox": (np.float32, (P, 4)), "seed": (np.int64, ()), "mask_area": (np.int64, (P,)),
                 "mask_rle": (str, (P,))}
        return {k: np.zeros((0, *shape), dtype) for k, (dtype, shape) in empty.items()}

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

