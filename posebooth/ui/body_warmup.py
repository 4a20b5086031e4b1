"""Build the default body before the window needs it, with a progress dialog.

anny's first construction takes about a minute (later ones under a second);
doing it on a worker thread keeps the app responsive and shows the user why
the first start is slow, instead of a frozen window.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QEventLoop, QTimer, Qt
from PySide6.QtWidgets import QProgressDialog, QWidget


def warm_up_default_body(parent: QWidget | None = None, build=None) -> str | None:
    """Build the anny body on a thread; returns an error message or None."""
    if build is None:
        from posebooth.assets.anny_body import get_anny_body as build
    result: dict = {}

    def work():
        try:
            build()
        except Exception as exc:  # reported to the user, the app still starts
            result["error"] = f"The body model could not be prepared: {exc}"

    thread = threading.Thread(target=work, name="body-warmup", daemon=True)
    thread.start()
    dialog = QProgressDialog("Preparing the body model (first run takes about a minute)…", None, 0, 0, parent)
    dialog.setWindowTitle("PoseBooth")
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
    dialog.setMinimumDuration(700)  # a warm start (< 1 s) shows nothing
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: None if thread.is_alive() else loop.quit())
    timer.start(50)
    if thread.is_alive():
        loop.exec()
    timer.stop()
    dialog.close()
    return result.get("error")
