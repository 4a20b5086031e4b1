"""A recipe with a diffusion model: a tiny random-weight ControlNet pipeline
saved as a diffusers folder runs on every frame of every sample; the rgb
images, seeds and the exact control images are written, and a re-run in
another folder gives the same bytes."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fixtures import tiny_models as tm
from hostile_harness import assert_clear_error, run_cli
from posebooth.dataset.recipe import Recipe

pytestmark = [pytest.mark.gl, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(tm.save_tiny_controlnet_pipeline(tmp_path_factory.mktemp("models") / "tiny-cn"))


def _recipe(model: str, **extra) -> Recipe:
    return Recipe.model_validate({"samples": 2, "clip_frames": 2, "camera": {"size": [64, 64]},
                                  "people": {"count": [1, 2]}, "output": {"shard_size": 8,
                                  "passes": ["render", "depth", "control"]},
                                  "generation": {"model": model, "steps": 2, "controls": ["depth"],
                                                 "clip_strategy": "previous-frame"}, **extra})


def test_a_model_generates_every_frame_and_the_run_repeats_exactly(tmp_path, tiny, hr):
    from posebooth.dataset.run import run_recipe

    a = run_recipe(_recipe(tiny), tmp_path / "a", progress=False, renderer=hr)
    b = run_recipe(_recipe(tiny), tmp_path / "b", progress=False, renderer=hr)
    assert a["complete"] and a["generator"]["model"] == tiny and a["generator"]["clip_strategy"] == "previous-frame"
    rgb = sorted((tmp_path / "a").glob("shards/*/rgb/*.png"))
    assert len(rgb) == 4
    for f in rgb:
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
        img = cv2.imread(str(f))
        assert img.shape == (64, 64, 3) and img.std() > 0
    with np.load(tmp_path / "a" / "shards" / "000000" / "annotations.npz") as z:
        seeds, samples = z["seed"], z["sample"]
    metas = [json.loads(line) for line in (tmp_path / "a/shards/000000/samples.jsonl").read_text().splitlines()]
    for s, seed in zip(samples, seeds):
        assert seed == metas[s]["generation_seed"] >= 0
    coco = json.loads((tmp_path / "a/shards/000000/coco.json").read_text())
    assert all(im["file_name"].startswith("rgb/") for im in coco["images"])


@pytest.mark.hostile
def test_a_model_without_the_asked_control_is_one_line(tmp_path, tiny):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'samples = 1\n[camera]\nsize = [64, 64]\n[generation]\nmodel = "{tiny}"\n'
                      f'controls = ["openpose"]\nsteps = 2\n')
    assert_clear_error(run_cli("dataset", "run", str(recipe), "--out", str(tmp_path / "o"), "--quiet"),
                       "generation.controls", "openpose")
    recipe.write_text(f'samples = 1\n[camera]\nsize = [60, 64]\n[generation]\nmodel = "{tiny}"\nsteps = 2\n')
    assert_clear_error(run_cli("dataset", "run", str(recipe), "--out", str(tmp_path / "o2"), "--quiet"),
                       "camera.size", "multiple of 8")
    recipe.write_text('samples = 1\n[generation]\nmodel = "no/such-model-here"\n')
    assert_clear_error(run_cli("dataset", "run", str(recipe), "--out", str(tmp_path / "o3"), "--quiet"),
                       "no/such-model-here")
