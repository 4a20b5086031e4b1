"""Requests for the interactive Generate / auto-preview, built off the GUI thread.

The GUI thread takes a snapshot (posed people from doc.posed(), the camera at
the request size, a copy of the generation settings) in well under a
millisecond; one background thread renders the conditioning images through
the one frame pipeline (frame.render, with the shared HeadlessRenderer:
the same Renderer as the viewport and the export), builds the
GenerationRequest (frame.request) and submits it. Why a thread rather
than the ~30 ms render on the GUI thread: the readback, the openpose drawing
and the normal conversion grow with the image (SDXL's 1024² is several
times 512²), and a thread keeps the GUI's budget independent of the size.
One thread, FIFO, so requests reach the worker in the order they were made;
a preview that a newer one superseded before it was rendered is dropped
(latest wins, as napari's async slicing drops stale slices).
"""
from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from posebooth.frame.controls import openpose_parts
from posebooth.frame.render import render_frame
from posebooth.frame.request import build_request
from posebooth.pipeline.live import img2img_steps


@dataclass(frozen=True)
class Snapshot:
    """Everything a request needs, taken on the GUI thread; never changed afterwards."""

    request_id: str
    people: tuple            # assets.posing.PosedPerson (arrays are not modified once posed)
    camera: Any              # scene.camera.Camera at the request size
    generation: Any          # a copy of scene.generation
    kinds: tuple[str, ...]
    seed: int
    frame: int
    preview: bool
    live: bool = False       # a live preview (pipeline.live): the running one is not interrupted
    init_image: Any = None   # img2img start (live: the previous preview), HxWx3 uint8 at the request size
    strength: float = 0.5
    props: tuple = ()        # assets.props.PropMesh, placed (arrays not modified)
    score: bool = False      # keep the frame's ground truth for the fidelity score (on_truth)


class RequestBuilder(QObject):
    failed = Signal(str, str)      # request id, message (rendering or settings)
    submitted = Signal(str)        # request id handed to the worker
    dropped = Signal(str)          # request id never submitted (superseded or cancelled)

    def __init__(self, renderer_provider: Callable[[], Any], submit: Callable[[Any], Any], parent=None):
        super().__init__(parent)
        self._renderer_provider = renderer_provider
        self._submit = submit
        self.on_truth: Callable[[str, Any], None] | None = None   # (request id, RenderedFrame) of scored ones
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posebooth-conditioning")
        self._latest_preview: str | None = None
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()

    def request(self, snap: Snapshot) -> None:
        """Render and submit on the background thread; returns at once."""
        if snap.preview:
            with self._lock:
                self._latest_preview = snap.request_id
        self._pool.submit(self._build, snap)

    def cancel(self, request_id: str) -> None:
        """Drop this request if it has not reached the worker yet (the caller cancels it
        on the worker too: checking and submitting happen under one lock, so one of the
        two always sees it)."""
        with self._lock:
            if len(self._cancelled) > 256:   # ids of requests that had already been submitted
                self._cancelled.clear()
            self._cancelled.add(request_id)

    def _wanted(self, snap: Snapshot) -> bool:
        """Call with the lock held."""
        if snap.request_id in self._cancelled:
            self._cancelled.discard(snap.request_id)
            return False
        return not snap.preview or snap.request_id == self._latest_preview

    def _build(self, snap: Snapshot) -> None:
        try:
            with self._lock:
                wanted = self._wanted(snap)
            if not wanted:   # superseded or cancelled before it was rendered
                self.dropped.emit(snap.request_id)
                return
            keep = self.on_truth if snap.score else None
            rendered = render_frame(self._renderer_provider(), snap.people, snap.camera, snap.frame,
                                    controls=snap.kinds, annotate=keep is not None,
                                    openpose=openpose_parts(snap.generation), props=snap.props)
            if keep is not None:   # before the worker can have the result
                keep(snap.request_id, rendered)
            controls = rendered.controls(snap.kinds)
            request = build_request(snap.generation, controls, seed=snap.seed, width=snap.camera.width,
                                    height=snap.camera.height, preview=snap.preview, request_id=snap.request_id)
            if snap.init_image is not None:   # live: as many denoising steps as without it
                steps = img2img_steps(request.steps, snap.strength) if snap.live else request.steps
                request = dataclasses.replace(request, init_image=snap.init_image, strength=snap.strength,
                                              steps=steps)
            with self._lock:
                wanted = self._wanted(snap)   # ... or while it was rendered
                if wanted:
                    self._submit(request, live=True) if snap.live else self._submit(request)
            (self.submitted if wanted else self.dropped).emit(snap.request_id)
        except Exception as exc:  # reported in the panel, never fatal
            self.failed.emit(snap.request_id, str(exc) or type(exc).__name__)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
