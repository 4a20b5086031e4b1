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
                       "generation.model", "no/such-model-here")
    assert not (tmp_path / "o3").exists()   # checked before a worker starts or a file is written


def _batched(model: str) -> Recipe:
    """3 samples in groups of 2 (the last group holds one), 2 fixed-seed frames each, with overlays."""
    return _recipe(model, samples=3).model_copy(update={
        "generation": _recipe(model).generation.model_copy(update={"batch": 2, "clip_strategy": "fixed-seed"}),
        "output": _recipe(model).output.model_copy(update={"passes": ["render", "depth", "control", "overlay"]})})


def test_batched_generation_is_the_same_here_resumed_and_on_ray(tmp_path, tiny, hr):
    """Groups of `generation.batch` samples go through the model in one call,
    the same groups everywhere: one process, a resumed run (a group is
    generated whole) and Ray's render tasks feeding a diffusion actor write
    the same bytes. The batch keeps each sample's own seed."""
    import ray

    from test_dataset_engine import _files, _shard_arrays
    from posebooth.dataset.run import run_recipe

    recipe = _batched(tiny)
    a = run_recipe(recipe, tmp_path / "a", progress=False, renderer=hr)
    assert a["complete"] and len(list((tmp_path / "a").glob("shards/*/rgb/*.png"))) == 6
    with np.load(tmp_path / "a/shards/000000/annotations.npz") as z:
        seeds, samples = z["seed"], z["sample"]
    metas = [json.loads(line) for line in (tmp_path / "a/shards/000000/samples.jsonl").read_text().splitlines()]
    assert len(set(m["generation_seed"] for m in metas)) == 3
    assert all(seed == metas[s]["generation_seed"] for s, seed in zip(samples, seeds))

    # Resume with sample 1 missing: its group (0, 1) is generated whole again.
    from posebooth.dataset.layout import sample_record
    b = tmp_path / "b"
    run_recipe(recipe, b, progress=False, renderer=hr)
    (b / sample_record(1, 8)).unlink()
    for f in b.glob("shards/*/rgb/00000001_*.png"):
        f.unlink()
    assert run_recipe(recipe, b, progress=False, renderer=hr)["complete"]

    # A declared GPU gives the render tasks + diffusion actor path (the
    # model runs on the CPU: torch sees no CUDA); 0 GPUs gives plain tasks.
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        c = run_recipe(recipe, tmp_path / "c", use_ray=True, gpus_per_task=1, progress=False)
        d = run_recipe(recipe, tmp_path / "d", use_ray=True, gpus_per_task=0, progress=False)
    finally:
        ray.shutdown()
    assert c["complete"] and d["complete"]
    for other in (b, tmp_path / "c", tmp_path / "d"):
        x, y = _shard_arrays(tmp_path / "a"), _shard_arrays(other)
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)
        assert _files(tmp_path / "a") == _files(other)


@pytest.mark.hostile
def test_batches_of_dependent_clip_frames_are_refused(tiny):
    from posebooth.dataset.recipe import parse_recipe, RecipeError
    with pytest.raises(RecipeError, match="generation.batch.*fixed-seed"):
        parse_recipe(f'clip_frames = 3\n[generation]\nmodel = "{tiny}"\nbatch = 4\nclip_strategy = "previous-frame"\n')
