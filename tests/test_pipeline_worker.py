"""GenerationWorker: loading on the worker thread, latest-wins previews, cancel within one step,
errors reported without killing the worker, clips."""

import threading

import numpy as np
import pytest

from pipeline_fixtures import _one_torch_thread  # noqa: F401  (pytest fixture)
from pipeline_fixtures import H, W, make_backend, make_request
from fixtures import tiny_models as tm
from posebooth.pipeline.clips import ClipOptions
from posebooth.pipeline.loading import LoadOptions
from posebooth.pipeline.worker import GenerationWorker


class Recorder:
    """Collects every callback with the thread it ran on."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def __getattr__(self, name):
        if not name.startswith("on_"):
            raise AttributeError(name)

        def record(*args):
            with self.lock:
                self.events.append((name, args, threading.current_thread().name))

        return record

    def of(self, name):
        return [args for n, args, _ in self.events if n == name]

    def callbacks(self):
        names = ("on_loading", "on_progress", "on_preview", "on_result", "on_error", "on_cancelled")
        return {n: getattr(self, n) for n in names}


@pytest.fixture()
def worker_and_events():
    rec = Recorder()
    worker = GenerationWorker(**rec.callbacks(), backend=make_backend("sd15"))
    yield worker, rec
    worker.shutdown()
    assert not worker.is_alive


def test_load_and_generate_on_the_worker_thread(tmp_path):
    folder = tm.save_tiny_controlnet_pipeline(tmp_path / "cn")
    rec = Recorder()
    worker = GenerationWorker(**rec.callbacks())
    try:
        worker.load(str(folder), LoadOptions(device="cpu", preview_decoder="linear"))
        rid = worker.submit(make_request(steps=3))
        assert worker.wait_idle(30)
    finally:
        worker.shutdown()
    loading = rec.of("on_loading")
    assert loading[0][0] == 0.0 and any(p == 1.0 and m.startswith("Ready") for p, m in loading)
    assert [a[1:] for a in rec.of("on_progress")] == [(1, 3), (2, 3), (3, 3)]
    assert [a[:2] for a in rec.of("on_preview")] == [(rid, 1), (rid, 2)]
    ((result,),) = rec.of("on_result")
    assert result.request_id == rid and result.image.shape == (H, W, 3)
    assert {t for _, _, t in rec.events} == {"posebooth-generation"}


def test_generate_without_a_model_is_an_error():
    rec = Recorder()
    worker = GenerationWorker(**rec.callbacks())
    rid = worker.submit(make_request())
    worker.wait_idle(10)
    worker.shutdown()
    assert rec.of("on_error") == [(rid, "No model is loaded: choose a model first")]


def test_cancel_lands_within_one_step(worker_and_events):
    worker, rec = worker_and_events
    req = make_request(steps=30)

    def on_progress(rid, step, total):
        rec.on_progress(rid, step, total)
        if step == 2:
            worker.cancel(rid)  # from the worker thread, like a GUI click landing mid-step

    worker.on_progress = on_progress
    worker.submit(req)
    assert worker.wait_idle(30)
    assert [a[1] for a in rec.of("on_progress")] == [1, 2]  # step 3 ended, saw the flag, stopped
    assert rec.of("on_cancelled") == [(req.request_id,)] and not rec.of("on_result")


def test_cancel_from_another_thread_and_cancel_all(worker_and_events):
    worker, rec = worker_and_events
    started = threading.Event()
    steps = []

    def on_progress(rid, step, total):
        steps.append(step)
        started.set()
    worker.on_progress = on_progress
    running = worker.submit(make_request(steps=200))
    queued = worker.submit(make_request(steps=2))
    assert started.wait(30)
    worker.cancel()
    seen = len(steps)
    assert worker.wait_idle(30)
    assert len(steps) <= seen + 1 and steps[-1] < 200   # the step in flight ends, no other runs
    assert sorted(rec.of("on_cancelled")) == sorted([(running,), (queued,)])
    # still serving
    rid = worker.submit(make_request())
    worker.wait_idle(30)
    assert rec.of("on_result")[-1][0].request_id == rid


def test_latest_wins_for_previews(worker_and_events):
    worker, rec = worker_and_events
    ids = [worker.submit(make_request(steps=20, preview=True, seed=i)) for i in range(3)]
    assert worker.wait_idle(30)
    assert [r.request_id for (r,) in rec.of("on_result")] == [ids[2]]
    assert sorted(rec.of("on_cancelled")) == sorted([(ids[0],), (ids[1],)])


def test_preview_does_not_interrupt_a_final_render(worker_and_events):
    worker, rec = worker_and_events
    final = worker.submit(make_request(steps=6))
    preview = worker.submit(make_request(steps=2, preview=True))
    assert worker.wait_idle(30)
    assert [r.request_id for (r,) in rec.of("on_result")] == [final, preview]


def test_pipeline_exception_is_reported_and_the_worker_survives(worker_and_events):
    worker, rec = worker_and_events
    unet = worker.backend.pipe.unet

    def broken(*args, **kwargs):
        del unet.forward  # fail once
        raise RuntimeError("kaboom in the UNet")

    unet.forward = broken
    bad = worker.submit(make_request())
    good = worker.submit(make_request())
    assert worker.wait_idle(30)
    assert rec.of("on_error") == [(bad, "RuntimeError: kaboom in the UNet")]
    assert [r.request_id for (r,) in rec.of("on_result")] == [good]
    assert worker.is_alive


def test_broken_listener_does_not_kill_the_worker(worker_and_events):
    worker, rec = worker_and_events
    worker.on_progress = lambda *a: 1 / 0
    rid = worker.submit(make_request())
    assert worker.wait_idle(30)
    assert rec.of("on_result")[0][0].request_id == rid


def test_clip_through_the_worker(worker_and_events):
    worker, rec = worker_and_events
    frames = [make_request(seed=9 + i) for i in range(3)]
    clip = worker.submit_clip(frames, ClipOptions("fixed-seed"))
    assert worker.wait_idle(30)
    results = [r for (r,) in rec.of("on_result")]
    assert [r.request_id for r in results] == [f.request_id for f in frames]
    assert [r.settings["frame_index"] for r in results] == [0, 1, 2]
    assert {r.seed for r in results} == {9} and {r.settings["clip_id"] for r in results} == {clip}
    np.testing.assert_array_equal(results[0].image, results[1].image)  # same inputs, same seed


def test_cancel_a_clip(worker_and_events):
    worker, rec = worker_and_events
    worker.on_result = lambda r: (rec.on_result(r), worker.cancel(clip))
    clip = worker.submit_clip([make_request() for _ in range(4)], ClipOptions("fixed-seed"))
    assert worker.wait_idle(30)
    assert len(rec.of("on_result")) == 1 and rec.of("on_cancelled") == [(clip,)]


def test_missing_model_is_reported_and_the_current_model_kept():
    rec = Recorder()
    worker = GenerationWorker(**rec.callbacks(), backend=make_backend("sd15"))
    job = worker.load("/no/such/model/folder", LoadOptions(device="cpu"))
    rid = worker.submit(make_request())
    assert worker.wait_idle(30)
    worker.shutdown()
    ((err_id, message),) = rec.of("on_error")
    assert err_id == job and "no such file or folder" in message
    assert rec.of("on_result")[0][0].request_id == rid  # the file checks failed before the old model was freed
