"""A garbage .safetensors as the model: one clear line naming the file, and
the generation waiting on that load reads "failed", not "cancelled"."""
from __future__ import annotations

import pytest

from fake_body import fake_body_for
from posebooth.assets.starter import starter_scene

pytestmark = [pytest.mark.gui, pytest.mark.gl, pytest.mark.hostile]


@pytest.fixture
def errors(monkeypatch):
    from posebooth.ui.generation import panel as generation_panel
    shown = []
    monkeypatch.setattr(generation_panel, "notify_error", lambda parent, title, text: shown.append((title, text)))
    return shown


@pytest.fixture
def make_panel(qtbot, tmp_path, hr):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.generation.panel import GenerationPanel
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\xff" * 8 + b"not a safetensors header at all" * 4)
    doc = SceneDocument(starter_scene(people=1, frames=2, width=64, height=64), body_for=fake_body_for)
    doc.edit_scene(lambda s: setattr(s.generation, "model", str(bad)), "test set-up")
    doc.posed()
    panel = GenerationPanel(doc, renderer_provider=lambda: hr)
    qtbot.addWidget(panel)
    panel.show()
    yield panel, bad
    panel.shutdown()


def test_garbage_safetensors_is_one_clear_line(qtbot, make_panel, errors):
    panel, bad = make_panel
    with qtbot.waitSignal(panel.bridge.error, timeout=60_000):
        panel.load_btn.click()
    qtbot.waitUntil(lambda: panel.message.isVisible())
    text = panel.message.text()
    assert str(bad) in text and "\n" not in text and "not a readable .safetensors" in text
    assert "deserializ" not in text.lower() and "header too large" not in text.lower()   # not the library's words
    assert errors == [("Model not loaded", text.lstrip("⚠ "))]


def test_a_generation_waiting_on_a_failed_load_failed(qtbot, make_panel, monkeypatch, errors):
    """The worker's real order of events, replayed on the GUI thread (no race
    with the conditioning thread): the load fails, then the request queued
    behind it ends with "no model" or as cancelled."""
    panel, bad = make_panel
    monkeypatch.setattr(panel.bridge, "load", lambda source, options=None: setattr(panel.bridge, "load_id", "L1"))
    monkeypatch.setattr(panel.builder, "request", lambda snap: None)   # nothing rendered or submitted
    panel.generate_action.trigger()   # no model yet: a load first, the request waits on it
    [rid] = list(panel._pending)
    load_message = f"{bad}: not a readable .safetensors checkpoint"
    panel.bridge.error.emit("L1", load_message)
    panel.bridge.error.emit(rid, "No model is loaded: choose a model first")
    panel.bridge.cancelled.emit(rid)
    assert panel.message.text() == f"⚠ {load_message}"     # the cause stays in view
    assert panel.preview.steps.format() == "failed"
    assert [t for t, _ in errors] == ["Model not loaded"]   # one message box, for the load
