"""Fidelity scores in the Generation panel, with the tiny diffusion model and
the tiny ViTPose / Depth Anything folders: a result shows its score, the
history entry keeps it, the keypoint overlay changes the image shown, the
estimators never run on the GUI thread, and a missing estimator is one line
in the panel while the app goes on."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from fake_body import fake_body_for
from fixtures import tiny_estimators as te
from fixtures import tiny_models as tm
from posebooth.assets.starter import starter_scene

pytestmark = [pytest.mark.gui, pytest.mark.gl]
SIZE = 64


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return (str(tm.save_tiny_controlnet_pipeline(root / "tiny-cn")), str(te.save_tiny_vitpose(root / "vitpose")),
            str(te.save_tiny_depth_anything(root / "da")))


@pytest.fixture
def estimator_threads(monkeypatch):
    """threading.get_ident() of every estimator call."""
    from posebooth.pipeline import estimators

    seen = []
    for cls in (estimators.PoseEstimator, estimators.DepthEstimator):
        original = cls.__call__

        def spy(self, *args, _original=original, **kwargs):
            seen.append(threading.get_ident())
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(cls, "__call__", spy)
    return seen


@pytest.fixture
def panel(qtbot, folders, hr, tmp_path, monkeypatch):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.generation import fidelity_controls, panel as generation_panel
    from posebooth.ui.generation.panel import GenerationPanel

    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(fidelity_controls, "settings_store", lambda: store)
    monkeypatch.setattr(generation_panel, "notify_error", lambda *a: None)
    doc = SceneDocument(starter_scene(people=1, frames=1, width=SIZE, height=SIZE), body_for=fake_body_for)

    def setup(scene):
        scene.generation.model, scene.generation.steps = folders[0], 2
    doc.edit_scene(setup, "test set-up")
    doc.posed()
    p = GenerationPanel(doc, renderer_provider=lambda: hr)
    p.device = "cpu"
    qtbot.addWidget(p)
    p.resize(340, 900)
    p.show()
    with qtbot.waitSignal(p.bridge.modelLoaded, timeout=60_000):
        p.load_btn.click()
    yield p
    p.shutdown()


def _generate_and_score(qtbot, panel):
    with qtbot.waitSignal(panel.scorer.scored, timeout=60_000) as got:
        panel.generate()
    return got.args


def _pck(pred, coco17, bbox) -> float:
    """PCK@0.05 of the box diagonal over the v = 2 keypoints, written out here."""
    vis = coco17[:, 2] == 2
    limit = 0.05 * np.sqrt(bbox[2] ** 2 + bbox[3] ** 2)
    return float(np.mean(np.sqrt(((pred[vis] - coco17[vis, :2]) ** 2).sum(1)) <= limit))


def _pixels(qimage) -> np.ndarray:
    ptr = qimage.constBits()
    return np.frombuffer(ptr, np.uint8, qimage.sizeInBytes()).copy()


def test_a_result_shows_its_score_and_the_history_keeps_it(qtbot, panel, folders, estimator_threads):
    gui = threading.get_ident()
    panel.fidelity.set_values(True, folders[1], folders[2])
    rid, scored = _generate_and_score(qtbot, panel)
    s = scored.scores
    assert s.estimated[0] and 0 <= s.pck[0] <= 1 and 0 <= s.depth[0] <= 1
    assert s.pck[0] == pytest.approx(_pck(s.keypoints[0], scored.coco17[0], scored.bbox[0]))
    assert s.fidelity[0] == pytest.approx(np.sqrt(s.pck[0] * s.depth[0]), abs=1e-6)
    assert f"fidelity {s.frame_fidelity():.2f}" in panel.info.text()
    # the estimators ran, never on the GUI thread
    assert estimator_threads and gui not in estimator_threads
    # the overlay toggle draws the estimated keypoints over the image, and off again restores it
    plain = _pixels(panel.preview.view.image())
    assert panel.preview.overlay.isEnabled()
    panel.preview.overlay.setChecked(True)
    drawn = _pixels(panel.preview.view.image())
    assert not np.array_equal(plain, drawn)
    panel.preview.overlay.setChecked(False)
    assert np.array_equal(_pixels(panel.preview.view.image()), plain)
    # a second result; clicking the first history entry shows the first score again
    rid2, scored2 = _generate_and_score(qtbot, panel)
    assert panel.history.count() == 2 and rid2 != rid
    first = panel.history.item(1)
    assert panel.history.score_of(rid) is scored and scored.text() in first.toolTip()
    panel.history.entryActivated.emit(first.data(0x0100))
    assert panel._shown.request_id == rid and scored.text() in panel.info.text()
    # the choice is the app's: a new panel's controls read it back
    from posebooth.ui.generation.fidelity_controls import FidelityControls
    assert FidelityControls().values() == (True, folders[1], folders[2])


@pytest.mark.hostile
def test_a_missing_estimator_is_one_line_and_the_panel_goes_on(qtbot, panel):
    panel.fidelity.set_values(True, "no-such/pose-model", "")
    with qtbot.waitSignal(panel.scorer.failed, timeout=60_000) as got:
        panel.generate()
    line = got.args[1]
    assert "no-such/pose-model" in line and "\n" not in line
    assert panel.message.isVisible() and "no-such/pose-model" in panel.message.text()
    panel.fidelity.set_values(False, "", "")
    with qtbot.waitSignal(panel.bridge.result, timeout=60_000):
        panel.generate()
    assert panel.bridge.worker.is_alive and panel.history.count() == 2
