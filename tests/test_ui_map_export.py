"""File → Export Maps… and Copy Map with no diffusion model loaded: the app
writes the same files as `posebooth render` (its entry point, cli.main)
for that frame, byte for byte, and the clipboard holds the chosen map's
pixels."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posebooth.assets.starter import starter_scene
from posebooth.scene.io import save_scene
from posebooth.scene.model import ControlSetting
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = [pytest.mark.gui, pytest.mark.gl]
KINDS = ("depth", "openpose", "normal")
PASSES = ("render", "depth", "normal", "parts", "mask")
FRAME = 2


def _scene():
    scene = starter_scene(people=2, frames=4, width=64, height=48, preset="walking")
    scene.generation.controls = [ControlSetting(kind=k) for k in KINDS]
    first = scene.people[0].keys[0]
    scene.people[0].keys.append(first.model_copy(update={"frame": 3, "global_orient": [0.0, 1.2, 0.0]}))
    return scene


def _rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img[..., ::-1] if img.ndim == 3 else img


@pytest.fixture(scope="module")
def cli_maps(tmp_path_factory):
    """`posebooth render` through its entry point, in this process with the
    test body (a subprocess would spend most of the test's time starting)."""
    from fake_body import fake_body
    from posebooth.assets import registry
    from posebooth.cli import render as cli_render
    from posebooth.cli.main import main

    d = tmp_path_factory.mktemp("cli")
    save_scene(_scene(), d / "scene.json")
    body = fake_body()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "get_body", lambda spec, model_dir=None: body)
        mp.setattr(cli_render, "prepare_export_process", lambda with_model: None)   # leaves gc and torch be
        code = main(["render", str(d / "scene.json"), "--out", str(d / "out"), "--frames", str(FRAME),
                     "--processes", "1", "--quiet", "--passes", ",".join((*PASSES, "control"))])
    assert code == 0
    return d / "out"


def _qimage_rgb(image) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    return np.frombuffer(image.constBits(), np.uint8, stride * h).reshape(h, stride)[:, :3 * w].reshape(h, w, 3)


def test_export_maps_and_copy_map_without_a_model(make_window, qtbot, tmp_path, monkeypatch, cli_maps):
    from PySide6.QtGui import QGuiApplication

    from posebooth.ui import map_export

    win = make_window(_scene())
    assert win.generation_panel.bridge.model is None          # no model loaded
    win.doc.set_frame(FRAME)
    out = tmp_path / "gui"
    asked = []
    monkeypatch.setattr(map_export, "ask_maps_export",
                        lambda parent, doc: asked.append(doc.frame) or map_export.MapsExport(str(out), [doc.frame]))
    win.action_map["export_maps"].trigger()
    job = win.maps_job
    assert asked == [FRAME] and job is not None
    with qtbot.waitSignal(job.finished, timeout=120_000) as done:
        pass
    assert done.args[0]["complete"] and done.args[0]["frames"] == [FRAME]
    name = f"{FRAME:06d}"
    for p in PASSES:
        assert (out / p / f"{name}.png").read_bytes() == (cli_maps / p / f"{name}.png").read_bytes(), p
    for k in KINDS:
        got = (out / "control" / f"{name}_{k}.png").read_bytes()
        assert got == (cli_maps / "control" / f"{name}_{k}.png").read_bytes(), k
    assert not (out / "rgb").exists()                         # no model ran
    a, b = np.load(out / "annotations.npz"), np.load(cli_maps / "annotations.npz")
    for key in b.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    qtbot.waitUntil(lambda: win.maps_job is None, timeout=5000)
    assert "Exported 1 frame(s)" in win.statusBar().currentMessage()

    # Copy Map: the chosen map of the current frame on the clipboard
    clipboard = QGuiApplication.clipboard()
    for kind in ("openpose", "depth"):           # the control images, as exported
        clipboard.clear()
        win.action_map[f"copy_map_{kind}"].trigger()
        held = _qimage_rgb(clipboard.image())
        want = _rgb(cli_maps / "control" / f"{FRAME:06d}_{kind}.png")
        assert held.shape == want.shape and want.any(), kind
        np.testing.assert_array_equal(held, want, err_msg=kind)
    win.action_map["copy_map_mask"].trigger()    # the people, white on black
    held = _qimage_rgb(clipboard.image())
    mask = _rgb(cli_maps / "mask" / f"{FRAME:06d}.png")
    np.testing.assert_array_equal(held[..., 0] == 255, mask > 0)
    assert set(np.unique(held)) == {0, 255}


@pytest.mark.hostile
def test_export_maps_into_a_file_fails_with_one_line(qtbot, hr, tmp_path):
    from fake_body import fake_body_for
    from posebooth.ui import map_export

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    job = map_export.MapsExportJob(_scene(), map_export.MapsExport(str(blocker), [0]),
                                   renderer_provider=lambda: hr, body_for=fake_body_for)
    with qtbot.waitSignal(job.failed, timeout=60_000) as failed:
        job.start()
    (message,) = failed.args
    assert "\n" not in message and "not-a-folder" in message
    assert job.wait(10)


def test_cancel_stops_after_the_frame_in_flight_and_a_rerun_resumes(qtbot, hr, tmp_path):
    import json

    from PySide6.QtCore import Qt

    from fake_body import fake_body_for
    from posebooth.ui import map_export

    settings = map_export.MapsExport(str(tmp_path / "maps"), [0, 1, 2, 3])
    job = map_export.MapsExportJob(_scene(), settings, renderer_provider=lambda: hr, body_for=fake_body_for)
    # Cancel from the export thread itself as the first frame is reported: no race with the GUI.
    job.progress.connect(lambda done, total: job.cancel(), Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(job.cancelled, timeout=60_000):
        job.start()
    assert job.wait(10)
    written = sorted(p.name for p in (tmp_path / "maps" / "render").glob("*.png"))
    assert written and len(written) < 4
    again = map_export.MapsExportJob(_scene(), settings, renderer_provider=lambda: hr, body_for=fake_body_for)
    with qtbot.waitSignal(again.finished, timeout=60_000) as done:
        again.start()
    assert done.args[0]["complete"] and done.args[0]["frames"] == [0, 1, 2, 3]
    assert json.loads((tmp_path / "maps" / "dataset.json").read_text())["complete"]


def test_dialog_gives_this_frame_or_a_range(qtbot):
    from types import SimpleNamespace

    from posebooth.ui.map_export import MapsExportDialog

    scene = _scene()
    dlg = MapsExportDialog(SimpleNamespace(scene=scene, frame=2), folder="/tmp/maps")
    qtbot.addWidget(dlg)
    assert dlg.settings().frames == [2]
    dlg.range.setChecked(True)
    dlg.first.setValue(3)
    dlg.last.setValue(1)
    dlg.kind_boxes["normal"].setChecked(False)
    dlg.pass_boxes["overlay"].setChecked(True)
    got = dlg.settings()
    assert got.frames == [1, 2, 3] and got.control_kinds == ("depth", "openpose")
    assert "overlay" in got.passes and "render" in got.passes
    dlg.folder.setText("  ")
    assert dlg.settings() is None
