"""`posebooth gui`: the QApplication, the theme, the window, crash recovery.

Start-up order: the body model starts building on a worker thread at once
(importing torch there); meanwhile the GUI thread builds the window, hidden,
and opens the scene named on the command line; the window is shown when the
body is ready, so its first frame already shows the people. When that first
frame was kept by an earlier start (ui.quick_start), the window is shown as
soon as it is built, drawing the kept meshes, and the body builds after its
first frame is on screen. A start-up scene that cannot be opened, for any
reason, leaves a new scene in the window and a message box saying why, once
the window is up.
"""
from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from posebooth.ui import startup_probe
from posebooth.ui.settings import APP, ORG, Preferences, app_settings


def make_app(argv=None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName(APP)
    app.setOrganizationName(ORG)
    from posebooth import __version__
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("posebooth")   # Wayland/X11 match the window to packaging/posebooth.desktop
    from posebooth.ui.theme import apply_theme
    apply_theme(app, Preferences.load(app_settings()).theme)
    return app


def app_icon():
    """The app icon, every shipped size (the window, the task bar, the about box)."""
    from importlib import resources

    from PySide6.QtGui import QIcon
    folder = resources.files("posebooth").joinpath("resources", "app")
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        icon.addFile(str(folder.joinpath(f"posebooth-{size}.png")))
    return icon


def _main_window():
    from posebooth.ui.main_window import MainWindow
    return MainWindow()


def run_app(scene_path=None, window_factory=None, build_body=None) -> int:
    """Run the app until its window closes. `window_factory` and `build_body`
    replace the MainWindow and the anny build (tests: fake body, no GL)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # PySide6's import hook inspects every module imported after it, which
    # touches pydantic's lazy attributes; were pydantic's validators first
    # imported on the body thread meanwhile, Python's deadlock avoidance
    # would hand one thread the half-imported module (an ImportError seen
    # at start-up). Import them here, before any second thread starts.
    import pydantic._internal._validators  # noqa: F401
    import pydantic.errors  # noqa: F401
    app = make_app()
    startup_probe.mark("app")
    from posebooth.ui import quick_start
    from posebooth.ui.body_warmup import BodyWarmup
    real_body = build_body is None and window_factory is None   # kept frames are the real anny's only
    kept = quick_start.find_kept_frame(scene_path) if real_body else None
    started: dict = {}
    warmups: list = []   # kept alive until the loop ends

    def start_body():
        if not warmups:
            warmups.append(BodyWarmup(body_ready, build=build_body))

    def show_when_ready():
        """Called when the body is built and when the window is: shows it after
        both, or at once when the window starts on a kept frame."""
        if "window" not in started or started.get("shown"):
            return
        if "body_error" not in started and not started["kept"]:
            return
        window, started["shown"] = started["window"], True
        window.show()
        if startup_probe.enabled():
            startup_probe.StartupProbe(window)
        if started.get("body_error"):
            window.statusBar().showMessage(started["body_error"])
        if started["kept"]:
            quick_start.after_first_paint(window, start_body)
        QTimer.singleShot(0, lambda: _after_show(window, started["open_error"]))

    def body_ready(error):
        started["body_error"] = error
        startup_probe.mark("body_ready")
        window = started.get("window")
        if started.get("kept"):
            window.doc.body_arrived()
            if error:
                window.statusBar().showMessage(error)
            return
        show_when_ready()
        if real_body and not error:
            QTimer.singleShot(0, lambda: quick_start.keep_first_frame(window.doc))

    if kept is None:
        start_body()   # builds while the window does
    window = (window_factory or _main_window)()
    started["open_error"] = window.files.open_start_scene(scene_path) if scene_path else None
    started["kept"] = kept is not None and quick_start.use_kept_frame(window.doc, kept)
    if kept is not None and not started["kept"]:
        start_body()
    if startup_probe.enabled():
        print(f"posebooth-startup-first-frame {'kept' if started['kept'] else 'posed'}", file=sys.stderr, flush=True)
    started["window"] = window
    startup_probe.mark("window_built")
    show_when_ready()
    return app.exec()


def _after_show(window, open_error: str | None) -> None:
    """Questions that need the window as their parent, one after the other."""
    if open_error:
        from posebooth.ui import dialogs
        dialogs.show_error(window, "Cannot open scene", open_error)
    window.offer_recovery()
