"""Build the default body before the window needs it, with a progress dialog.

anny's first construction takes about a minute (later ones under a second);
doing it on a worker thread inside the running event loop keeps the app
responsive and shows the user why the first start is slow, instead of a
frozen or missing window. No nested event loop: quitting meanwhile just works.
"""
from __future__ import annotations

import threading
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Qt
from PySide6.QtWidgets import QProgressDialog

SHOW_AFTER_MS = 1000  # a cached body builds in about a second: no dialog for that


class BodyWarmup(QObject):
    """Runs `build` on a thread; calls `on_done(error_message_or_None)` on the
    GUI thread when it finishes. Shows a busy dialog if it takes a while."""

    def __init__(self, on_done: Callable[[str | None], None], build=None, parent=None):
        super().__init__(parent)
        if build is None:
            from posebooth.assets.anny_body import get_anny_body as build
        self._on_done, self._error = on_done, None
        self._dialog: QProgressDialog | None = None
        self._thread = threading.Thread(target=self._work, args=(build,), name="body-warmup", daemon=True)
        self._poll = QTimer(self)
        self._poll.timeout.connect(self._check)
        self._thread.start()
        self._poll.start(50)
        QTimer.singleShot(SHOW_AFTER_MS, self._show_dialog)

    def _work(self, build):
        try:
            build()
        except Exception as exc:  # reported to the user, the app still starts
            self._error = f"The body model could not be prepared: {exc}"

    def _show_dialog(self):
        if not self._thread.is_alive() or self._dialog is not None:
            return
        self._dialog = QProgressDialog("Preparing the body model (first run takes about a minute)…",
                                       None, 0, 0)
        self._dialog.setWindowTitle("PoseBooth")
        self._dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
        self._dialog.setMinimumDuration(0)
        self._dialog.show()

    def _check(self):
        if self._thread.is_alive():
            return
        self._poll.stop()
        if self._dialog is not None:
            self._dialog.close()
        self._on_done(self._error)
