"""[generation.score]: a recipe dataset scored as it is generated. A sample
below min_fidelity is generated again alone with seed + 1; both attempts are
in samples.jsonl, the kept one's seed and scores in the shard's rows, and
the rest of its batch group is what a run without scoring makes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fixtures import tiny_estimators as te
from fixtures import tiny_models as tm
from posebooth.dataset.recipe import Recipe

pytestmark = [pytest.mark.gl, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(tm.save_tiny_controlnet_pipeline(tmp_path_factory.mktemp("models") / "tiny-cn"))


def _recipe(model: str, score: dict | None) -> Recipe:
    gen = {"model": model, "steps": 2, "controls": ["depth"], "batch": 2, "clip_strategy": "fixed-seed"}
    if score is not None:
        gen["score"] = score
    return Recipe.model_validate({"samples": 2, "clip_frames": 1, "camera": {"size": [64, 64]},
                                  "people": {"count": [1, 1]}, "generation": gen,
                                  "output": {"shard_size": 8, "passes": ["render", "depth", "mask"]}})


class _FailsFirstCall:
    """Pose 'model' that answers the ground truth (looked up by box), except
    on its very first call, where every keypoint is 1000 px away."""

    def __init__(self, truths: list[dict]):
        self.truths, self.calls = truths, 0
        self.source = "test/fails-first"

    def __call__(self, image, boxes):
        self.calls += 1
        out = []
        for box in np.asarray(boxes):
            t, k = next((t, k) for t in self.truths for k in range(len(t["bbox"]))
                        if np.allclose(t["bbox"][k], box, atol=1e-3))
            out.append(t["coco17"][k, :, :2] + (1000.0 if self.calls == 1 else 0.0))
        return np.stack(out)


def test_a_sample_below_the_threshold_is_regenerated_with_the_next_seed(tmp_path, tiny, hr, monkeypatch):
    from posebooth.dataset import generation_scoring as gs
    from posebooth.dataset import work
    from posebooth.dataset.run import run_recipe
    from posebooth.pipeline.estimators import Estimators

    truths: list[dict] = []
    real_truth = gs.truth_of
    monkeypatch.setattr(work, "truth_of", lambda r: truths.append(real_truth(r)) or truths[-1])
    pose = _FailsFirstCall(truths)
    monkeypatch.setattr(gs.estimator_models, "load_estimators", lambda *a, **k: Estimators(pose, None))

    plain = run_recipe(_recipe(tiny, None), tmp_path / "plain", progress=False, renderer=hr)
    scored = run_recipe(_recipe(tiny, {"min_fidelity": 0.9, "retries": 2}), tmp_path / "scored",
                        progress=False, renderer=hr)
    assert plain["complete"] and scored["complete"] and "fidelity" not in plain
    shard = tmp_path / "scored/shards/000000"
    metas = [json.loads(line) for line in (shard / "samples.jsonl").read_text().splitlines()]
    first = metas[0]["generation_seed"]
    # sample 0 failed once (pck 0), then passed with seed + 1; sample 1 passed at once
    a0 = metas[0]["fidelity"]["attempts"]
    assert [a["seeds"] for a in a0] == [[first], [first + 1]] and metas[0]["fidelity"]["kept"] == 1
    assert a0[0]["fidelity"] == 0.0 and a0[1]["fidelity"] == 1.0
    assert [a["seeds"] for a in metas[1]["fidelity"]["attempts"]] == [[metas[1]["generation_seed"]]]
    with np.load(shard / "annotations.npz") as z:
        assert z["seed"].tolist() == [first + 1, metas[1]["generation_seed"]]
        assert z["fidelity"].tolist() == [1.0, 1.0] and z["fidelity_pck"].tolist() == [1.0, 1.0]
        assert z["fidelity_depth"].tolist() == [-1.0, -1.0]   # no depth model: not scored
    # the retried image is another; its group partner is the unscored run's, byte for byte
    rgb = sorted(p.name for p in (shard / "rgb").iterdir())
    assert len(rgb) == 2
    plain_rgb = tmp_path / "plain/shards/000000/rgb"
    assert (shard / "rgb" / rgb[0]).read_bytes() != (plain_rgb / rgb[0]).read_bytes()
    assert (shard / "rgb" / rgb[1]).read_bytes() == (plain_rgb / rgb[1]).read_bytes()
    summary = json.loads((tmp_path / "scored/dataset.json").read_text())["fidelity"]
    assert summary["samples_retried"] == [0] and summary["samples_below"] == []
    assert [(a["sample"], a["seeds"], a["kept"]) for a in summary["attempts"]] == [
        (0, [first], False), (0, [first + 1], True), (1, [metas[1]["generation_seed"]], True)]


def test_real_estimators_score_as_posebooth_score_does(tmp_path, tiny, hr):
    """The tiny ViTPose / Depth Anything folders score the run as it is made;
    `posebooth score` of the finished folder (dataset.scoring, which reads the
    files back) finds the same numbers."""
    from posebooth.dataset.run import run_recipe
    from posebooth.dataset.scoring import score_recipe_dataset
    from posebooth.pipeline.estimators import load_estimators

    pose = str(te.save_tiny_vitpose(tmp_path / "vitpose"))
    depth = str(te.save_tiny_depth_anything(tmp_path / "da"))
    recipe = _recipe(tiny, {"pose_model": pose, "depth_model": depth})
    run_recipe(recipe, tmp_path / "d", progress=False, renderer=hr)
    npz = tmp_path / "d/shards/000000/annotations.npz"
    with np.load(npz) as z:
        during = {k: z[k].copy() for k in ("fidelity", "fidelity_pck", "fidelity_depth")}
    assert during["fidelity"].shape == (2,)
    assert ((during["fidelity_pck"] >= 0) & (during["fidelity_pck"] <= 1)).all()
    score_recipe_dataset(tmp_path / "d", load_estimators(pose, depth, device="cpu"))
    with np.load(npz) as z:
        for k, v in during.items():
            np.testing.assert_allclose(z[k], v, atol=1e-5)


@pytest.mark.hostile
def test_a_missing_estimator_is_one_line_naming_it(tiny):
    """The same ModelNotFoundError the CLI prints as one line (like a missing diffusion model)."""
    from posebooth.dataset.generation_scoring import load_scorer
    from posebooth.pipeline.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError) as e:
        load_scorer(_recipe(tiny, {"pose_model": "no-such/pose-model", "depth_model": ""}))
    assert "no-such/pose-model" in str(e.value) and "\n" not in str(e.value)
    assert load_scorer(_recipe(tiny, None)) is None
    from posebooth.dataset.recipe import RecipeError, parse_recipe
    with pytest.raises(RecipeError) as e:
        parse_recipe('samples = 1\n[generation.score]\nmin_fidelity = 0.5\n')
    assert "generation.score" in str(e.value) and "generation.model" in str(e.value)
