"""One frame pipeline: the same frame shown or written four ways — the
viewport's pass overlay, the interactive preview's request, the GUI's
export and `posebooth render` — gives byte-identical passes, annotations
and control images. Each path runs as a user runs it: the Qt viewport
widget, the Generation panel with a tiny random-weight 3-ControlNet model
saved as a diffusers folder, and the CLI in a subprocess."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fake_body import fake_body_for
from fixtures import tiny_models as tm
from posebooth.assets.starter import starter_scene
from posebooth.scene.io import save_scene
from posebooth.scene.model import ControlSetting

pytestmark = [pytest.mark.gui, pytest.mark.gl, pytest.mark.slow]
TESTS = Path(__file__).resolve().parent
KINDS = ("depth", "openpose", "normal")
SIZE = 64


def _png(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img[..., ::-1] if img.ndim == 3 else img


def _scene(model: str):
    scene = starter_scene(people=2, frames=1, width=SIZE, height=SIZE, preset="walking")
    scene.generation.model, scene.generation.steps, scene.generation.seed_locked = model, 2, True
    scene.generation.controls = [ControlSetting(kind=k) for k in KINDS]
    return scene


@pytest.fixture(scope="module")
def three_controlnets(tmp_path_factory):
    return str(tm.save_tiny_controlnet_pipeline(tmp_path_factory.mktemp("models") / "tiny-3cn", n_controlnets=3))


def test_overlay_preview_gui_export_and_cli_render_agree(qtbot, hr, tmp_path, monkeypatch, three_controlnets):
    from posebooth.frame.pass_images import PART_PALETTE
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.generation import export as generation_export
    from posebooth.ui.generation.panel import GenerationPanel
    from posebooth.ui.viewport.widget import ViewportWidget

    scene = _scene(three_controlnets)
    path = tmp_path / "scene.json"
    save_scene(scene, path)

    # 1. posebooth render (no model: passes, annotations and the scene's control kinds)
    cli = tmp_path / "cli"
    r = subprocess.run([sys.executable, str(TESTS / "render_with_fake_body.py"), "render", str(path), "--out",
                        str(cli), "--passes", "render,depth,normal,parts,mask,control", "--processes", "1",
                        "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    control = {k: _png(cli / f"control/000000_{k}.png") for k in KINDS}

    doc = SceneDocument(scene.model_copy(deep=True), body_for=fake_body_for)
    doc.posed()

    # 2. the viewport's pass overlays
    w = ViewportWidget(doc)
    qtbot.addWidget(w)
    w.resize(320, 240)
    w.show()
    qtbot.waitExposed(w)
    w.grabFramebuffer()
    assert w.gl_error is None
    for name in (*KINDS, "parts"):
        w.set_overlay(name)
        w.grabFramebuffer()
        shown = w._pass_image(doc.posed())
        expected = PART_PALETTE[_png(cli / "parts/000000.png")] if name == "parts" else control[name]
        np.testing.assert_array_equal(shown, expected, err_msg=f"viewport overlay {name}")

    # 3. the preview request (Generate at full size) and 4. the GUI export
    panel = GenerationPanel(doc, renderer_provider=lambda: hr)
    qtbot.addWidget(panel)
    try:
        with qtbot.waitSignal(panel.bridge.modelLoaded, timeout=60_000):
            panel.load_btn.click()
        assert panel.bridge.model["control_kinds"] == list(KINDS)
        requests = []
        submit = panel.builder._submit   # what the request builder hands each request to
        monkeypatch.setattr(panel.builder, "_submit", lambda req: requests.append(req) or submit(req))
        with qtbot.waitSignal(panel.bridge.result, timeout=60_000):
            panel.generate()
        (request,) = requests
        for k in KINDS:
            np.testing.assert_array_equal(request.control(k).image, control[k], err_msg=f"preview {k}")

        gui = tmp_path / "gui"
        monkeypatch.setattr(generation_export, "ask_export_folder", lambda parent, title: str(gui))
        job = panel.export_frame()
        with qtbot.waitSignal(job.finished, timeout=120_000) as done:
            pass
        assert done.args[0]["complete"]
    finally:
        panel.shutdown()
    for name in ("render", "depth", "normal", "parts", "mask"):
        assert (gui / f"{name}/000000.png").read_bytes() == (cli / f"{name}/000000.png").read_bytes(), name
    for k in KINDS:
        assert (gui / f"control/000000_{k}.png").read_bytes() == (cli / f"control/000000_{k}.png").read_bytes(), k
    a, b = np.load(gui / "annotations.npz"), np.load(cli / "annotations.npz")
    assert set(a.files) == set(b.files)
    for key in a.files:
        if key != "seed":   # the GUI export ran a model (seed >= 0); render ran none (-1)
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert b["seed"].tolist() == [-1] and a["seed"].tolist() == [scene.generation.seed]
