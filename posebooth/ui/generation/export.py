"""Export frame / clip from the app: the dataset format (FORMAT.md) with the
loaded model, off the GUI thread, with a progress dialog and Cancel.

An `ExportJob` runs export.driver.export_scene on a plain thread (posing,
rendering through the shared HeadlessRenderer, annotating, writing). Its
generator is export.generator.SceneGenerator, the one `posebooth render
--model` uses; each frame is one step of the clip, run as a job on the
generation worker (which owns the pipeline) through its public `call`, and
the export thread waits for that job's future. Interactive requests made
meanwhile run between two frames.
"""
from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget

from posebooth.export.generator import WorkerSteps, worker_generator
from posebooth.frame.sizes import generation_size
from posebooth.pipeline.errors import GenerationCancelled


def ask_export_folder(parent: QWidget | None, title: str) -> str | None:
    """A folder for the dataset (module attribute: tests replace it)."""
    path = QFileDialog.getExistingDirectory(parent, title)
    return path or None


class ThreadedExport(QObject):
    """export.driver.export_scene on a plain thread with progress signals;
    subclasses say how (`_run`). `cancel` sets `_cancel`."""

    progress = Signal(int, int)      # frames done, frames to do
    finished = Signal(object)        # dataset.json's dict
    failed = Signal(str)
    cancelled = Signal()
    thread_name = "posebooth-export"

    def __init__(self, out_dir, frames, parent=None):
        super().__init__(parent)
        self.out_dir, self.frames = Path(out_dir), list(frames)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _frame_written(self, frame) -> None:
        self._done += 1
        self.progress.emit(self._done, len(self.frames))

    def _run(self) -> None:
        raise NotImplementedError


class ExportJob(ThreadedExport):
    def __init__(self, bridge, scene, out_dir, frames, *, model: dict, renderer_provider, body_for,
                 seed: int | None = None, strategy: str | None = None, parent=None):
        super().__init__(out_dir, frames, parent)
        self.bridge = bridge
        self.scene = scene.model_copy(deep=True)   # a snapshot: later edits do not reach the export
        self.model = dict(model)
        self.renderer_provider, self.body_for = renderer_provider, body_for
        self.seed, self.strategy = seed, strategy
        w, h = self.scene.camera.width, self.scene.camera.height
        self.size = generation_size(w, h)   # diffusion needs multiples of 8
        self.resized = self.size != (w, h)
        self.steps: WorkerSteps | None = None

    def cancel(self) -> None:
        """Stop within one denoising step; the folder keeps the finished frames (resumable)."""
        super().cancel()
        if self.steps is not None:
            self.steps.cancel()

    def _run(self) -> None:
        from posebooth.export.driver import export_scene

        generator, self.steps = worker_generator(self.bridge.worker, self.scene.generation, self.model,
                                                 seed=self.seed, strategy=self.strategy)
        try:
            if self._cancel.is_set():
                self.cancel()
            manifest = export_scene(self.scene, self.out_dir, frames=self.frames,
                                    size=self.size if self.resized else None,
                                    generator=generator, renderer=self.renderer_provider(),
                                    body_for=self.body_for, progress=False, on_frame=self._frame_written)
        except Exception as exc:  # export errors (folder, disk), pipeline errors: a message
            self.steps.cancel()       # a frame still generating is not wanted any more
            if self._cancel.is_set() or isinstance(exc, GenerationCancelled):
                self.cancelled.emit()
            else:
                self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.finished.emit(manifest)
        finally:
            generator.close()


class ExportProgress(QProgressDialog):
    """Window-modal progress for an ExportJob; Cancel cancels the job."""

    def __init__(self, job: ExportJob, title: str, parent=None):
        super().__init__(f"{title}…", "Cancel", 0, max(1, len(job.frames)), parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.job = job
        note = f" at {job.size[0]}×{job.size[1]} (multiples of 8)" if job.resized else ""
        self.setLabelText(f"Generating {len(job.frames)} frame(s) into {job.out_dir}{note}…")
        self.canceled.connect(job.cancel)
        job.progress.connect(self._on_progress)
        for sig in (job.finished, job.failed, job.cancelled):
            sig.connect(self._close)

    def _on_progress(self, done: int, total: int) -> None:
        self.setValue(done)
        self.setLabelText(f"Frame {done} of {total} written to {self.job.out_dir}")

    def _close(self, *args) -> None:
        try:
            self.canceled.disconnect(self.job.cancel)
        except (RuntimeError, TypeError):
            pass
        self.reset()
        self.hide()
        self.deleteLater()
