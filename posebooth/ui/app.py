"""`posebooth gui`: the QApplication, the theme, the window, crash recovery."""
from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from posebooth.ui.settings import APP, ORG, Preferences, app_settings


def make_app(argv=None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName(APP)
    app.setOrganizationName(ORG)
    from posebooth import __version__
    app.setApplicationVersion(__version__)
    from posebooth.ui.theme import apply_theme
    apply_theme(app, Preferences.load(app_settings()).theme)
    return app


def run_app(scene_path=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = make_app()
    windows = []

    def open_window(body_error):
        from posebooth.ui.main_window import MainWindow
        window = MainWindow()
        windows.append(window)
        if scene_path:
            # A bad file shows the error and the window starts with a new scene.
            window.files.open_path(scene_path)
        window.show()
        if body_error:
            window.statusBar().showMessage(body_error)
        QTimer.singleShot(0, window.offer_recovery)  # once the window is up, so the question has a parent

    from posebooth.ui.body_warmup import BodyWarmup
    warmup = BodyWarmup(open_window)  # noqa: F841 (kept alive until the loop ends)
    return app.exec()
