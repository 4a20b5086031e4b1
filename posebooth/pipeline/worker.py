"""GenerationWorker: one long-lived thread that owns the loaded pipeline.

The GUI (through a thin Qt bridge in ui/) calls load / submit / cancel from its own
thread; they only touch a queue under a lock and return at once. Every callback
runs on the worker thread:

    on_loading(progress, message)           loading stages, progress in [0, 1]
    on_progress(request_id, step, total)    after every denoising step
    on_preview(request_id, step, image)     every `preview_every` steps (HxWx3 uint8)
    on_result(result)                       a GenerationResult
    on_error(request_id, message)           the job failed; the worker carries on
    on_cancelled(request_id)                cancelled or superseded

`call(fn)` runs any function with the loaded backend on the worker thread, in
queue order, and returns a concurrent.futures.Future: an export generates its
clip a frame at a time this way (pipeline.clips.ClipRun), without holding the
worker between frames. Its outcome goes to the future, not the callbacks.

Latest-wins: submitting a preview request cancels every queued preview and
interrupts a running one. Cancellation is a flag on the job, checked at the end of
every denoising step (the step callback raises GenerationCancelled out of the
diffusers loop), so it lands within one step. Queued jobs that were cancelled are
reported when the worker reaches them, so callbacks never run on the caller's thread.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from posebooth.pipeline.clips import ClipOptions, generate_clip
from posebooth.pipeline.errors import GenerationCancelled, PipelineError
from posebooth.pipeline.loading import LoadOptions, load_backend
from posebooth.frame.request import GenerationRequest, GenerationResult, new_request_id

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Job:
    kind: str  # "load" | "generate" | "clip" | "call"
    id: str
    payload: Any
    preview: bool = False
    cancelled: bool = False
    extra: dict = field(default_factory=dict)


def _message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"


class GenerationWorker:
    def __init__(
        self,
        on_loading: Callable[[float, str], None] | None = None,
        on_progress: Callable[[str, int, int], None] | None = None,
        on_preview: Callable[[str, int, Any], None] | None = None,
        on_result: Callable[[GenerationResult], None] | None = None,
        on_error: Callable[[str | None, str], None] | None = None,
        on_cancelled: Callable[[str], None] | None = None,
        loader: Callable[..., Any] = load_backend,
        backend: Any = None,
    ):
        self.on_loading, self.on_progress, self.on_preview = on_loading, on_progress, on_preview
        self.on_result, self.on_error, self.on_cancelled = on_result, on_error, on_cancelled
        self._loader = loader
        self.backend = backend  # only touched on the worker thread once running
        self._cond = threading.Condition()
        self._jobs: deque[_Job] = deque()
        self._current: _Job | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="posebooth-generation", daemon=True)
        self._thread.start()

    # -- caller side (any thread) -------------------------------------------------------
    def load(self, source: Any, options: LoadOptions | None = None) -> str:
        return self._enqueue(_Job("load", new_request_id(), (source, options)))

    def submit(self, request: GenerationRequest, live: bool = False) -> str:
        """live: a live preview (a fast model following a drag, pipeline.live). It replaces
        queued previews like any preview, but lets a running live preview finish: with
        previews interrupted at every mouse move, none would ever land during a drag."""
        job = _Job("generate", request.request_id, request, preview=request.preview, extra={"live": live})
        with self._cond:
            if request.preview:  # latest wins
                for queued in self._jobs:
                    if queued.preview:
                        queued.cancelled = True
                current = self._current
                if current is not None and current.preview and not (live and current.extra.get("live")):
                    current.cancelled = True
            return self._enqueue(job)

    def submit_clip(
        self, frames: Sequence[GenerationRequest], options: ClipOptions = ClipOptions(), clip_id: str | None = None
    ) -> str:
        """Frames arrive one by one through on_result; cancel(clip_id) stops the rest."""
        clip_id = clip_id or new_request_id()
        return self._enqueue(_Job("clip", clip_id, (tuple(frames), options)))

    def call(self, fn: Callable[[Any, Callable[[], bool]], Any], job_id: str | None = None) -> Future:
        """Run fn(backend, cancelled) on the worker thread after the jobs queued
        before it; `cancelled()` turns true when cancel(job id) or cancel()
        is called. The future holds fn's return value or exception; a job
        cancelled before it ran raises GenerationCancelled. The job id is
        `future.job_id`."""
        future: Future = Future()
        job = _Job("call", job_id or new_request_id(), fn, extra={"future": future})
        future.job_id = job.id
        self._enqueue(job)
        return future

    def cancel(self, request_id: str | None = None) -> None:
        """Cancel one queued/running request or clip, or (None) every generation job."""
        with self._cond:
            jobs = list(self._jobs) + ([self._current] if self._current else [])
            for job in jobs:
                if job.kind != "load" and (request_id is None or job.id == request_id):
                    job.cancelled = True

    def shutdown(self, timeout: float | None = 10.0) -> None:
        self.cancel()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (for scripts and tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and self._current is None, timeout)

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _enqueue(self, job: _Job) -> str:
        with self._cond:
            if self._stopping:
                raise RuntimeError("the generation worker has been shut down")
            self._jobs.append(job)
            self._cond.notify_all()
        return job.id

    # -- worker thread ------------------------------------------------------------------
    def _emit(self, name: str, *args: Any) -> None:
        fn = getattr(self, name)
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:  # a broken listener must not kill the worker
            log.exception("generation worker callback %s failed", name)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._jobs or self._stopping)
                if not self._jobs:
                    return
                job = self._current = self._jobs.popleft()
            try:
                if job.cancelled or self._stopping:
                    if job.kind == "call":
                        job.extra["future"].set_exception(GenerationCancelled(job.id))
                    else:
                        self._emit("on_cancelled", job.id)
                else:
                    getattr(self, f"_do_{job.kind}")(job)
            except Exception as exc:  # the worker survives anything a job does
                log.exception("generation job %s failed", job.id)
                self._emit("on_error", job.id, _message(exc))
            finally:
                with self._cond:
                    self._current = None
                    self._cond.notify_all()

    def _do_load(self, job: _Job) -> None:
        source, options = job.payload
        backend = self._loader(
            source,
            options,
            on_progress=lambda p, m: self._emit("on_loading", p, m),
            before_weights=self._release_backend,
        )
        self.backend = backend
        for warning in getattr(backend, "warnings", []):
            self._emit("on_loading", 1.0, warning)

    def _release_backend(self) -> None:
        """Free the current model before the next one is read (two may not fit in memory).
        Called by the loader after its file checks, so a missing model keeps the current one."""
        self.backend = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def _step_callback(self, job: _Job, request_id: str):
        def on_step(step: int, total: int, preview) -> None:
            if job.cancelled:
                raise GenerationCancelled(job.id)
            self._emit("on_progress", request_id, step, total)
            if preview is not None:
                self._emit("on_preview", request_id, step, preview)

        return on_step

    def _require_backend(self, job: _Job) -> bool:
        if self.backend is None:
            self._emit("on_error", job.id, "No model is loaded: choose a model first")
            return False
        return True

    def _do_generate(self, job: _Job) -> None:
        if not self._require_backend(job):
            return
        try:
            result = self.backend.generate(job.payload, self._step_callback(job, job.id))
        except GenerationCancelled:
            self._emit("on_cancelled", job.id)
            return
        if job.cancelled:  # cancelled during the final decode: the result is stale
            self._emit("on_cancelled", job.id)
        else:
            self._emit("on_result", result)

    def _do_clip(self, job: _Job) -> None:
        if not self._require_backend(job):
            return
        frames, options = job.payload
        try:
            generate_clip(
                self.backend,
                frames,
                options,
                clip_id=job.id,
                on_step_for=lambda req: self._step_callback(job, req.request_id),
                on_frame=lambda result: self._emit("on_result", result),
                should_stop=lambda: job.cancelled,
            )
        except GenerationCancelled:
            self._emit("on_cancelled", job.id)

    def _do_call(self, job: _Job) -> None:
        future: Future = job.extra["future"]
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(job.payload(self.backend, lambda: job.cancelled))
        except BaseException as exc:  # the caller waiting on the future decides
            future.set_exception(exc)
