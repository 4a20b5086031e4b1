"""Helper processes that export shares of a scene's frames beside the
calling process (no Qt, no model).

Why processes: a model-free 4-person export is ~50 ms of CPU a frame
(posing, rendering, annotating, PNGs), much of it Python holding the GIL,
so one process keeps only ~1.5 of 2 cores busy. A helper has its own
interpreter, EGL context and body, and writes into the same folder: frames
are handed out in chunks from a shared counter, each process writes its
frames' files and sidecars (export.writer, `share=True`), and a helper
sends each frame's annotation rows back once the frame is on disk, from
which the calling process assembles annotations.npz / coco.json /
dataset.json. Chunks are claimed atomically, so no frame is written twice;
a killed helper loses at most its frames in flight.

A helper ends the moment the process that started it dies, whatever it is
doing (export.process.exit_with_parent): killed, that process never stops it.

Helpers start cold (importing torch and building the body takes seconds),
so an `ExportHelpers` is made once and kept: `posebooth render` makes it
at launch, the benchmark before it measures. A chunk is only claimed by a
helper that is ready, so a helper still starting never delays an export.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import pickle
import queue
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass

from posebooth.export.process import exit_with_parent

# Shared slots: [running job id, next chunk index, helpers working on it].
# Events from helpers: ("warm", id, None), ("rows", job id, (frame, sidecar
# arrays)) and ("error", id, message).
_JOB, _NEXT, _ACTIVE = range(3)
NO_JOB = -1


@dataclass(frozen=True)
class _Job:
    id: int
    scene_json: str
    out_dir: str
    chunks: list[list[int]]
    passes: list[str]
    control_kinds: list[str]
    body_for: bytes           # pickled body lookup (None: the registry)
    body_models: list[dict]
    workers: int


class ChunkClaims:
    """Which process renders which chunk of a job: `claim()` hands out each
    chunk index once, across processes, until the job ends or is cancelled."""

    def __init__(self, slots, job_id: int, n_chunks: int, helper: bool):
        self._slots, self.job_id, self.n_chunks, self._helper = slots, job_id, n_chunks, helper
        self.active = False   # a helper counts itself in _ACTIVE from its first claim

    def claim(self) -> int | None:
        with _locked(self._slots):
            s = self._slots
            if s[_JOB] != self.job_id or s[_NEXT] >= self.n_chunks:
                return None
            k = s[_NEXT]
            s[_NEXT] = k + 1
            if self._helper and not self.active:
                s[_ACTIVE] += 1
                self.active = True
            return k

    def cancelled(self) -> bool:
        """The job was cancelled, or (in a helper) the process that started
        it is gone: then nobody will assemble what this one writes."""
        return self._slots[_JOB] != self.job_id or (self._helper and not _parent_alive())

    def release(self) -> None:
        """A helper is done with the job (its files are written)."""
        if self.active:
            with _locked(self._slots):
                self._slots[_ACTIVE] -= 1
            self.active = False


class ExportHelpers:
    """`count` helper processes, kept for any number of exports. Use as a
    context manager or call `close()`."""

    def __init__(self, count: int = 1):
        ctx = mp.get_context("spawn")   # fork would copy a live EGL context and torch's threads
        self._slots = ctx.Array("q", [NO_JOB, 0, 0])
        # A queue per helper, so each gets every job and warm-up; events come
        # back on a SimpleQueue, whose put is written before it returns: a
        # helper's reports are all readable once it has left a job.
        self._jobs = [ctx.Queue() for _ in range(count)]
        self._events = ctx.SimpleQueue()
        self._ids = itertools.count(1)
        self.broken: str | None = None    # why the helpers cannot be used any more
        self.last_export_frames: list[int] = []   # frames the helpers wrote in the latest export
        self._procs = [ctx.Process(target=_helper_main, args=(q, self._events, self._slots),
                                   name=f"posebooth-export-{i + 1}", daemon=True)
                       for i, q in enumerate(self._jobs)]
        for p in self._procs:
            p.start()

    @property
    def count(self) -> int:
        return len(self._procs)

    def warm(self, scene, body_for=None) -> int:
        """Load `scene`'s bodies and render one frame in every helper now
        (asynchronously), so an export starting later finds them ready.
        Returns the id `wait_warm` takes."""
        from posebooth.scene.io import scene_to_json

        wid = next(self._ids)
        for q in self._jobs:
            q.put(("warm", wid, scene_to_json(scene), _pickled(body_for)))
        return wid

    def wait_warm(self, warm_id: int, timeout: float = 300.0) -> None:
        """Block until every helper has finished warm-up `warm_id`."""
        ready = 0
        deadline = time.monotonic() + timeout
        while ready < self.count:
            kind, wid, payload = self._next_event(deadline)
            if kind == "error":
                raise _helper_error(payload)
            if kind == "warm" and wid == warm_id:
                ready += 1

    def start(self, scene, out_dir, chunks, *, passes, control_kinds, body_for, body_models,
              workers) -> "SharedExport | None":
        """Offer `chunks` of an export (whose writer has opened `out_dir`) to
        the helpers; returns the job for the calling process to claim chunks
        from too, or None when sharing is not worth it (one chunk) or the
        helpers cannot take it (they are broken, or body_for cannot be sent
        to another process, e.g. a lambda)."""
        from posebooth.scene.io import scene_to_json

        self.last_export_frames = []
        if self.broken is not None or not self._procs or len(chunks) < 2:
            return None
        try:
            body = _pickled(body_for)
        except (pickle.PicklingError, AttributeError, TypeError):
            return None
        if not self._wait_idle():
            return None
        job = _Job(next(self._ids), scene_to_json(scene), str(out_dir), [list(c) for c in chunks],
                   list(passes), list(control_kinds), body, list(body_models), int(workers))
        with _locked(self._slots):
            self._slots[_JOB], self._slots[_NEXT] = job.id, 0
        for q in self._jobs:
            q.put(("job", job))
        return SharedExport(self, job)

    def _wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait for the helpers to leave a cancelled job (they stop within a
        frame); False, and broken, if they do not."""
        deadline = time.monotonic() + timeout
        while self._slots[_ACTIVE] > 0:
            if time.monotonic() > deadline or not all(p.is_alive() for p in self._procs):
                self.broken = "an export helper did not stop"
                return False
            time.sleep(0.01)
        return True

    def _next_event(self, deadline: float | None = None, block: bool = True):
        """The next (kind, job id, payload) from a helper; None when not
        blocking and there is none. A dead helper is an ExportError."""
        from posebooth.export.files import ExportError

        while True:
            if not self._events.empty():
                return self._events.get()
            dead = [p for p in self._procs if not p.is_alive()]
            if dead:
                self.broken = (f"export helper process {dead[0].name} ended unexpectedly "
                               f"(exit code {dead[0].exitcode})")
                raise ExportError(f"{self.broken}. The frames written so far are kept: run the same "
                                  f"export again to finish it.")
            if not block:
                return None
            if deadline is not None and time.monotonic() > deadline:
                raise ExportError("the export helper processes did not answer in time")
            time.sleep(0.01)

    def close(self) -> None:
        try:
            with _locked(self._slots):
                self._slots[_JOB] = NO_JOB
        except Exception:   # a helper died holding the lock: it is stopped below anyway
            pass
        for q in self._jobs:
            try:
                q.put(None)
            except (ValueError, OSError):
                pass
        for p in self._procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self._procs = []
        for q in self._jobs:
            q.cancel_join_thread()   # a dead helper never reads what is left
            q.close()
        self._events.close()

    def __enter__(self) -> "ExportHelpers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SharedExport:
    """One export shared with the helpers, seen from the calling process."""

    def __init__(self, helpers: ExportHelpers, job: _Job):
        self._helpers, self.job = helpers, job
        self.claims = ChunkClaims(helpers._slots, job.id, len(job.chunks), helper=False)

    def written(self) -> list[tuple[int, dict]]:
        """(frame, sidecar arrays) of the frames the helpers have written
        since the last call; raises the first helper error as ExportError."""
        done = []
        while (ev := self._helpers._next_event(block=False)) is not None:
            kind, job_id, payload = ev
            if job_id != self.job.id:
                continue   # a late report of an earlier, cancelled job
            if kind == "rows":
                done.append(payload)
                self._helpers.last_export_frames.append(payload[0])
            elif kind == "error":
                self.cancel()
                raise _helper_error(payload)
        return done

    def wait(self, on_written=None) -> None:
        """After this process's last chunk: wait until the helpers have
        written theirs, passing written() to on_written as they come (a
        helper that dies is an ExportError, see _next_event)."""
        while True:
            done = self.written()
            if done and on_written is not None:
                on_written(done)
            if self._helpers._slots[_ACTIVE] == 0:
                break
            time.sleep(0.01)
        done = self.written()   # reports sent just before the helpers finished
        if done and on_written is not None:
            on_written(done)

    def cancel(self) -> None:
        """No more chunks for anyone; helpers stop within a frame."""
        with _locked(self._helpers._slots):
            if self._helpers._slots[_JOB] == self.job.id:
                self._helpers._slots[_JOB] = NO_JOB


@contextmanager
def _locked(slots, timeout: float = 30.0):
    """The slots' lock. Taken for microseconds, so a long wait means a helper
    was killed holding it: an error rather than a hang."""
    lock = slots.get_lock()
    if not lock.acquire(timeout=timeout):
        raise _helper_error("a helper process was stopped while holding the shared chunk counter; "
                            "run the same export again to finish it")
    try:
        yield
    finally:
        lock.release()


def _pickled(body_for) -> bytes:
    return pickle.dumps(body_for)


def _helper_error(text: str):
    from posebooth.export.files import ExportError

    return ExportError(f"an export helper process failed: {text}")


# -- the helper process -------------------------------------------------------
def _parent_alive() -> bool:
    parent = mp.parent_process()
    return parent is None or parent.is_alive()


def _next_job(jobs):
    """The next message, or None when told to stop or when the process that
    started this helper has died (killed, it never sends the stop)."""
    while True:
        try:
            return jobs.get(timeout=1.0)
        except queue.Empty:
            if not _parent_alive():
                return None


def _helper_main(jobs, events, slots) -> None:
    # Ctrl+C reaches the whole process group: the calling process handles it
    # and stops its helpers (close()); a helper must not die mid-frame.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    renderer = None
    prepared = False
    try:
        while (msg := _next_job(jobs)) is not None:
            kind, job_id = msg[0], (msg[1] if msg[0] == "warm" else msg[1].id)
            claims = None if kind == "warm" else ChunkClaims(slots, job_id, len(msg[1].chunks), helper=True)
            try:
                if claims is not None and claims.cancelled():
                    continue
                if renderer is None:
                    from posebooth.viewport.headless import HeadlessRenderer
                    renderer = HeadlessRenderer()
                if kind == "warm":
                    _warm(renderer, msg[2], pickle.loads(msg[3]))
                else:
                    _run_share(renderer, msg[1], claims, events)
                if not prepared:   # after the first body is built, as posebooth render does
                    from posebooth.export.process import prepare_export_process
                    prepare_export_process(with_model=False)
                    prepared = True
                if kind == "warm":
                    events.put(("warm", job_id, None))
            except BaseException as exc:  # reported to the calling process, which decides
                events.put(("error", job_id, f"{type(exc).__name__}: {exc}"))
            finally:
                if claims is not None:
                    claims.release()   # after any error report: see ExportHelpers.__init__
    finally:
        if renderer is not None:
            renderer.close()


def _warm(renderer, scene_json: str, body_for) -> None:
    from posebooth.assets.posing import pose_people
    from posebooth.frame.render import render_frame
    from posebooth.scene.io import scene_from_json
    from posebooth.scene.tracks import camera_at

    scene = scene_from_json(scene_json)
    frame = scene.timeline.start
    people = pose_people(scene, frame, body_for)
    render_frame(renderer, people, camera_at(scene.camera, frame), frame, passes=("rgb",))


def _run_share(renderer, job: _Job, claims: ChunkClaims, events) -> None:
    from posebooth.export.driver import export_chunks
    from posebooth.export.writer import DatasetWriter
    from posebooth.scene.io import scene_from_json

    scene = scene_from_json(job.scene_json)
    frames = [f for c in job.chunks for f in c]
    # Each frame's rows go back to the calling process once its files are
    # written, so the assembly need not read the sidecars back.
    writer = DatasetWriter(job.out_dir, scene, frames, job.passes, body_models=job.body_models,
                           control_kinds=job.control_kinds, workers=job.workers, share=True,
                           on_written=lambda f, rows: events.put(("rows", job.id, (f, rows))))
    try:
        export_chunks(scene, job.chunks, claims, writer, renderer, pickle.loads(job.body_for))
        writer.finish()
    except BaseException:
        writer.abort()
        raise
