"""Issue 14, "what a new user ran into": the viewport drew without the bodies
while a modal dialog was open.

The real window, the real GL viewport and the real anny body; the dialogs the
app itself opens (message box, Keyboard Shortcuts, Preferences with a theme
change, Export Maps, the file dialog, the window-modal export progress, the
start-up error box, the generation panel's window-modal error). While each is open the test reads the viewport twice:
its framebuffer (what paintGL draws now) and the screen (what the user sees,
outside the dialog), and compares the bodies' pixels with the same reads
without a dialog. "Body pixels" are those that differ from the viewport with
the bodies left out, so a viewport missing its bodies fails either read.
Also: a scene opened just before a dialog (no paint in between), the window
resized and the playhead moved under one, playback under the export progress
(the GUI and the export thread posing the same body at once).

Not reproduced on Xvfb (Mesa llvmpipe, Qt 6.11): these tests guard the paths.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QRect, QTimer
from PySide6.QtGui import QGuiApplication, QImage, QPalette
from PySide6.QtWidgets import QApplication, QDockWidget

from posebooth.assets.starter import starter_scene
from posebooth.ui import dialogs as dialogs_mod
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = [pytest.mark.gl, pytest.mark.gui]

# The real blocking dialogs, taken before ui_support's `dialogs` fixture replaces them with recorders.
REAL_DIALOGS = {name: getattr(dialogs_mod, name) for name in ("show_error", "get_open_path")}
BODY_DIFF = 40          # summed |RGB| difference that makes a pixel a body pixel
MIN_BODY_SHARE = 0.02   # the bodies cover at least this share of the viewport
AGREE = 0.97            # body pixels with a dialog open / without: intersection over union


@pytest.fixture(scope="module")
def body():
    pytest.importorskip("anny")
    from posebooth.assets.registry import get_body
    from posebooth.scene.model import BodySpec
    return get_body(BodySpec())


@pytest.fixture
def window(make_window, body, qtbot):
    win = make_window(scene=starter_scene(people=2, preset="walking", frames=24), real_viewport=True,
                      body_for=lambda spec: body)
    _fit_on_screen(win, qtbot)
    return win


def _fit_on_screen(win, qtbot) -> None:
    """As much of the viewport as fits on Xvfb's small screen, so the screen can be read: side docks hidden."""
    for dock in win.findChildren(QDockWidget):
        if dock is not win.timeline_dock:
            dock.hide()
    avail = QGuiApplication.primaryScreen().availableGeometry()
    win.move(avail.topLeft())
    win.resize(avail.width(), avail.height())
    vp = win.viewport
    qtbot.waitUntil(lambda: not vp.grabFramebuffer().isNull(), timeout=10_000)
    if vp.gl_error:
        pytest.skip(f"no usable OpenGL here: {vp.gl_error}")


# ---- reading pixels -----------------------------------------------------------------------------
def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(h, image.bytesPerLine())
    return rows[:, :3 * w].reshape(h, w, 3).copy()


def framebuffer(vp) -> np.ndarray:
    return _rgb(vp.grabFramebuffer())


def visible_rect(vp) -> QRect:
    """The part of the viewport on the screen, in the viewport's coordinates
    (the window can be wider than Xvfb's small screen)."""
    screen = vp.screen().geometry()
    return QRect(vp.mapFromGlobal(screen.topLeft()), screen.size()).intersected(vp.rect())


def on_screen(vp) -> np.ndarray:
    """The viewport as the X server shows it (dialogs included); black where off the screen."""
    r = visible_rect(vp)
    top_left = vp.mapToGlobal(r.topLeft())
    part = _rgb(vp.screen().grabWindow(0, top_left.x(), top_left.y(), r.width(), r.height()).toImage())
    out = np.zeros((vp.height(), vp.width(), 3), np.uint8)
    out[r.top():r.top() + part.shape[0], r.left():r.left() + part.shape[1]] = part
    return out


def body_pixels(image: np.ndarray, empty: np.ndarray) -> np.ndarray:
    return np.abs(image.astype(np.int16) - empty.astype(np.int16)).sum(-1) > BODY_DIFF


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(1, int((a | b).sum()))


class Reference:
    """The viewport without a dialog, with and without its bodies (framebuffer and screen)."""

    def __init__(self, win, qtbot, screen: bool = True):
        vp = self.vp = win.viewport
        self.shown, self.shown_screen = self._read(qtbot)
        real = vp._posed
        vp._posed = lambda: []   # the same view, grid and frustum with the bodies left out
        try:
            self.empty, self.empty_screen = self._read(qtbot)
        finally:
            del vp._posed
            assert vp._posed == real
        self._read(qtbot)
        self.bodies = body_pixels(self.shown, self.empty)
        self.bodies_screen = body_pixels(self.shown_screen, self.empty_screen)
        assert self.bodies.mean() > MIN_BODY_SHARE, "no bodies in the viewport to begin with"
        # On a 16-bit X screen Qt composites the GL widget as black (the suite's Xvfb is 24-bit: pyproject).
        self.screen_ok = screen and vp.screen().depth() >= 24
        if self.screen_ok:
            r, self.visible = visible_rect(vp), np.zeros(self.bodies.shape, bool)
            self.visible[r.top():r.bottom() + 1, r.left():r.right() + 1] = True
            assert agreement(self.bodies_screen, self.bodies & self.visible) > AGREE, \
                "the screen does not show the framebuffer"

    def _read(self, qtbot):
        with qtbot.waitSignal(self.vp.frameSwapped, timeout=5000):
            self.vp.update()
        qtbot.wait(50)   # the X server has the flushed window
        return framebuffer(self.vp), on_screen(self.vp)

    def check_framebuffer(self, image: np.ndarray, what: str) -> None:
        got = body_pixels(image, self.empty)
        assert agreement(got, self.bodies) > AGREE, (
            f"{what}: the viewport's bodies ({got.sum()} px) differ from those without a dialog "
            f"({self.bodies.sum()} px)")

    def check_screen(self, image: np.ndarray, dialog_rect: QRect, what: str, parked: bool = True) -> None:
        """The screen outside the dialog shows the same bodies as without it.
        A dialog where the app put it may hide most bodies (then there is
        little to compare); a parked one (park_dialog) may not."""
        if not self.screen_ok:
            return
        keep = np.ones(self.bodies.shape, bool)
        r = dialog_rect.intersected(self.vp.rect())
        if not r.isEmpty():
            keep[r.top():r.bottom() + 1, r.left():r.right() + 1] = False
        want, got = self.bodies_screen & keep, body_pixels(image, self.empty_screen) & keep
        if want.sum() < 0.5 * self.bodies_screen.sum():
            assert not parked, f"{what}: the parked dialog still hides most of the bodies"
            return
        assert agreement(got, want) > AGREE, (
            f"{what}: on screen, the viewport outside the dialog shows {got.sum()} body pixels, "
            f"{want.sum()} without a dialog")


# ---- running a dialog the way the app does -----------------------------------------------------
def while_modal(qtbot, open_dialog, inspect, close=lambda dlg: dlg.reject(), timeout=10_000) -> str:
    """Call `open_dialog()` (an app action that opens a modal dialog, usually
    blocking in its exec()); once the dialog is on screen call
    `inspect(dialog)`, then `close(dialog)`. Failures inside the dialog's
    event loop are raised here, after it closed. Returns the dialog's class name."""
    state: dict = {"polls": timeout // 20}

    def poll():
        dlg = QApplication.activeModalWidget()
        if dlg is None or not dlg.isVisible() or dlg.windowHandle() is None or not dlg.windowHandle().isExposed():
            state["polls"] -= 1
            if state["polls"] > 0:   # no dialog came: stop asking (waitUntil below fails)
                QTimer.singleShot(20, poll)
            return
        state["kind"] = type(dlg).__name__
        try:
            qtbot.wait(50)   # the dialog's own first paint, and whatever it made the window do
            inspect(dlg)
        except BaseException as exc:  # noqa: BLE001 - re-raised after the dialog closed
            state["error"] = exc
        finally:
            state["closed"] = True
            close(dlg)

    QTimer.singleShot(0, poll)
    open_dialog()
    qtbot.waitUntil(lambda: state.get("closed", False), timeout=timeout)
    if "error" in state:
        raise state["error"]
    return state["kind"]


def _dialog_rect(vp, dlg) -> QRect:
    """The dialog's frame in the viewport's coordinates."""
    g = dlg.frameGeometry()
    return QRect(vp.mapFromGlobal(g.topLeft()), g.size())


def park_dialog(dlg) -> None:
    """Leave only the dialog's corner on the screen, at its bottom right, clear of the bodies."""
    screen = dlg.screen().geometry()
    dlg.move(screen.right() - 120, screen.bottom() - 80)


def inspect_both(ref, qtbot, what):
    def inspect(dlg):
        vp = ref.vp
        ref.check_screen(on_screen(vp), _dialog_rect(vp, dlg), what, parked=False)
        # Dragged over the viewport and away again: the uncovered part is exposed and shown anew.
        dlg.move(vp.mapToGlobal(vp.rect().center()) - dlg.rect().center())
        qtbot.wait(50)
        park_dialog(dlg)
        qtbot.wait(80)
        ref.check_screen(on_screen(vp), _dialog_rect(vp, dlg), f"{what}, after moving the dialog over it")
        ref.check_framebuffer(framebuffer(vp), what)
    return inspect


# ---- tests ----------------------------------------------------------------------------------------
def test_bodies_stay_while_the_apps_dialogs_are_open(window, qtbot, monkeypatch, tmp_path):
    """Each dialog of the app's menus over the same view; then a scene opened
    just before a dialog (no paint in between), the window resized and the
    playhead moved while one is open; last, Preferences changing the theme."""
    from posebooth.scene.io import save_scene
    from posebooth.ui import map_export
    from posebooth.ui.generation.panel import notify_error

    win, vp, ref = window, window.viewport, Reference(window, qtbot)
    # The checks can fail: the empty viewport is clearly different.
    with pytest.raises(AssertionError, match="differ from those without a dialog"):
        ref.check_framebuffer(ref.empty, "empty viewport")
    if ref.screen_ok:
        with pytest.raises(AssertionError, match="body pixels"):
            ref.check_screen(ref.empty_screen, QRect(), "empty viewport")

    monkeypatch.setattr(dialogs_mod, "show_error", REAL_DIALOGS["show_error"])
    monkeypatch.setattr(dialogs_mod, "get_open_path", REAL_DIALOGS["get_open_path"])
    opened = {   # what the user does -> the dialog class it opens
        "message box": (lambda: dialogs_mod.show_error(win, "Cannot open scene", "scene.json: not valid JSON"),
                        "QMessageBox"),
        "keyboard shortcuts": (win.show_shortcuts, "ShortcutsDialog"),
        "export maps": (lambda: map_export.export_maps(win), "MapsExportDialog"),
        "file dialog": (lambda: win.files.open(), "QFileDialog"),
        "about": (win.show_about, "QMessageBox"),
        # window-modal and not blocking (box.open()): a model that failed to load
        "generation error": (lambda: notify_error(win, "Cannot load the model", "model.safetensors: not a model"),
                             "QMessageBox"),
    }
    for what, (open_dialog, kind) in opened.items():
        assert while_modal(qtbot, open_dialog, inspect_both(ref, qtbot, what)) == kind
    assert not win.doc.is_modified() and getattr(win, "maps_job", None) is None

    path = tmp_path / "sitting.json"
    save_scene(starter_scene(people=2, preset="sitting", frames=24), path)
    seen: dict = {}
    while_modal(qtbot, lambda: (win.files.open_path(path), dialogs_mod.show_error(win, "Next", "a dialog")),
                lambda dlg: seen.setdefault("opened", framebuffer(vp)))
    Reference(win, qtbot).check_framebuffer(seen["opened"], "scene opened just before the dialog")

    size = win.size()

    def resize_and_scrub(dlg):
        win.resize(size.width() - 120, size.height() - 60)
        win.doc.set_frame(7)
        qtbot.waitUntil(lambda: vp.width() < size.width() - 100, timeout=5000)
        seen["resized"] = framebuffer(vp)
    while_modal(qtbot, lambda: dialogs_mod.show_error(win, "Resize", "a dialog"), resize_and_scrub)
    assert win.doc.frame == 7
    Reference(win, qtbot).check_framebuffer(seen["resized"], "window resized and frame changed under the dialog")

    def other_theme(dlg):   # a theme change restyles every widget, the viewport's parents too
        dlg.theme.setCurrentIndex(dlg.theme.findData("light" if win.prefs.theme == "dark" else "dark"))
        dlg.accept()
    theme, app = win.prefs.theme, QApplication.instance()
    look = (app.style().name(), QPalette(app.palette()), app.styleSheet(), app.property("posebooth_dark"))
    try:
        ref = Reference(win, qtbot)
        assert while_modal(qtbot, win.show_preferences, inspect_both(ref, qtbot, "preferences"),
                           close=other_theme) == "PreferencesDialog"
        assert win.prefs.theme != theme
        Reference(win, qtbot)   # bodies still drawn in the new theme (which resized the viewport: no comparison)
    finally:   # the app's look outlives this test: put it back as it was
        win.apply_preferences(replace(win.prefs, theme=theme))
        app.setStyle(look[0])
        app.setPalette(look[1])
        app.setStyleSheet(look[2])
        app.setProperty("posebooth_dark", look[3])


def test_bodies_while_the_export_progress_is_open_and_playing(window, qtbot, monkeypatch, tmp_path):
    """Export Maps' window-modal progress (shown, not exec'd) while its thread
    poses and renders the same body; then playback runs under it, so the GUI
    poses that body too, at the same time as the export."""
    from posebooth.ui import map_export

    win, vp, ref = window, window.viewport, Reference(window, qtbot)
    monkeypatch.setattr(map_export, "ask_maps_export",   # more frames than the checks take; cancelled after them
                        lambda parent, doc: map_export.MapsExport(str(tmp_path / "maps"), list(range(0, 24))))
    played: list = []

    def inspect(dlg):
        inspect_both(ref, qtbot, "export progress")(dlg)
        win.timeline.playback.play()
        for _ in range(2):
            qtbot.waitUntil(lambda: win.doc.frame not in [f for f, _ in played], timeout=5000)
            played.append((win.doc.frame, framebuffer(vp)))   # grabFramebuffer paints the frame it reads
            assert vp.pose_error is None, vp.pose_error
        win.timeline.playback.stop()

    job = map_export.export_maps(win)
    assert job is not None
    ended: list = []
    job.cancelled.connect(lambda: ended.append("cancelled"))
    job.finished.connect(lambda manifest: ended.append("finished"))
    assert while_modal(qtbot, lambda: None, inspect, close=lambda dlg: job.cancel()) == "ExportProgress"
    qtbot.waitUntil(lambda: win.maps_job is None, timeout=60_000)
    assert ended == ["cancelled"], "the export ended before the checks: they ran without its thread"
    for frame, image in played:
        win.doc.set_frame(frame)
        Reference(win, qtbot).check_framebuffer(image, f"frame {frame} played under the export progress")


def test_bodies_under_the_start_up_error_box(make_window, body, qtbot, monkeypatch):
    """The app's start path: the window shown, then at once (a zero-delay
    timer, app._after_show) the box saying why the start-up scene failed."""
    from posebooth.ui import app as app_mod

    monkeypatch.setattr(dialogs_mod, "show_error", REAL_DIALOGS["show_error"])
    win = make_window(scene=starter_scene(people=2, preset="walking"), real_viewport=True,
                      body_for=lambda spec: body, show=False)
    seen: dict = {}

    def grab_when_drawn(dlg):
        vp = win.viewport
        qtbot.waitUntil(lambda: not vp.grabFramebuffer().isNull(), timeout=10_000)
        park_dialog(dlg)
        qtbot.wait(80)
        seen.update(start=framebuffer(vp), screen=on_screen(vp), size=vp.size(), dialog=_dialog_rect(vp, dlg))

    def start():
        win.show()
        QTimer.singleShot(0, lambda: app_mod._after_show(win, "scene.json: not valid JSON"))
    assert while_modal(qtbot, start, grab_when_drawn) == "QMessageBox"
    assert win.viewport.size() == seen["size"]
    ref = Reference(win, qtbot)   # the default layout: the viewport partly off Xvfb's small screen
    ref.check_framebuffer(seen["start"], "start-up error box")
    ref.check_screen(seen["screen"], seen["dialog"], "start-up error box")
