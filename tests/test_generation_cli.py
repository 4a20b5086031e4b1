"""Headless generation: `posebooth render --model`, `posebooth models list`, and the
streamed clip session both share (export.generator)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline_fixtures import _one_torch_thread  # noqa: F401  (pytest fixture)
from pipeline_fixtures import control_image, make_backend
from posebooth.pipeline import tiny_models as tm
from posebooth.scene.io import save_scene
from posebooth.scene.starter import starter_scene

RUNNER = Path(__file__).with_name("render_with_fake_body.py")   # the CLI with the test body
REPO = Path(__file__).resolve().parents[1]


def run(*args, runner=True):
    cmd = [sys.executable, str(RUNNER)] if runner else [sys.executable, "-m", "posebooth"]
    env = dict(os.environ, OMP_NUM_THREADS="1")   # tiny models: one torch thread is fastest
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scene") / "scene.json"
    save_scene(starter_scene(people=1, frames=2, width=64, height=64), path)
    return path


@pytest.mark.gl
def test_render_with_a_tiny_model_end_to_end(tmp_path, scene_file):
    model = tm.save_tiny_controlnet_pipeline(tmp_path / "tiny-cn")
    out = tmp_path / "out"
    r = run("render", scene_file, "--out", out, "--model", model, "--steps", "2", "--seed", "1234",
            "--clip-strategy", "fixed-seed", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "render:" in r.stderr and "2/2" in r.stderr   # the tqdm bar
    for f in (0, 1):
        rgb = cv2.imread(str(out / f"rgb/{f:06d}.png"))
        assert rgb is not None and rgb.shape == (64, 64, 3)
        assert (out / f"control/{f:06d}_depth.png").is_file()
    ann = np.load(out / "annotations.npz")
    assert ann["seed"].tolist() == [1234, 1234]
    manifest = json.loads((out / "dataset.json").read_text())
    gen = manifest["generator"]
    assert manifest["complete"] and "rgb" in manifest["passes"]
    assert gen["source"] == str(model) and gen["pipeline"] == "sd15-controlnet" and gen["steps"] == 2
    assert gen["seed"] == 1234 and gen["clip_strategy"] == "fixed-seed" and gen["device"] == "cpu"
    assert [c["kind"] for c in gen["controls"]] == ["depth"]
    coco = json.loads((out / "coco.json").read_text())
    assert coco["images"][0]["file_name"].startswith("rgb/")


def test_render_with_a_missing_model_is_a_clear_error(tmp_path, scene_file, monkeypatch, capsys):
    from fake_body import fake_body

    from posebooth.cli import main
    monkeypatch.setattr("posebooth.assets.registry.get_body", lambda spec, model_dir=None: fake_body())
    out = tmp_path / "out"
    assert main(["render", str(scene_file), "--out", str(out), "--model", "nonexistent"]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("posebooth: error: ") and "'nonexistent' is not a preset" in last
    assert "Traceback" not in err and not out.exists()   # refused before anything was written
    assert main(["render", str(scene_file), "--out", str(out), "--steps", "3"]) == 2
    assert "--steps need(s) --model" in capsys.readouterr().err


def test_render_missing_model_in_a_subprocess(tmp_path, scene_file):
    r = run("render", scene_file, "--out", tmp_path / "out", "--model", str(tmp_path / "no-model"), "--quiet")
    assert r.returncode == 2 and "no such file or folder" in r.stderr and "Traceback" not in r.stderr


def test_models_list(tmp_path):
    r = run("models", "list", runner=False)
    assert r.returncode == 0, r.stderr
    assert "sd15-depth" in r.stdout and "presets file:" in r.stdout
    r = run("models", "list", "--json", runner=False)
    report = json.loads(r.stdout)
    names = {p["name"]: p for p in report["presets"]}
    assert {"sd15-depth", "sd2-depth", "sdxl-depth"} <= set(names)
    assert {"role", "source", "present"} <= set(names["sd15-depth"]["sources"][0])
    assert isinstance(names["sd15-depth"]["available"], bool)


@pytest.mark.parametrize("strategy", ["fixed-seed", "previous-frame", "cross-frame-attention"])
def test_streamed_clip_session_matches_generate_clip(strategy):
    """Frames handed over one by one give exactly what generate_clip gives for the whole list."""
    import threading

    from posebooth.export.generator import ClipSession
    from posebooth.pipeline.clips import ClipOptions, generate_clip
    from posebooth.pipeline.request import Control, GenerationRequest

    backend = make_backend("sd15")
    frames = [GenerationRequest("a dancer", (Control("depth", control_image(seed=k)),), width=24, height=32,
                                steps=2, seed=7 + k) for k in range(3)]
    expected = generate_clip(backend, frames, ClipOptions(strategy))
    session = ClipSession(ClipOptions(strategy))
    runner = threading.Thread(target=session.run, args=(backend,))
    runner.start()
    got = [session.generate(f) for f in frames]
    session.finish()
    runner.join(30)
    assert not runner.is_alive()
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a.image, b.image)
        assert a.seed == b.seed == 7 and b.settings["clip_strategy"] == strategy


def test_streamed_clip_session_stop_and_errors():
    import threading

    from posebooth.export.generator import ClipSession
    from posebooth.pipeline.clips import ClipOptions
    from posebooth.pipeline.errors import GenerationCancelled, GenerationError
    from posebooth.pipeline.request import Control, GenerationRequest

    request = GenerationRequest("x", (Control("depth", control_image()),), width=24, height=32, steps=50)
    session = ClipSession(ClipOptions())
    runner = threading.Thread(target=session.run, args=(make_backend("sd15"),))
    runner.start()
    threading.Timer(0.2, session.stop).start()
    with pytest.raises(GenerationCancelled):
        session.generate(request)
    runner.join(30)
    assert not runner.is_alive()
    session = ClipSession(ClipOptions())
    session.run(None)   # no model loaded: reported to the waiting export, not raised here
    with pytest.raises(GenerationError, match="No model is loaded"):
        session.generate(request)


def test_camera_at_size_keeps_the_view():
    """Previews (and sizes rounded to multiples of 8) see exactly the camera's view, explicit K too."""
    from posebooth.export.generator import camera_at_size, generation_size
    from posebooth.scene.model import CameraSpec, Intrinsics
    from posebooth.scene.tracks import camera_at

    assert generation_size(500, 375) == (496, 368) and generation_size(512, 512, 0.25) == (128, 128)
    points = np.array([[0.1, 1.2, 0.3], [-0.4, 0.5, -0.2]])
    for intrinsics in (None, Intrinsics(fx=700.0, fy=650.0, cx=240.0, cy=180.0)):
        cam = camera_at(CameraSpec(width=500, height=375, intrinsics=intrinsics), 0)
        small = camera_at_size(cam, *generation_size(500, 375, 0.5))
        xy, z = cam.project(points)
        xy_small, z_small = small.project(points)
        np.testing.assert_allclose(xy_small, xy * [small.width / 500, small.height / 375])
        np.testing.assert_allclose(z_small, z)
