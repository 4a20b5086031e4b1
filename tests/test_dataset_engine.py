"""The dataset engine: recipes, deterministic samples, runs in one process,
in two, resumed after a kill, and (tests/test_dataset_ray.py) on Ray.

Runs the real anny body (its phenotypes are what a recipe draws) and the
headless renderer, on small images."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hostile_harness import assert_clear_error, run_cli
from posebooth.dataset.recipe import Recipe, RecipeError, parse_recipe, starter_text

pytestmark = [pytest.mark.gl, pytest.mark.slow]

SMALL = {"samples": 6, "camera": {"size": [96, 96]}, "people": {"count": [1, 3]},
         "output": {"shard_size": 4, "passes": ["render", "depth", "mask", "control"]},
         "generation": {"controls": ["depth", "openpose"]}}


def _recipe(**extra) -> Recipe:
    return Recipe.model_validate({**SMALL, **extra})


def _toml(path: Path, recipe: Recipe) -> Path:
    """The recipe as a TOML file (written by hand: tomllib only reads)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)
    data = recipe.model_dump(mode="json", exclude_none=True)   # TOML has no null: an unset option is absent
    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, (dict, list)) or k == "x"]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += [f"[{k}]"] + [f"{kk} = {value(vv)}" for kk, vv in v.items()]
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines += [f"[[{k}]]"] + [f"{kk} = {value(vv)}" for kk, vv in item.items()]
    path.write_text("\n".join(lines) + "\n")
    assert parse_recipe(path.read_text()) == recipe
    return path


def _shard_arrays(folder: Path) -> dict:
    out = {}
    for npz in sorted(folder.glob("shards/*/annotations.npz")):
        with np.load(npz) as z:
            out.update({f"{npz.parent.name}/{k}": z[k] for k in z.files})
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.glob("shards/*/*/*.png"))}


def test_the_starter_recipe_is_the_default_and_documents_every_key():
    assert parse_recipe(starter_text(), "starter") == Recipe()
    for section, model in Recipe.model_fields.items():
        assert section in starter_text(), section


@pytest.mark.hostile
@pytest.mark.parametrize("text, named", [("samples = 0", "samples"), ("[people]\ncount = [3, 1]", "people"),
                                         ("bogus = 1", "bogus"), ("[camera]\nsize = [8]", "camera.size"),
                                         ("x = [", "TOML"), ("[[poses]]\nkind = 'dreams'", "poses.0.kind"),
                                         ("[camera]\nfocal_mm = [1e308, 1e309]", "camera.focal_mm")])
def test_bad_recipes_are_one_line_naming_the_key(text, named):
    with pytest.raises(RecipeError) as e:
        parse_recipe(text, "r.toml")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("r.toml: ") and named in msg


@pytest.mark.hostile
def test_cli_bad_recipe_and_missing_motion(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("samples = -3\n")
    assert_clear_error(run_cli("dataset", "check", str(bad)), "bad.toml", "samples")
    missing = tmp_path / "m.toml"
    missing.write_text('[[poses]]\nkind = "motion"\npaths = ["no/such/walk.bvh"]\n')
    assert_clear_error(run_cli("dataset", "check", str(missing)), "walk.bvh")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert_clear_error(run_cli("dataset", "run", str(fifo), "--out", str(tmp_path / "o")), "fifo.toml")


def test_a_sample_depends_only_on_seed_and_index():
    from posebooth.assets.registry import get_body
    from posebooth.dataset.poses import PoseLibrary
    from posebooth.dataset.sampling import draw_sample
    from posebooth.scene.io import scene_to_json

    recipe = _recipe()
    lib = PoseLibrary(recipe)
    a = [scene_to_json(draw_sample(recipe, i, lib, get_body).scene) for i in (3, 1, 3)]
    assert a[0] == a[2] and a[0] != a[1]
    other_seed = scene_to_json(draw_sample(recipe, 3, lib, get_body, seed=99).scene)
    assert other_seed != a[0]


def test_one_and_two_processes_write_the_same_dataset(tmp_path, hr):
    from posebooth.dataset.run import run_recipe

    recipe = _recipe()
    one = run_recipe(recipe, tmp_path / "one", workers=1, progress=False, renderer=hr)
    two = run_recipe(recipe, tmp_path / "two", workers=2, progress=False)
    assert one["complete"] and two["complete"] and one["stats"] == two["stats"]
    a, b = _shard_arrays(tmp_path / "one"), _shard_arrays(tmp_path / "two")
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    # the truth holds: each row's 3D, projected with its own camera, lands on its 2D keypoints
    z = a["000000/joints3d_cam"][..., 2]
    uvw = np.einsum("rij,rkj->rki", a["000000/cam_K"].astype(np.float64), a["000000/joints3d_cam"])
    proj = uvw[..., :2] / uvw[..., 2:]
    front = z > 0
    np.testing.assert_allclose(proj[front], a["000000/joints2d"][front], atol=1e-3)
    assert set(np.unique(a["000000/sample"])) == {0, 1, 2, 3}


def test_a_killed_run_resumes_to_the_same_files(tmp_path, hr):
    from posebooth.dataset.run import run_recipe

    recipe = _recipe(samples=8)
    toml = _toml(tmp_path / "r.toml", recipe)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "posebooth", "dataset", "run", str(toml), "--out", str(out),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(list(out.glob(".posebooth/samples/*/*.npz"))) < 3 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob(".posebooth/samples/*/*.npz")))
    assert 3 <= done_before < 8
    r = run_cli("dataset", "run", str(toml), "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    whole = run_recipe(recipe, tmp_path / "whole", progress=False, renderer=hr)
    assert whole["complete"]
    assert _files(out) == _files(tmp_path / "whole")
    a, b = _shard_arrays(out), _shard_arrays(tmp_path / "whole")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    info = run_cli("dataset", "info", str(out), "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["complete"] is True


def test_a_run_with_other_settings_is_refused(tmp_path, hr):
    from posebooth.dataset.run import run_recipe

    run_recipe(_recipe(samples=1), tmp_path / "d", progress=False, renderer=hr)
    toml = _toml(tmp_path / "r.toml", _recipe(samples=1, seed=5))
    assert_clear_error(run_cli("dataset", "run", str(toml), "--out", str(tmp_path / "d")), "another recipe")


@pytest.mark.hostile
def test_shards_without_run_settings_are_refused(tmp_path):
    (tmp_path / "d" / "shards" / "000000").mkdir(parents=True)
    toml = _toml(tmp_path / "r.toml", _recipe(samples=1))
    assert_clear_error(run_cli("dataset", "run", str(toml), "--out", str(tmp_path / "d")), "no .posebooth/run.json")
