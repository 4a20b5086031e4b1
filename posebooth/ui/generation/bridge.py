"""The Qt bridge to the generation worker (pipeline.worker.GenerationWorker).

The worker's callbacks run on its own thread; here each one only emits a Qt
signal. The bridge lives on the GUI thread, so Qt queues those emissions to
the GUI thread (AutoConnection across threads) and no widget is ever touched
from the worker. Requests go the other way through `submit` / `load` /
`cancel`, which only take the worker's queue lock and return at once.

The worker (and with it torch) is created on first use; `warm_up()` imports
torch on a background thread beforehand so the first Load does not freeze
the GUI for the ~2 s import.
"""
from __future__ import annotations

import os
import threading
from typing import Callable

from PySide6.QtCore import QCoreApplication, QObject, Signal


def _worker_class():
    """Imported lazily: importing pipeline.worker imports torch."""
    from posebooth.pipeline.worker import GenerationWorker

    return GenerationWorker


class GenerationBridge(QObject):
    loading = Signal(float, str)          # progress in [0, 1], message
    # dict (export.generator.model_info) of the backend now loaded; None when a load failed
    # after the previous model had been freed (no model is loaded any more)
    modelLoaded = Signal(object)
    progress = Signal(str, int, int)      # request id, step, total
    preview = Signal(str, int, object)    # request id, step, HxWx3 uint8 numpy image
    result = Signal(object)               # pipeline.request.GenerationResult
    error = Signal(object, str)           # request / load id (None: not tied to one), message
    cancelled = Signal(str)               # request id

    def __init__(self, parent=None, loader: Callable | None = None, cpu_threads: int | None = None):
        super().__init__(parent)
        self._loader = loader
        # On the CPU torch's threads take every core; leave one to the GUI thread so the
        # event loop keeps running while a model generates (2-core machines stall otherwise).
        self._cpu_threads = cpu_threads if cpu_threads is not None else max(1, (os.cpu_count() or 2) - 1)
        self._worker = None
        self._lock = threading.Lock()
        self.model: dict | None = None    # info on the loaded model (GUI thread copy)
        self.load_id: str | None = None   # id of the latest load job
        self.modelLoaded.connect(self._set_model)  # queued: runs on the GUI thread
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ---- worker lifetime ---------------------------------------------------------------
    @staticmethod
    def warm_up() -> threading.Thread:
        """Import torch and the worker on a background thread (first Load is then instant)."""
        t = threading.Thread(target=_worker_class, name="posebooth-warm-up", daemon=True)
        t.start()
        return t

    @property
    def worker(self):
        with self._lock:
            if self._worker is None:
                self._worker = _worker_class()(
                    on_loading=self.loading.emit, on_progress=self.progress.emit, on_preview=self.preview.emit,
                    on_result=self.result.emit, on_error=self.error.emit, on_cancelled=self.cancelled.emit,
                    loader=self._load)
            return self._worker

    @property
    def started(self) -> bool:
        return self._worker is not None

    def shutdown(self) -> None:
        """Cancel everything and stop the worker thread (app quit, panel closed); idempotent."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(timeout=10.0)

    # ---- requests (any thread) -----------------------------------------------------------
    def load(self, source: str, options=None) -> str:
        """options: pipeline.loading.LoadOptions, or a dict of its fields (built on the worker
        thread, so the GUI thread never imports torch for it)."""
        self.load_id = self.worker.load(source, options)
        return self.load_id

    def submit(self, request, live: bool = False) -> str:
        return self.worker.submit(request, live=live)

    def cancel(self, request_id: str | None = None) -> None:
        if self._worker is not None:
            self._worker.cancel(request_id)

    def wait_idle(self, timeout: float | None = None) -> bool:
        return True if self._worker is None else self._worker.wait_idle(timeout)

    def _set_model(self, info: dict) -> None:
        self.model = info

    # ---- worker thread -------------------------------------------------------------------
    def _load(self, source, options, on_progress=None, before_weights=None):
        from posebooth.export.generator import model_info
        from posebooth.pipeline.loading import LoadOptions, load_backend

        if isinstance(options, dict):
            options = LoadOptions(**options)
        freed = []

        def free_previous():
            freed.append(True)
            if before_weights is not None:
                before_weights()
        try:
            backend = (self._loader or load_backend)(source, options, on_progress=on_progress,
                                                     before_weights=free_previous)
        except BaseException:
            if freed:   # the file checks passed, the old model is gone, the new one failed
                self.modelLoaded.emit(None)
            raise
        if getattr(backend, "device", None) is not None and backend.device.type == "cpu":
            import torch

            torch.set_num_threads(self._cpu_threads)
        info = model_info(backend, source)
        self.modelLoaded.emit(info)
        return backend


