"""`posebooth dataset fit-smpl`: the user's SMPL-family model fitted to a dataset's anny bodies.

References: meshes posed from the (synthetic) model itself, whose true joints
the fit must recover from a perturbed start; smplx's own forward for the
transl convention; trimesh for point-to-surface distances. The synthetic
model files (tests/fixtures/smpl_models.py) stand in for the licensed ones.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures.smpl_models import write_synthetic_model
from hostile_harness import assert_clear_error, run_cli

pytestmark = pytest.mark.skipif(importlib.util.find_spec("smplx") is None, reason="smplx not installed")

QUICK = dict(points=128, rounds=2, round_steps=1, joint_steps=4)   # runs, does not converge


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("smpl_models")
    for kind in ("smpl", "smplx"):
        write_synthetic_model(root, kind)
    return root


def _body(kind, root):
    from posebooth.assets.smpl_body import SmplBody
    return SmplBody(kind, "neutral", root)


def test_point_to_mesh_distance_matches_trimesh():
    import trimesh

    from posebooth.dataset.surface_distance import point_to_mesh_distance

    mesh = trimesh.creation.icosphere(subdivisions=2)
    mesh.vertices = mesh.vertices * [1.0, 0.5, 0.3]
    pts = np.random.default_rng(0).normal(0, 0.7, (400, 3))
    ref = trimesh.proximity.closest_point(mesh, pts)[1]
    got = point_to_mesh_distance(torch.tensor(pts[None]), torch.tensor(mesh.vertices[None]),
                                 torch.tensor(mesh.faces)).numpy()[0]
    np.testing.assert_allclose(got, ref, atol=1e-9)


def _smplx_forward(body, fit):
    """The fitted parameters through smplx's own forward (its transl convention)."""
    m, b = body.torch_model, len(fit.betas)
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    n_body = 23 if body.kind == "smpl" else 21
    kw = dict(betas=t(fit.betas), global_orient=t(fit.global_orient), body_pose=t(fit.body_pose[:, :3 * n_body]),
              transl=t(fit.transl_smplx))
    if body.kind == "smplx":
        kw.update(left_hand_pose=torch.zeros(b, 45), right_hand_pose=torch.zeros(b, 45), jaw_pose=torch.zeros(b, 3),
                  leye_pose=torch.zeros(b, 3), reye_pose=torch.zeros(b, 3),
                  expression=torch.zeros(b, m.num_expression_coeffs))
        m.batch_size = b
    with torch.no_grad():
        return m(**kw).joints[:, body.smpl24].numpy()


def test_the_fit_recovers_the_joints_of_the_models_own_meshes(model_root):
    from posebooth.dataset.smpl_fitter import FitSettings, SmplFitter
    from posebooth.dataset.surface_distance import point_to_mesh_distance

    body = _body("smpl", model_root)
    rng = np.random.default_rng(1)
    b = 2
    go, bp, pelvis = rng.normal(0, 0.5, (b, 3)), rng.normal(0, 0.3, (b, 69)), rng.normal([0, 1, 0], 0.5, (b, 3))
    betas = rng.normal(0, 1.0, (b, 10))
    truth = body.forward(go, bp, pelvis, betas)            # smplx's forward, transl = pelvis
    start = (go + rng.normal(0, 0.08, go.shape), bp + rng.normal(0, 0.08, bp.shape),
             pelvis + rng.normal(0, 0.02, pelvis.shape))
    before = np.linalg.norm(body.forward(*start).joints - truth.joints, axis=-1).mean()
    assert before > 0.02                                    # the start is centimetres off

    fit = SmplFitter(body, settings=FitSettings(points=256)).fit(truth.vertices, truth.joints, *start)
    err = np.linalg.norm(fit.joints - truth.joints, axis=-1)
    assert err.max() < 1e-3, err.max()
    np.testing.assert_allclose(fit.betas, betas, atol=0.05)
    surface = point_to_mesh_distance(torch.as_tensor(truth.vertices), fit.vertices, torch.as_tensor(body.faces))
    assert surface.mean() < 1e-3
    # transl_smplx is smplx's transl: smplx's own forward lands on the fitted joints
    np.testing.assert_allclose(_smplx_forward(body, fit), fit.joints, atol=1e-5)


def test_smplx_parameters_keep_smplx_conventions(model_root):
    from posebooth.dataset.smpl_fitter import FitSettings, SmplFitter

    body = _body("smplx", model_root)
    rng = np.random.default_rng(4)
    go, bp, pelvis = rng.normal(0, 0.4, (1, 3)), rng.normal(0, 0.2, (1, 69)), np.array([[0.3, 1.0, -2.0]])
    bp[:, 63:] = 0
    target = body.forward(go, bp, pelvis, rng.normal(0, 1.0, (1, 10)))
    fit = SmplFitter(body, settings=FitSettings(**QUICK)).fit(target.vertices, target.joints, go, bp, pelvis)
    assert fit.body_pose.shape == (1, 69) and not fit.body_pose[:, 63:].any()   # SMPL-X has no SMPL hand joints
    np.testing.assert_allclose(_smplx_forward(body, fit), fit.joints, atol=1e-5)
    assert np.linalg.norm(fit.joints - target.joints, axis=-1).mean() < 0.02


# -- datasets ------------------------------------------------------------------------------------------------

def _manifest(complete=True, shards=(0,)) -> dict:
    return {"format": "posebooth-recipe-dataset", "format_version": 1, "samples": 2, "complete": complete,
            "shards_assembled": list(shards), "stats": {"samples_done": 2 if complete else 1}}


def _write_dataset(root: Path, rows: dict, manifest: dict | None = None) -> Path:
    (root / "shards" / "000000").mkdir(parents=True)
    np.savez(root / "shards" / "000000" / "annotations.npz", **rows)
    (root / "dataset.json").write_text(json.dumps(manifest or _manifest()))
    return root


def _rows(n: int, seed: int = 0, anny=None) -> dict:
    """Rows as a dataset run writes them; with anny, joints3d_world are the posed anny body's."""
    rng = np.random.default_rng(seed)
    rows = {"global_orient": rng.normal(0, 0.3, (n, 3)), "body_pose": rng.normal(0, 0.15, (n, 69)),
            "transl": rng.normal([0, 0.9, 0], 0.3, (n, 3)), "body_shape": rng.uniform(0.2, 0.8, (n, 6)),
            "joints3d_world": np.zeros((n, 24, 3))}
    rows = {k: v.astype(np.float32) for k, v in rows.items()}
    if anny is not None:
        rows["joints3d_world"] = anny.forward(rows["global_orient"], rows["body_pose"].reshape(n, 23, 3),
                                              rows["transl"], rows["body_shape"]).joints
    rows.update(sample=np.arange(n) // 2, frame=np.zeros(n, np.int64), person=np.arange(n) % 2 + 1)
    return rows


def _check_fit_file(folder: Path, rows: dict, model_root: Path, kind="smpl") -> dict:
    with np.load(folder / "shards" / "000000" / "smpl_fit.npz") as z:
        fit = {k: z[k] for k in z.files}
    n = len(rows["sample"])
    shapes = {"betas": (n, 10), "global_orient": (n, 3), "body_pose": (n, 69), "transl_smplx": (n, 3),
              "j0": (n, 3), "joints3d_world": (n, 24, 3), "fit_error_mm": (n,), "joint_error_mm": (n,)}
    for key, shape in shapes.items():
        assert fit[key].shape == shape and np.isfinite(fit[key]).all(), key
    for key in ("sample", "frame", "person"):
        np.testing.assert_array_equal(fit[key], rows[key])
    assert str(fit["model"]) == kind and str(fit["gender"]) == "neutral"
    assert (fit["fit_error_mm"] > 0).all()
    # the recorded joints are the recorded parameters through smplx; the errors are what they say
    from types import SimpleNamespace
    np.testing.assert_allclose(_smplx_forward(_body(kind, model_root), SimpleNamespace(**fit)),
                               fit["joints3d_world"], atol=1e-5)
    np.testing.assert_allclose(fit["j0"] + fit["transl_smplx"], fit["joints3d_world"][:, 0], atol=1e-5)
    err = np.linalg.norm(fit["joints3d_world"] - rows["joints3d_world"], axis=-1).mean(1) * 1000
    np.testing.assert_allclose(fit["joint_error_mm"], err, rtol=1e-4)
    return fit


@pytest.mark.slow
def test_fit_smpl_cli_on_anny_bodies(tmp_path, model_root):
    from posebooth.assets.registry import get_body
    from posebooth.scene.model import BodySpec

    rows = _rows(3, anny=get_body(BodySpec(model="anny")))
    folder = _write_dataset(tmp_path / "d", rows)
    args = ("dataset", "fit-smpl", str(folder), "--model", "smpl", "--model-dir", str(model_root),
            "--points", "128", "--rounds", "2", "--quiet")
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "SMPL (neutral) fitted to 3 bodies" in r.stdout and "surface error mean" in r.stdout
    fit = _check_fit_file(folder, rows, model_root)
    summary = json.loads((folder / "dataset.json").read_text())["smpl_fit"]
    assert summary["bodies"] == 3 and summary["model"] == "smpl"
    assert summary["fit_error_mm"]["mean"] == pytest.approx(float(fit["fit_error_mm"].mean()), rel=1e-5)
    assert json.loads((folder / "dataset.json").read_text())["complete"] is True   # the rest is kept
    # fitted again only when something changed
    before = (folder / "shards" / "000000" / "smpl_fit.npz").read_bytes()
    again = run_cli(*args)
    assert again.returncode == 0 and "(0 fitted now" in again.stdout, again.stderr[-2000:]
    assert (folder / "shards" / "000000" / "smpl_fit.npz").read_bytes() == before
    # a damaged fit file is never trusted: fitted again, to the same numbers
    (folder / "shards" / "000000" / "smpl_fit.npz").write_bytes(before[:len(before) // 2])
    third = run_cli(*args)
    assert third.returncode == 0 and "(1 fitted now" in third.stdout, third.stderr[-2000:]
    np.testing.assert_allclose(_check_fit_file(folder, rows, model_root)["betas"], fit["betas"], atol=1e-6)
    print(f"synthetic SMPL on anny rows: fit error {fit['fit_error_mm']} mm, joint error {fit['joint_error_mm']} mm")


@pytest.mark.gl
@pytest.mark.slow
def test_fit_smpl_on_a_recipe_dataset(tmp_path, model_root, hr):
    from posebooth.dataset.fit_smpl import fit_dataset
    from posebooth.dataset.recipe import Recipe
    from posebooth.dataset.run import run_recipe
    from posebooth.dataset.smpl_fitter import FitSettings

    recipe = Recipe.model_validate({"samples": 2, "camera": {"size": [64, 64]}, "people": {"count": [1, 2]},
                                    "output": {"shard_size": 2, "passes": ["render"]}})
    assert run_recipe(recipe, tmp_path / "d", progress=False, renderer=hr)["complete"]
    summary = fit_dataset(tmp_path / "d", "smpl", model_dir=model_root, settings=FitSettings(**QUICK),
                          progress=False)
    with np.load(tmp_path / "d" / "shards" / "000000" / "annotations.npz") as z:
        rows = {k: z[k] for k in z.files}
    fit = _check_fit_file(tmp_path / "d", rows, model_root)
    assert summary["bodies"] == len(rows["sample"]) and summary["shards_fitted_now"] == 1
    print(f"synthetic SMPL on a recipe dataset: fit error {fit['fit_error_mm']} mm, "
          f"joint error {fit['joint_error_mm']} mm")


# -- hostile cases: one line each ----------------------------------------------------------------------------

def _fit(folder, *extra, model_dir=None, env=None):
    args = ["dataset", "fit-smpl", str(folder), "--model", "smpl", "--quiet", *extra]
    if model_dir is not None:
        args += ["--model-dir", str(model_dir)]
    return run_cli(*args, env=env)


@pytest.mark.hostile
def test_missing_model_dir(tmp_path):
    folder = _write_dataset(tmp_path / "d", _rows(2))
    assert_clear_error(_fit(folder, model_dir=tmp_path / "nowhere"), "--model-dir", "nowhere")


@pytest.mark.hostile
def test_model_dir_without_the_model_file(tmp_path):
    folder = _write_dataset(tmp_path / "d", _rows(2))
    (tmp_path / "models").mkdir()
    assert_clear_error(_fit(folder, model_dir=tmp_path / "models"), "smpl/SMPL_NEUTRAL.pkl", "smpl.is.tue.mpg.de")


@pytest.mark.hostile
def test_no_model_dir_at_all(tmp_path):
    folder = _write_dataset(tmp_path / "d", _rows(2))
    r = run_cli("dataset", "fit-smpl", str(folder), "--model", "smplx", "--quiet", env={"POSEBOOTH_SMPL_DIR": ""})
    assert_clear_error(r, "POSEBOOTH_SMPL_DIR", "smplx/SMPLX_NEUTRAL.npz")


@pytest.mark.hostile
def test_damaged_model_file(tmp_path):
    folder = _write_dataset(tmp_path / "d", _rows(2))
    (tmp_path / "models" / "smpl").mkdir(parents=True)
    (tmp_path / "models" / "smpl" / "SMPL_NEUTRAL.pkl").write_bytes(b"\x80\x04not a pickle")
    assert_clear_error(_fit(folder, model_dir=tmp_path / "models"), "SMPL_NEUTRAL.pkl")


@pytest.mark.hostile
def test_smplx_package_missing(tmp_path, model_root):
    fake = tmp_path / "site" / "smplx"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('smplx is broken here')\n")
    folder = _write_dataset(tmp_path / "d", _rows(2))
    r = _fit(folder, model_dir=model_root, env={"PYTHONPATH": str(tmp_path / "site")})
    assert_clear_error(r, "pip install -e '.[smpl]'")


@pytest.mark.hostile
def test_folder_missing(tmp_path, model_root):
    assert_clear_error(_fit(tmp_path / "no_dataset", model_dir=model_root), "no_dataset", "no such folder")


@pytest.mark.hostile
def test_not_a_dataset(tmp_path, model_root):
    (tmp_path / "empty").mkdir()
    assert_clear_error(_fit(tmp_path / "empty", model_dir=model_root), "dataset.json", "not a finished")


@pytest.mark.hostile
def test_manifest_is_a_fifo(tmp_path, model_root):
    (tmp_path / "d").mkdir()
    os.mkfifo(tmp_path / "d" / "dataset.json")
    assert_clear_error(_fit(tmp_path / "d", model_dir=model_root), "dataset.json")


@pytest.mark.hostile
def test_incomplete_dataset(tmp_path, model_root):
    folder = _write_dataset(tmp_path / "d", _rows(2), _manifest(complete=False))
    assert_clear_error(_fit(folder, model_dir=model_root), "not complete", "1 of 2", "posebooth dataset run")


@pytest.mark.hostile
def test_assembled_shard_missing(tmp_path, model_root):
    folder = _write_dataset(tmp_path / "d", _rows(2), _manifest(shards=(0, 1)))
    assert_clear_error(_fit(folder, model_dir=model_root), "000001/annotations.npz", "no such file")


@pytest.mark.hostile
def test_damaged_annotations(tmp_path, model_root):
    folder = _write_dataset(tmp_path / "d", _rows(2))
    path = folder / "shards" / "000000" / "annotations.npz"
    path.write_bytes(path.read_bytes()[:300])
    assert_clear_error(_fit(folder, model_dir=model_root), "annotations.npz", "damaged")


@pytest.mark.hostile
def test_annotations_without_joints(tmp_path, model_root):
    rows = _rows(2)
    del rows["joints3d_world"]
    assert_clear_error(_fit(_write_dataset(tmp_path / "d", rows), model_dir=model_root), "'joints3d_world'")


@pytest.mark.hostile
def test_annotations_with_nan(tmp_path, model_root):
    rows = _rows(3)
    rows["body_pose"][1, 5] = np.nan
    assert_clear_error(_fit(_write_dataset(tmp_path / "d", rows), model_dir=model_root), "'body_pose'", "row 1")


@pytest.mark.hostile
def test_annotations_of_the_wrong_shape(tmp_path, model_root):
    rows = _rows(2)
    rows["body_pose"] = rows["body_pose"][:, :63]
    assert_clear_error(_fit(_write_dataset(tmp_path / "d", rows), model_dir=model_root), "'body_pose'", "(R, 69)")


@pytest.mark.hostile
@pytest.mark.parametrize("option, value", [("--points", "0"), ("--batch", "-1"), ("--rounds", "100000")])
def test_bad_options(tmp_path, model_root, option, value):
    folder = _write_dataset(tmp_path / "d", _rows(2))
    assert_clear_error(_fit(folder, option, value, model_dir=model_root), option)


@pytest.mark.hostile
@pytest.mark.slow
def test_rows_that_anny_does_not_reproduce(tmp_path, model_root):
    rows = _rows(2)    # joints3d_world all zero: not where anny puts this pose
    assert_clear_error(_fit(_write_dataset(tmp_path / "d", rows), model_dir=model_root),
                       "annotations.npz", "row 0", "joints3d_world")
