"""A warm start on a kept first frame (ui.quick_start, assets.first_frame):
the window draws the kept meshes while the body model builds, nothing that
needs the body runs before it arrives, and then posing is real again.

The in-process cases use the fake body; the last runs the real app (real
anny, real GL viewport) twice in a subprocess, as a user starts it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fake_body import fake_body_for
from posebooth.assets.posing import pose_people
from posebooth.assets.starter import starter_scene
from ui_support import dialogs, make_window, ui_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.gui
REPO = Path(__file__).resolve().parents[1]


def counting_body():
    calls = []

    def body_for(spec):
        calls.append(spec)
        return fake_body_for(spec)
    return body_for, calls


def test_the_kept_frame_stands_until_the_body_arrives(qtbot):
    from posebooth.ui.document import SceneDocument
    body_for, calls = counting_body()
    scene = starter_scene(people=2, frames=5)
    kept = pose_people(scene, 0, fake_body_for)
    doc = SceneDocument(scene, body_for=body_for)
    doc.show_kept_frame(kept)
    assert doc.body_pending and doc.posed() == kept and calls == []   # drawn without the body
    revision = doc.revision
    with qtbot.waitSignal(doc.bodyReady, timeout=1000):
        doc.body_arrived()
    assert not doc.body_pending and doc.revision > revision   # views drop what they made of the kept meshes
    posed = doc.posed()
    assert calls and posed is not kept
    for a, b in zip(posed, kept):
        assert np.array_equal(a.vertices, b.vertices)
    with qtbot.assertNotEmitted(doc.bodyReady):
        doc.body_arrived()   # once only


def test_an_edit_before_the_body_arrives_poses_for_real(qtbot):
    from posebooth.ui.document import SceneDocument
    body_for, calls = counting_body()
    scene = starter_scene(people=1, frames=5)
    doc = SceneDocument(scene, body_for=body_for)
    doc.show_kept_frame(pose_people(scene, 0, fake_body_for))
    doc.set_frame(3)
    assert doc.posed()[0].vertices is not None and calls   # the kept frame no longer stands


def test_the_shape_panel_waits_for_the_body(make_window, qtbot):
    from posebooth.ui.shape_panel import PREPARING
    win = make_window(show=False)
    win.doc.show_kept_frame(pose_people(win.doc.scene, win.doc.frame, fake_body_for))
    with qtbot.waitExposed(win):
        win.show()
    win.shape_dock.raise_()
    panel = win.shape_panel
    qtbot.waitUntil(panel.isVisible)
    panel.refresh()
    assert panel.hint.text() == PREPARING and not panel.params_box.isEnabled()
    win.doc.body_arrived()
    qtbot.waitUntil(lambda: panel.hint.text() == "" and panel.params_box.isEnabled())
    assert panel.findChildren(object, "shape_scale")   # the body's own shape names


def test_panels_behind_tabs_are_built_when_their_tab_comes_to_front(make_window, qtbot):
    win = make_window()
    qtbot.wait(50)
    assert win._hands._panel is None and win._face._panel is None   # 72 sliders not built at start
    win.face_dock.raise_()
    qtbot.waitUntil(lambda: win._face._panel is not None)
    assert win._hands._panel is None
    win.hand_dock.raise_()
    qtbot.waitUntil(lambda: win._hands._panel is not None)


def test_generation_start_up_waits_for_the_first_frame_and_the_body(make_window, qtbot, monkeypatch):
    from posebooth.ui.generation.bridge import GenerationBridge
    warmed = []
    monkeypatch.setattr(GenerationBridge, "warm_up", staticmethod(lambda: warmed.append(True)))
    win = make_window(show=False)
    assert win.generation_panel.model_combo.count() == 0   # nothing read while the window is built
    win.doc.show_kept_frame(pose_people(win.doc.scene, win.doc.frame, fake_body_for))
    with qtbot.waitExposed(win):
        win.show()
    qtbot.wait(2000)   # past the first frame (the 2D stand-in viewport has no GL frame signal: the fallback)
    assert win.generation_panel.model_combo.count() == 0 and warmed == []
    win.doc.body_arrived()
    qtbot.waitUntil(lambda: win.generation_panel.model_combo.count() > 0)
    assert warmed == [True]


def test_without_a_kept_frame_generation_starts_after_the_first_frame(make_window, qtbot, monkeypatch):
    from posebooth.ui.generation.bridge import GenerationBridge
    warmed = []
    monkeypatch.setattr(GenerationBridge, "warm_up", staticmethod(lambda: warmed.append(True)))
    win = make_window()
    qtbot.waitUntil(lambda: win.generation_panel.model_combo.count() > 0 and warmed == [True], timeout=5000)


def _start_app(env: dict) -> dict:
    r = subprocess.run([sys.executable, str(REPO / "main.py")], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    marks, info = {}, {}
    for line in r.stderr.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "posebooth-startup":
            marks[parts[1]] = float(parts[2])
        elif len(parts) == 2 and parts[0].startswith("posebooth-startup-"):
            info[parts[0][len("posebooth-startup-"):]] = parts[1]
    return {"marks": marks, **info}


def test_the_real_app_keeps_its_first_frame_and_starts_on_it(tmp_path):
    """Start the app twice as a user does: the first start poses its first
    frame and keeps it; the second draws it before it has imported torch,
    anny, scipy.spatial or the Hugging Face and diffusion libraries, and only
    then builds the body."""
    real = Path(os.environ["POSEBOOTH_CACHE_DIR"])
    if not any((real / "anny").rglob("build_compact_model_data_*")):
        from posebooth.assets.anny_body import get_anny_body
        get_anny_body()   # the anny cache the app reads (a minute, once per machine)
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("anny", "warp"):   # the built model and kernels; the kept frames land in this test's folder
        (real / name).mkdir(exist_ok=True)
        (cache / name).symlink_to(real / name, target_is_directory=True)
    env = {**os.environ, "POSEBOOTH_STARTUP_PROBE": "1", "POSEBOOTH_CACHE_DIR": str(cache),
           "HF_HUB_OFFLINE": "1", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "POSEBOOTH_AUTOSAVE_DIR": str(tmp_path / "autosave")}
    first = _start_app(env)
    assert first["first-frame"] == "posed"
    assert first["marks"]["body_ready"] < first["marks"]["window_shown"]
    assert len(list((cache / "first_frame").glob("*.npz"))) == 1
    second = _start_app(env)
    assert second["first-frame"] == "kept", second
    assert second["loaded-when-drawn"] == "-", second
    marks = second["marks"]
    assert marks["window_shown"] <= marks["body_drawn"] <= marks["responsive"] < marks["body_ready"], marks
