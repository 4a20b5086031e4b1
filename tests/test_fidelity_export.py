"""Fidelity scores of exports: `posebooth score DIR`, `posebooth render --score`
and `--min-fidelity --retries` (export.scoring), on the test body, the real
renderer, tiny diffusion pipelines and tiny ViTPose / Depth Anything folders."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fake_body import fake_body_for
from pipeline_fixtures import _one_torch_thread  # noqa: F401  (pytest fixture)
from pipeline_fixtures import make_backend
from fixtures import tiny_estimators as te
from fixtures import tiny_models as tm
from posebooth.assets.starter import starter_scene
from posebooth.cli.main import main
from posebooth.export.driver import export_scene
from posebooth.export.generator import local_generator
from posebooth.export.scoring import ScoringGenerator, record_writer, score_export
from posebooth.frame.annotations import FrameAnnotations
from posebooth.scene.io import save_scene

KEYS = ("fidelity", "fidelity_pck", "fidelity_depth")


@pytest.fixture(scope="module")
def est_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("estimators")
    return te.save_tiny_vitpose(root / "vitpose"), te.save_tiny_depth_anything(root / "da")


def _scene(people=2, frames=2):
    return starter_scene(people=people, frames=frames, width=64, height=64)


def _npz(path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


class TruthEstimators:
    """Injected estimators that read the export's own files as the truth
    (annotations.npz keypoints, depth/ PNGs), independently of the scorer:
    a perfect pose and depth model for that export. `wrong_first`: the first
    call of each frame answers far off (PCK 0)."""

    def __init__(self, out, wrong_first=()):
        self.out, self.wrong_first, self.calls = Path(out), set(wrong_first), []
        self.frame = None

    def settings(self):
        return {"pose_model": "truth", "depth_model": "truth"}

    @property
    def pose(self):
        def estimate(image, boxes):
            ann = _npz(self.out / "annotations.npz")
            row = list(ann["frame_index"]).index(self.frame)
            visible = [k for k in range(ann["bbox"].shape[1]) if ann["bbox"][row, k, 2] > 0
                       and (ann["coco17"][row, k, :, 2] == 2).any()]
            np.testing.assert_allclose(boxes, ann["bbox"][row, visible])
            return ann["coco17"][row, visible, :, :2]
        return estimate

    @property
    def depth(self):
        def estimate(image):
            mm = cv2.imread(str(self.out / f"depth/{self.frame:06d}.png"), cv2.IMREAD_UNCHANGED)
            return np.where(mm > 0, 1000.0 / np.maximum(mm, 1), 0.0)
        return estimate


@pytest.fixture(scope="module")
def plain_export(hr, tmp_path_factory):
    """A model-free export (render/ only), two people, two frames."""
    out = tmp_path_factory.mktemp("plain") / "out"
    export_scene(_scene(), out, renderer=hr, body_for=fake_body_for, progress=False)
    return out


@pytest.mark.gl
def test_score_a_model_free_export_with_perfect_estimators(plain_export, monkeypatch):
    before = _npz(plain_export / "annotations.npz")
    manifest_before = json.loads((plain_export / "dataset.json").read_text())
    est = TruthEstimators(plain_export)
    import posebooth.export.scoring as scoring

    real = scoring.score_files

    def score_files(export, row, estimators):   # tell the truth estimators which frame is asked for
        est.frame = export.frames[row]
        return real(export, row, estimators)
    monkeypatch.setattr(scoring, "score_files", score_files)
    summary = score_export(plain_export, est)
    after = _npz(plain_export / "annotations.npz")
    assert set(after) == set(before) | set(KEYS)
    for k in before:   # everything else kept, byte for byte
        assert after[k].dtype == before[k].dtype and np.array_equal(after[k], before[k]), k
    F, P = before["coco17"].shape[:2]
    for k in KEYS:
        assert after[k].shape == (F, P) and after[k].dtype == np.float32
    seen = before["bbox"][..., 2] > 0
    assert seen.any()
    np.testing.assert_allclose(after["fidelity"][seen], 1.0, atol=1e-5)
    assert (after["fidelity"][~seen] == -1).all()
    manifest = json.loads((plain_export / "dataset.json").read_text())
    assert {k: v for k, v in manifest.items() if k != "fidelity"} == manifest_before
    assert summary["image_folder"] == "render" and manifest["fidelity"]["fidelity"]["scored"] == int(seen.sum())
    assert manifest["fidelity"]["fidelity"]["mean"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.gl
def test_posebooth_score_with_tiny_model_folders(plain_export, est_folders, tmp_path, capsys):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(plain_export, out)
    rc = main(["score", str(out), "--pose-model", str(est_folders[0]), "--depth-model", str(est_folders[1]),
               "--device", "cpu", "--quiet", "--overlays"])
    assert rc == 0
    for f in (0, 1):
        review = cv2.imread(str(out / f"fidelity/{f:06d}.png"))
        assert review is not None and review.shape == (64, 64, 3)
    assert capsys.readouterr().out.startswith("fidelity: mean ")
    ann = _npz(out / "annotations.npz")
    seen = ann["bbox"][..., 2] > 0
    for k in KEYS:
        assert ((ann[k][seen] >= 0) & (ann[k][seen] <= 1)).all() and (ann[k][~seen] == -1).all()
    np.testing.assert_allclose(ann["fidelity"][seen], np.sqrt(ann["fidelity_pck"] * ann["fidelity_depth"])[seen],
                               rtol=1e-5)
    fid = json.loads((out / "dataset.json").read_text())["fidelity"]
    assert fid["pose_model"] == str(est_folders[0]) and fid["depth_model"] == str(est_folders[1])


@pytest.mark.hostile
def test_score_refuses_a_folder_that_is_not_an_export(tmp_path, capsys):
    assert main(["score", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "dataset.json" in err and str(tmp_path) in err


@pytest.mark.hostile
@pytest.mark.gl
def test_score_names_a_damaged_annotations_file(plain_export, tmp_path, capsys):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(plain_export, out)
    (out / "annotations.npz").write_bytes(b"PK\x03\x04 not really")
    assert main(["score", str(out), "--pose-model", "none", "--depth-model", "x/y"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "annotations.npz" in err and "not a readable .npz" in err


@pytest.mark.hostile
def test_render_scoring_options_need_each_other(tmp_path, capsys):
    scene = tmp_path / "scene.json"
    save_scene(_scene(1, 1), scene)
    for argv, words in ((["--min-fidelity", "0.5"], "need --score"),
                        (["--score"], "--score needs --model"),
                        (["--score", "--model", "m", "--retries", "3"], "--retries needs --min-fidelity"),
                        (["--score", "--model", "m", "--min-fidelity", "2"], "between 0 and 1")):
        assert main(["render", str(scene), "--out", str(tmp_path / "o"), *argv]) == 2, argv
        assert words in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.fixture
def in_process_render(hr, monkeypatch):
    """`posebooth render` run by main() in this process (the CLI in a
    subprocess costs ~30 s of imports on 2 shared cores): the test body, the
    session's renderer, and no process-wide export settings."""
    import posebooth.assets.registry as registry
    import posebooth.cli.render as render
    import posebooth.viewport.headless as headless

    class Shared:   # the session renderer; the export must not close it
        def render(self, *a, **k):
            return hr.render(*a, **k)

        def close(self):
            pass
    monkeypatch.setattr(registry, "get_body", lambda spec, model_dir=None: fake_body_for(spec))
    monkeypatch.setattr(headless, "HeadlessRenderer", Shared)
    monkeypatch.setattr(render, "prepare_export_process", lambda with_model: None)


@pytest.mark.gl
def test_render_score_end_to_end_and_rescoring_agrees(tmp_path, est_folders, in_process_render, capsys):
    """`posebooth render --model --score` scores each frame as it is generated;
    `posebooth score` on the same files afterwards gives the same numbers."""
    scene = tmp_path / "scene.json"
    save_scene(_scene(2, 2), scene)
    model = tm.save_tiny_controlnet_pipeline(tmp_path / "tiny-cn")
    out = tmp_path / "out"
    rc = main(["render", str(scene), "--out", str(out), "--model", str(model), "--steps", "2", "--seed", "77",
               "--device", "cpu", "--quiet", "--score", "--pose-model", str(est_folders[0]),
               "--depth-model", str(est_folders[1])])
    assert rc == 0, capsys.readouterr().err
    ann = _npz(out / "annotations.npz")
    assert set(ann) == set(FrameAnnotations.NPZ_KEYS) | set(KEYS)
    manifest = json.loads((out / "dataset.json").read_text())
    fid = manifest["fidelity"]
    assert fid["image_folder"] == "rgb" and manifest["complete"]
    assert [(a["frame"], a["seed"], a["kept"]) for a in fid["attempts"]] == [(0, 77, True), (1, 77, True)]
    assert manifest["generator"]["fidelity"]["pose_model"] == str(est_folders[0])
    for a, row in zip(fid["attempts"], range(2)):
        np.testing.assert_allclose(a["fidelity"], ann["fidelity"][row], atol=1e-6)
    # `posebooth score` re-scores from the files alone: the same numbers.
    assert main(["score", str(out), "--pose-model", str(est_folders[0]), "--depth-model", str(est_folders[1]),
                 "--device", "cpu", "--quiet"]) == 0
    again = _npz(out / "annotations.npz")
    for k in KEYS:
        np.testing.assert_allclose(again[k], ann[k], atol=1e-5)


class FailFirst:
    """Injected estimators: the pose answer is far off for the first attempt of
    `failing` frames (PCK 0), and the truth afterwards (from the RenderedFrame
    the spy below saw)."""

    def __init__(self, failing):
        self.failing, self.truth, self.frame, self.calls = set(failing), None, None, {}
        self.depth = None

    def settings(self):
        return {"pose_model": "fail-first", "depth_model": None}

    def pose(self, image, boxes):
        n = self.calls[self.frame] = self.calls.get(self.frame, 0) + 1
        visible = [k for k in range(len(self.truth.bbox)) if self.truth.bbox[k, 2] > 0
                   and (self.truth.coco17[k, :, 2] == 2).any()]
        kp = self.truth.coco17[visible, :, :2]
        return kp + 1000.0 if (self.frame in self.failing and n == 1) else kp


class Spy:
    """The SceneGenerator, showing each frame's truth to FailFirst and keeping
    every image it generated."""

    def __init__(self, inner, est):
        self.inner, self.est, self.images = inner, est, []
        self.control_kinds, self.settings = inner.control_kinds, inner.settings

    def __call__(self, rendered, **kw):
        self.est.truth, self.est.frame = rendered.annotations(), rendered.frame
        res = self.inner(rendered, **kw)
        self.images.append((rendered.frame, res.seed, res.rgb.copy()))
        return res

    def close(self):
        self.inner.close()


@pytest.fixture(scope="module")
def backend():
    return make_backend("sd15")


@pytest.mark.gl
@pytest.mark.parametrize("strategy", ["fixed-seed", "previous-frame"])
def test_min_fidelity_regenerates_a_failing_frame_and_records_both_seeds(hr, tmp_path, backend, strategy):
    scene = _scene(1, 3)
    est = FailFirst(failing={1})
    spy = Spy(local_generator(backend, scene.generation, "tiny", seed=500, steps=2, strategy=strategy), est)
    out = tmp_path / "out"
    gen = ScoringGenerator(spy, est, min_fidelity=0.5, retries=3, on_scored=record_writer(out))
    try:
        export_scene(scene, out, renderer=hr, body_for=fake_body_for, generator=gen, progress=False)
        summary = score_export(out, est, settings={"min_fidelity": 0.5, "retries": 3}, use_records=True)
    finally:
        gen.close()
    assert [(f, s) for f, s, _ in spy.images] == [(0, 500), (1, 500), (1, 501), (2, 500)]
    assert [(a["frame"], a["seed"], a["kept"]) for a in summary["attempts"]] == \
        [(0, 500, True), (1, 500, False), (1, 501, True), (2, 500, True)]
    assert summary["attempts"][1]["pck"] == [0.0] and summary["attempts"][2]["pck"] == [1.0]
    assert summary["frames_below"] == []
    ann = _npz(out / "annotations.npz")
    assert ann["seed"].tolist() == [500, 501, 500]
    assert ann["fidelity"].tolist() == [[1.0], [1.0], [1.0]]
    # The kept image is the retry's, and it differs from the failed attempt.
    written = cv2.cvtColor(cv2.imread(str(out / "rgb/000001.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(written, spy.images[2][2]) and not np.array_equal(written, spy.images[1][2])
    record = json.loads((out / ".posebooth/fidelity/000001.json").read_text())
    assert [a["seed"] for a in record["attempts"]] == [500, 501] and record["kept"] == 1


@pytest.mark.gl
def test_retries_stop_at_the_limit_and_the_frame_is_listed_below(hr, tmp_path, backend):
    scene = _scene(1, 1)

    class Never(FailFirst):
        def pose(self, image, boxes):
            return super().pose(image, boxes) + 1000.0
    est = Never(failing=())
    spy = Spy(local_generator(backend, scene.generation, "tiny", seed=9, steps=2), est)
    out = tmp_path / "out"
    gen = ScoringGenerator(spy, est, min_fidelity=0.9, retries=2, on_scored=record_writer(out))
    export_scene(scene, out, renderer=hr, body_for=fake_body_for, generator=gen, progress=False)
    summary = score_export(out, est, settings={"min_fidelity": 0.9, "retries": 2}, use_records=True)
    assert [a["seed"] for a in summary["attempts"]] == [9, 10, 11]
    assert summary["frames_below"] == [0] and _npz(out / "annotations.npz")["seed"].tolist() == [11]


def test_a_clip_retry_rewinds_to_the_state_before_the_frame():
    """ClipRun(retry=True): the frame's own seed, the same frame index, and the
    previous-frame strategy starts from the frame before (then from the retry)."""
    import dataclasses

    from posebooth.frame.request import GenerationResult
    from posebooth.pipeline.clips import ClipOptions, ClipRun
    from pipeline_fixtures import make_request

    seen = []

    class Backend:
        def generate(self, req, on_step=None):
            seen.append((req.frame_index, req.seed, None if req.init_image is None else int(req.init_image[0, 0, 0])))
            img = np.full((req.height, req.width, 3), len(seen), np.uint8)
            return GenerationResult(req.request_id, img, req.seed)

    run = ClipRun(Backend(), ClipOptions("previous-frame", strength=0.5))
    req = make_request(seed=3)
    run.step(req)                                              # frame 0 -> image 1
    run.step(req)                                              # frame 1 from image 1 -> image 2
    run.step(dataclasses.replace(req, seed=4), retry=True)     # frame 1 again from image 1 -> image 3
    run.step(req)                                              # frame 2 from image 3
    assert seen == [(0, 3, None), (1, 3, 1), (1, 4, 1), (2, 3, 3)]


@pytest.mark.gl
def test_score_a_recipe_dataset_row_by_row_with_perfect_estimators(hr, tmp_path, monkeypatch):
    """Recipe datasets: one score per shard row; the truth estimators read the
    shard's own rows and depth/ PNGs (person ids from mask/)."""
    from posebooth.dataset.recipe import Recipe
    from posebooth.dataset.run import run_recipe
    import posebooth.dataset.scoring as dscoring

    root = tmp_path / "ds"
    run_recipe(Recipe.model_validate({"samples": 2, "camera": {"size": [64, 64]}, "people": {"count": [2, 2]},
                                      "output": {"shard_size": 1, "passes": ["render", "depth", "mask"]}}),
               root, progress=False, renderer=hr)
    before = {p: _npz(p) for p in sorted(root.glob("shards/*/annotations.npz"))}
    seen = {}

    class Truth:
        def settings(self):
            return {"pose_model": "truth", "depth_model": "truth"}

        def pose(self, image, boxes):
            return seen["coco"][[k for k in range(len(seen["bbox"])) if seen["bbox"][k, 2] > 0
                                 and (seen["coco"][k, :, 2] == 2).any()], :, :2]

        def depth(self, image):
            return np.where(seen["depth"] > 0, 1.0 / np.maximum(seen["depth"], 1e-9), 0.0)

    real = dscoring.score_frame

    def spy(image, coco, bbox, depth_m, instance, **kw):
        seen.update(coco=coco, bbox=bbox, depth=depth_m)
        return real(image, coco, bbox, depth_m, instance, **kw)
    monkeypatch.setattr(dscoring, "score_frame", spy)
    summary = dscoring.score_recipe_dataset(root, Truth())
    for path, old in before.items():
        new = _npz(path)
        assert set(new) == set(old) | set(KEYS)
        assert all(np.array_equal(new[k], old[k]) for k in old)
        R = len(old["sample"])
        seen_rows = old["bbox"][:, 2] > 0
        for k in KEYS:
            assert new[k].shape == (R,)
        np.testing.assert_allclose(new["fidelity"][seen_rows], 1.0, atol=1e-5)
    assert summary["fidelity"]["scored"] == sum(int((o["bbox"][:, 2] > 0).sum()) for o in before.values())
    assert json.loads((root / "dataset.json").read_text())["fidelity"]["image_folder"] == "render"


@pytest.mark.gl
def test_in_the_app_the_estimators_run_on_the_generation_worker(hr, tmp_path, backend):
    """The GUI's export path: steps and scores both run as jobs on the worker
    thread that owns the model (export.scoring.on_worker), none on the caller's."""
    import threading

    from posebooth.export.generator import model_info, worker_generator
    from posebooth.export.scoring import on_worker
    from posebooth.pipeline.worker import GenerationWorker

    scene = _scene(1, 1)
    scene = scene.model_copy(update={"generation": scene.generation.model_copy(update={"steps": 2})})
    threads = []

    class Est(FailFirst):
        def pose(self, image, boxes):
            threads.append(threading.current_thread())
            return super().pose(image, boxes)
    est = Est(failing={0})
    worker = GenerationWorker(backend=backend)
    try:
        import torch   # one torch thread on the worker too (a thread's own setting; faster for tiny models)
        worker.call(lambda backend, cancelled: torch.set_num_threads(1)).result()
        inner, steps = worker_generator(worker, scene.generation, model_info(backend, "tiny"), seed=40)
        spy = Spy(inner, est)
        gen = ScoringGenerator(spy, est, min_fidelity=0.5, retries=1, call=on_worker(worker))
        export_scene(scene, tmp_path / "out", renderer=hr, body_for=fake_body_for, generator=gen, progress=False)
        gen.close()
    finally:
        worker.shutdown()
    assert [(f, s) for f, s, _ in spy.images] == [(0, 40), (0, 41)]
    assert len(threads) == 2 and threading.current_thread() not in threads
    assert len({t.ident for t in threads}) == 1


def test_the_fidelity_overlay_joins_each_estimate_to_its_true_keypoint():
    from posebooth.export.fidelity_overlay import HIT, MISS, draw_fidelity_overlay

    coco = np.zeros((1, 17, 3))
    coco[0, 0] = [20.5, 20.5, 2]        # estimated 20 px off: beyond the limit (0.05 x 200 = 10 px)
    coco[0, 1] = [20.5, 50.5, 2]        # estimated 9 px off: within
    coco[0, 2] = [50.5, 50.5, 1]        # occluded: a grey ring, no line
    est = np.zeros((1, 17, 2)) + [5.5, 60.5]
    est[0, 0], est[0, 1], est[0, 2] = [40.5, 20.5], [29.5, 50.5], [62.5, 62.5]
    img = draw_fidelity_overlay(np.zeros((64, 64, 3), np.uint8), coco, np.array([[0, 0, 120, 160.0]]), est,
                                np.array([True]), colors=((0.0, 0.0, 1.0),))
    def like(px, rgb):   # anti-aliased: the same channels lead, at >= 60% brightness
        px, rgb = np.asarray(px, float), np.asarray(rgb, float)
        return px.max() >= 0.6 * rgb.max() and np.abs(px / px.max() - rgb / rgb.max()).max() < 0.3

    assert tuple(img[20, 20]) == (0, 0, 255)          # the true keypoint, filled, in the person's colour
    assert like(img[20, 30], MISS)                    # the line to an estimate beyond the PCK limit
    assert like(img[20, 40], (255, 255, 255))         # the estimate's cross
    assert like(img[50, 25], HIT)                     # the line to an estimate within it
    assert not img[50, 50].any() and img[50, 47].any()   # the occluded keypoint: a hollow ring
    assert not img[55, 55].any() and not img[57, 57].any()   # no line from an occluded keypoint to its estimate


@pytest.mark.hostile
@pytest.mark.gl
@pytest.mark.parametrize("damage", ["small", "missing", "garbage"])
def test_score_names_a_bad_frame_image(plain_export, tmp_path, capsys, damage):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(plain_export, out)
    image = out / "render/000001.png"
    if damage == "small":
        cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    elif damage == "missing":
        image.unlink()
    else:
        image.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    before = (out / "annotations.npz").read_bytes()

    class Est:
        pose = depth = None

        def settings(self):
            return {}
    from posebooth.export.scoring import ScoreError

    with pytest.raises(ScoreError) as e:
        score_export(out, Est())
    msg = str(e.value)
    assert "\n" not in msg and str(image) in msg
    assert {"small": "32x32", "missing": "missing", "garbage": "not a readable"}[damage] in msg
    assert (out / "annotations.npz").read_bytes() == before   # nothing written
