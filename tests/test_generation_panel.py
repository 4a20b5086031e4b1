"""The Generation panel with a tiny random-weight model saved as a local diffusers
folder: the GUI stays responsive while generating, step previews stream in, the
result lands in the panel and in an export, auto-previews are latest-wins, and
failures (pipeline exception, missing model) become messages, not crashes."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPushButton

from fake_body import fake_body_for
from fixtures import tiny_models as tm
from posebooth.assets.starter import starter_scene

pytestmark = [pytest.mark.gui, pytest.mark.gl]
SIZE = 64


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return str(tm.save_tiny_controlnet_pipeline(tmp_path_factory.mktemp("models") / "tiny-cn"))


@pytest.fixture
def errors(monkeypatch):
    """Message boxes of explicit actions, recorded instead of shown."""
    from posebooth.ui.generation import panel as generation_panel
    shown = []
    monkeypatch.setattr(generation_panel, "notify_error", lambda parent, title, text: shown.append((title, text)))
    return shown


@pytest.fixture
def make_panel(qtbot, tiny_folder, errors, hr):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.generation.panel import GenerationPanel
    made = []

    def make(model=tiny_folder, steps=3, frames=2):
        doc = SceneDocument(starter_scene(people=1, frames=frames, width=SIZE, height=SIZE), body_for=fake_body_for)

        def setup(scene):
            scene.generation.model, scene.generation.steps = model, steps
        doc.edit_scene(setup, "test set-up")
        doc.posed()   # in the app the viewport has posed the bodies already
        panel = GenerationPanel(doc, renderer_provider=lambda: hr)   # the session's EGL renderer
        qtbot.addWidget(panel)
        panel.resize(340, 900)
        panel.show()
        made.append(panel)
        return panel
    yield make
    for panel in made:
        panel.shutdown()


def load(qtbot, panel):
    with qtbot.waitSignal(panel.bridge.modelLoaded, timeout=60_000):
        panel.load_btn.click()
    assert panel.bridge.model["control_kinds"] == ["depth"]


def test_generate_keeps_the_gui_responsive_and_lands_in_panel_and_history(qtbot, make_panel):
    panel = make_panel(steps=12)
    load(qtbot, panel)
    previews, progress = [], []
    panel.bridge.preview.connect(lambda rid, step, img: previews.append((rid, step, img.shape)))
    # One ordered record of timer ticks and step signals, both delivered by the
    # GUI thread's event loop: ticks between the steps show the loop kept running
    # while the model generated (counted in events, not timed).
    order = []
    panel.bridge.progress.connect(lambda rid, step, total: (progress.append((rid, step, total)),
                                                            order.append("step")))
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: order.append("tick"))
    timer.start()
    with qtbot.waitSignal(panel.bridge.result, timeout=60_000) as got:
        qtbot.keyClick(panel.generate_btn, " ")   # a real click on the button
    timer.stop()
    result = got.args[0]
    first, last = order.index("step"), len(order) - 1 - order[::-1].index("step")
    assert "tick" in order[first:last], "the event loop did not run while the model generated"
    rid = result.request_id
    assert [s for r, s, t in progress if r == rid] == list(range(1, 13))
    assert [s for r, s, _ in previews if r == rid] == list(range(1, 12))  # every step but the last
    assert result.image.shape == (SIZE, SIZE, 3) and result.seed == 0
    qtbot.waitUntil(lambda: panel.history.count() == 1)
    assert panel.preview.view.has_image() and panel.preview.view.image().width() == SIZE
    assert "seed 0" in panel.info.text() and "12 steps" in panel.history.item(0).toolTip()
    assert not panel.cancel_btn.isEnabled()


def test_export_clip_writes_rgb_and_the_exact_control_images(qtbot, make_panel, tmp_path, monkeypatch):
    from diffusers import StableDiffusionControlNetImg2ImgPipeline, StableDiffusionControlNetPipeline

    from posebooth.ui.generation import export as generation_export
    handed = []

    def spy_on(cls, key):   # frame 0 is txt2img, frame 1 img2img from frame 0 (previous-frame)
        original = cls.__call__

        def spy(self, *args, **kwargs):
            handed.append(np.asarray(kwargs[key]).copy())
            return original(self, *args, **kwargs)
        monkeypatch.setattr(cls, "__call__", spy)
    spy_on(StableDiffusionControlNetPipeline, "image")
    spy_on(StableDiffusionControlNetImg2ImgPipeline, "control_image")
    monkeypatch.setattr(generation_export, "ask_export_folder", lambda parent, title: str(tmp_path / "out"))
    panel = make_panel(steps=2)
    panel.doc.edit_scene(lambda s: setattr(s.generation, "clip_strategy", "previous-frame"), "strategy")
    load(qtbot, panel)
    job = panel.export_clip()
    with qtbot.waitSignal(job.finished, timeout=60_000) as done:
        pass
    assert done.args[0]["complete"] and panel.export_job is None
    out = tmp_path / "out"
    assert len(handed) == 2
    for f in (0, 1):
        rgb = cv2.imread(str(out / f"rgb/{f:06d}.png"))
        assert rgb is not None and rgb.shape == (SIZE, SIZE, 3)
        control = cv2.cvtColor(cv2.imread(str(out / f"control/{f:06d}_depth.png")), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(control, handed[f])
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["generator"]["clip_strategy"] == "previous-frame"
    assert manifest["generator"]["source"] == panel.doc.scene.generation.model
    assert np.load(out / "annotations.npz")["seed"].tolist() == [0, 0]


def test_auto_preview_is_latest_wins(qtbot, make_panel):
    panel = make_panel(steps=400)   # long previews: a newer edit always finds the last one running
    load(qtbot, panel)
    results, cancelled, running = [], [], set()
    panel.bridge.result.connect(lambda r: results.append(r.request_id))
    panel.bridge.cancelled.connect(cancelled.append)
    panel.bridge.progress.connect(lambda rid, step, total: running.add(rid))
    made = []
    orig = panel._request
    panel._request = lambda preview, seed, **kw: made.append(orig(preview, seed, **kw)) or made[-1]
    panel.auto_preview.setChecked(True)
    for frame in (1, 0, 1):   # quick edits (and the toggle): debounced into one request
        panel.doc.set_frame(frame)
        qtbot.wait(20)
    qtbot.waitUntil(lambda: bool(made) and made[0] in running, timeout=30_000)
    assert len(made) == 1
    panel.doc.set_frame(0)     # interrupts the running preview
    qtbot.waitUntil(lambda: len(made) == 2 and made[1] in running, timeout=30_000)
    panel.doc.edit_scene(lambda s: setattr(s.generation, "steps", 3), "steps")   # a quick last one
    qtbot.waitUntil(lambda: len(made) == 3 and made[-1] in results, timeout=60_000)
    qtbot.waitUntil(lambda: not panel._pending)
    assert results == [made[-1]] and set(cancelled) >= set(made[:-1])
    assert panel.history.count() == 0   # previews are not kept in the history


def test_pipeline_exception_is_a_message_not_a_crash(qtbot, make_panel, monkeypatch, errors):
    from diffusers import StableDiffusionControlNetPipeline

    panel = make_panel(steps=2)
    load(qtbot, panel)

    def broken(self, *args, **kwargs):
        raise RuntimeError("kaboom in the pipeline")
    monkeypatch.setattr(StableDiffusionControlNetPipeline, "__call__", broken)
    with qtbot.waitSignal(panel.bridge.error, timeout=30_000):
        panel.generate()
    qtbot.waitUntil(lambda: "kaboom in the pipeline" in panel.message.text())
    assert panel.message.isVisible() and errors and "kaboom" in errors[0][1]
    monkeypatch.undo()   # the worker survived: the next request works
    with qtbot.waitSignal(panel.bridge.result, timeout=30_000):
        panel.generate()


def test_missing_model_gives_a_clear_message(qtbot, make_panel, errors, tmp_path):
    panel = make_panel(model=str(tmp_path / "no-such-model"))
    with qtbot.waitSignal(panel.bridge.error, timeout=30_000):
        panel.load_btn.click()
    qtbot.waitUntil(lambda: panel.message.isVisible())
    assert "no such file or folder" in panel.message.text()
    assert errors and errors[0][0] == "Model not loaded"
    assert panel.bridge.model is None and not panel.load_bar.isVisible()


def test_settings_are_undoable_edits(qtbot, make_panel):
    panel = make_panel()
    doc, s = panel.doc, panel.settings
    s.steps.setValue(7)
    s.guidance.setValue(4.5)
    assert (doc.scene.generation.steps, doc.scene.generation.guidance) == (7, 4.5)
    s.rows["normal"].enabled.setChecked(True)
    assert [c.kind for c in doc.scene.generation.controls] == ["depth", "normal"]
    s.rows["depth"].scale.setValue(0.5)
    assert doc.scene.generation.controls[0].scale == 0.5
    s.seed_lock.click()
    assert doc.scene.generation.seed_locked is False
    for _ in range(3):
        doc.undo_stack.undo()
    assert [c.kind for c in doc.scene.generation.controls] == ["depth"]
    assert doc.scene.generation.controls[0].scale == 1.0 and doc.scene.generation.seed_locked


def test_generate_without_a_loaded_model_loads_it_first(qtbot, make_panel):
    panel = make_panel(steps=2)
    with qtbot.waitSignal(panel.bridge.result, timeout=60_000):
        panel.generate_action.trigger()
    assert panel.bridge.model is not None
    qtbot.waitUntil(lambda: panel.history.count() == 1)


def test_cancel_an_export_then_generate_again(qtbot, make_panel, tmp_path, monkeypatch):
    from posebooth.ui.generation import export as generation_export
    monkeypatch.setattr(generation_export, "ask_export_folder", lambda parent, title: str(tmp_path / "out"))
    panel = make_panel(steps=400)
    load(qtbot, panel)
    steps = []
    job = panel.export_frame()
    qtbot.wait(300)          # the frame is generating
    with qtbot.waitSignal(job.cancelled, timeout=10_000):
        panel._progress.findChild(QPushButton).click()   # the progress dialog's Cancel button
    assert panel.export_job is None and "cancelled" in panel.message.text()
    assert not (tmp_path / "out" / "rgb" / "000000.png").exists()
    panel.doc.edit_scene(lambda s: setattr(s.generation, "steps", 2), "steps")
    panel.bridge.progress.connect(lambda rid, step, total: steps.append(step))
    with qtbot.waitSignal(panel.bridge.result, timeout=30_000):   # the worker is free again
        panel.generate()
    assert steps == [1, 2]
