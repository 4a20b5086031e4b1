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
from fixtures import tiny_models as tm
from posebooth.scene.io import save_scene
from posebooth.assets.starter import starter_scene

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

    from posebooth.cli.main import main
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


def test_a_broken_model_folder_is_refused_before_torch_is_imported(tmp_path, scene_file):
    """The source's files are checked first (pipeline.source_checks): the answer
    comes without importing torch or diffusers."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "model_index.json").write_text("[1, 2]")
    code = ("import runpy, sys\n"
            f"sys.argv = ['posebooth', 'render', {str(scene_file)!r}, '--out', {str(tmp_path / 'out')!r},"
            f" '--model', {str(model)!r}, '--quiet']\n"
            "try:\n"
            "    runpy.run_module('posebooth', run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    print('exit', e.code, sorted(m for m in ('torch', 'diffusers') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert "exit 2 []" in r.stdout, r.stdout + r.stderr[-2000:]
    assert "model_index.json" in r.stderr and "Traceback" not in r.stderr


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
def test_clip_steps_on_the_worker_match_generate_clip(strategy):
    """A clip generated a step at a time through the worker's public `call`
    (what the GUI's export does), with another request generated between two
    steps, gives exactly what generate_clip gives for the whole list."""
    from posebooth.export.generator import WorkerSteps
    from posebooth.frame.request import Control, GenerationRequest
    from posebooth.pipeline.clips import ClipOptions, generate_clip
    from posebooth.pipeline.worker import GenerationWorker

    backend = make_backend("sd15")
    frames = [GenerationRequest("a dancer", (Control("depth", control_image(seed=k)),), width=24, height=32,
                                steps=2, seed=7 + k) for k in range(3)]
    expected = generate_clip(backend, frames, ClipOptions(strategy))
    results = []
    worker = GenerationWorker(backend=backend, on_result=results.append)
    try:
        steps = WorkerSteps(worker, ClipOptions(strategy))
        got = [steps(frames[0])]
        other = GenerationRequest("something else", (Control("depth", control_image(seed=9)),), width=24,
                                  height=32, steps=2, seed=3)
        worker.submit(other)                 # an interactive request between two frames of the clip
        got += [steps(f) for f in frames[1:]]
        steps.close()
        assert worker.wait_idle(30)
    finally:
        worker.shutdown()
    assert len(results) == 1 and results[0].request_id == other.request_id
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a.image, b.image)
        assert a.seed == b.seed == 7 and b.settings["clip_strategy"] == strategy


def test_clip_steps_cancel_and_errors():
    import threading

    from posebooth.export.generator import WorkerSteps
    from posebooth.frame.request import Control, GenerationRequest
    from posebooth.pipeline.clips import ClipOptions
    from posebooth.pipeline.errors import GenerationCancelled, GenerationError
    from posebooth.pipeline.worker import GenerationWorker

    request = GenerationRequest("x", (Control("depth", control_image()),), width=24, height=32, steps=200)
    worker = GenerationWorker(backend=make_backend("sd15"))
    try:
        steps = WorkerSteps(worker, ClipOptions())
        timer = threading.Timer(0.3, steps.cancel)
        timer.start()
        with pytest.raises(GenerationCancelled):
            steps(request)
        timer.join()
        with pytest.raises(GenerationCancelled):   # and every later step
            steps(request)
    finally:
        worker.shutdown()
    worker = GenerationWorker()   # no model loaded: the export thread gets the error
    try:
        with pytest.raises(GenerationError, match="No model is loaded"):
            WorkerSteps(worker, ClipOptions())(request)
    finally:
        worker.shutdown()


def test_worker_call_runs_in_queue_order_and_reports_exceptions():
    import threading

    from posebooth.pipeline.errors import GenerationCancelled
    from posebooth.pipeline.worker import GenerationWorker

    worker = GenerationWorker(backend="B")
    order = []
    try:
        first = worker.call(lambda backend, cancelled: order.append(1) or backend)
        second = worker.call(lambda backend, cancelled: order.append(2) or 1 / 0)
        assert first.result(10) == "B"
        with pytest.raises(ZeroDivisionError):
            second.result(10)
        assert order == [1, 2]
        blocker = threading.Event()
        worker.call(lambda b, c: blocker.wait(10))
        queued = worker.call(lambda b, c: "never")
        worker.cancel(queued.job_id)
        blocker.set()
        with pytest.raises(GenerationCancelled):
            queued.result(10)
    finally:
        worker.shutdown()


def test_camera_at_size_keeps_the_view():
    """Previews (and sizes rounded to multiples of 8) see exactly the camera's view, explicit K too."""
    from posebooth.frame.sizes import camera_at_size, generation_size
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
