"""Build the default body before the window needs it, off the GUI thread.

anny's first construction takes about a minute; with its cache warm, about a
second (most of it importing torch, which happens here too, on the worker
thread, while the GUI thread builds the window). The progress dialog is for
the cold case only: it shows at once when the anny cache has no model data,
and otherwise only if a "warm" build turns out to take far longer than one
does (a stale cache). No nested event loop: quitting meanwhile just works.
"""
from __future__ import annotations

import threading
from typing import Callable

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Qt, Signal
from PySide6.QtWidgets import QProgressDialog

QUIT_WAIT_S = 5.0      # enough for a warm build; a cold one (a minute) is not waited for
STALE_AFTER_MS = 8000  # a warm build takes ~1 s (2-3 s on a busy 2-core machine)
COLD_MESSAGE = "Preparing the body model (first run takes about a minute)…"


def anny_cache_is_warm() -> bool:
    """A warm construction reads only the compact model data file (the rest of a
    build is deleted: assets.anny_body.prune_build_files); without it, anny builds."""
    from posebooth.assets.cache import anny_cache_dir
    try:
        return any(anny_cache_dir().rglob("build_compact_model_data_*.safetensors"))
    except OSError:
        return False


def _build_default_body() -> None:
    import numpy as np

    from posebooth.assets.torch_preload import preload_torch_libraries
    preload_torch_libraries()   # the loader's share of importing torch, without holding the GIL
    from posebooth.assets.anny_body import get_anny_body   # imports torch: on the worker thread
    from posebooth.viewport.renderer import closed_outward_cached

    body = get_anny_body()
    # The renderer's per-topology mesh check, done here rather than in the first paint.
    rest = body.forward(np.zeros((1, 3), np.float32), np.zeros((1, 23, 3), np.float32), np.zeros((1, 3), np.float32))
    closed_outward_cached(body.faces, np.asarray(rest.vertices[0]))


class BodyWarmup(QObject):
    """Runs `build` on a thread; calls `on_done(error_message_or_None)` on the
    GUI thread when it finishes. `cold`: show the progress dialog at once
    (default: when `build` is the default and the anny cache is cold)."""

    _finished = Signal()   # emitted on the worker thread, delivered (queued) on the GUI thread

    def __init__(self, on_done: Callable[[str | None], None], build=None, cold: bool | None = None, parent=None):
        super().__init__(parent)
        if cold is None:
            cold = build is None and not anny_cache_is_warm()
        self._on_done, self._error, self._done = on_done, None, False
        self._dialog: QProgressDialog | None = None
        self._finished.connect(self._finish, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._work, args=(build or _build_default_body,),
                                        name="body-warmup", daemon=True)
        self._thread.start()
        QTimer.singleShot(0 if cold else STALE_AFTER_MS, self._show_dialog)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._let_build_finish)

    def _let_build_finish(self):
        """Quitting while the body builds: let the build finish first (a second
        or two when warm), rather than tear the interpreter down under a
        thread that is still loading torch's libraries."""
        self._thread.join(QUIT_WAIT_S)

    @property
    def done(self) -> bool:
        return self._done

    def _work(self, build):
        try:
            build()
        except Exception as exc:  # reported to the user, the app still starts
            self._error = f"The body model could not be prepared: {exc}"
        try:
            self._finished.emit()
        except RuntimeError:  # the warm-up object is gone (the app quit meanwhile)
            pass

    def _show_dialog(self):
        if self._done or self._dialog is not None:
            return
        self._dialog = QProgressDialog(COLD_MESSAGE, None, 0, 0)
        self._dialog.setWindowTitle("PoseBooth")
        self._dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
        self._dialog.setMinimumDuration(0)
        self._dialog.show()

    def _finish(self):
        self._done = True
        if self._dialog is not None:
            self._dialog.close()
        self._on_done(self._error)
