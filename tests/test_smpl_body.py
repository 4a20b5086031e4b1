"""SMPL-family bodies through smplx, run on synthetic model files (no licensed data).

The synthetic files have SMPL's layout (vertex count, joint tree, keys) but a
random mesh skinned to the generic REST_JOINTS skeleton; the real smplx code
loads and poses them. Without smplx installed only the error paths are tested.
"""
import builtins
import importlib.util

import numpy as np
import pytest

from posebooth.assets import registry, smpl_body
from posebooth.assets.body import BodyModel, BodyModelError
from posebooth.assets.smpl_body import SmplBody, expected_files
from posebooth.assets.smpl_skeleton import COCO17_FROM_SMPL
from fixtures.smpl_models import NUM_VERTS, write_synthetic_model  # noqa: F401 (test_smpl_pickle imports it)
from reference_chain import forward_kinematics
from posebooth.scene.model import BodySpec

HAS_SMPLX = importlib.util.find_spec("smplx") is not None
needs_smplx = pytest.mark.skipif(not HAS_SMPLX, reason='smplx not installed (pip install "posebooth[smpl]")')


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("smpl_models")
    for kind in ("smpl", "smplh", "smplx"):
        write_synthetic_model(root, kind)
    return root


@pytest.fixture(scope="module")
def bodies(model_root):
    if not HAS_SMPLX:
        pytest.skip("smplx not installed")
    return {k: SmplBody(k, "neutral", model_root) for k in ("smpl", "smplh", "smplx")}


def _random_pose(b, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.4, (b, 3)), rng.normal(0, 0.3, (b, 23, 3)), rng.normal([0, 1, 0], 0.5, (b, 3))


@needs_smplx
@pytest.mark.parametrize("kind", ["smpl", "smplh", "smplx"])
def test_joints_follow_the_smpl_chain_and_transl_is_the_pelvis(bodies, kind):
    body = bodies[kind]
    assert isinstance(body, BodyModel)
    go, bp, tr = _random_pose(3)
    if kind != "smpl":
        bp[:, 21:23] = 0.0    # SMPL-H/X have no SMPL hand joint rotation to apply
    out = body.forward(go, bp, tr)
    ref, _ = forward_kinematics(go, bp, tr)       # synthetic model = REST_JOINTS skeleton
    assert out.joints.shape == (3, 24, 3) and out.joints.dtype == np.float32
    np.testing.assert_allclose(out.joints, ref, atol=2e-5)
    assert out.vertices.shape == (3, NUM_VERTS[kind], 3)


@needs_smplx
@pytest.mark.parametrize("kind", ["smpl", "smplx"])
def test_pelvis_stays_at_transl_for_any_shape(bodies, kind):
    body = bodies[kind]
    go, bp, tr = _random_pose(2, seed=5)
    shape = np.random.default_rng(2).normal(0, 2.0, (2, len(body.shape_names)))
    out = body.forward(go, bp, tr, shape)
    np.testing.assert_allclose(out.joints[:, 0], tr, atol=2e-5)
    # a shape really changes the body (so the J0(betas) correction was needed)
    assert np.abs(out.vertices - body.forward(go, bp, tr).vertices).max() > 1e-3
    one = body.forward(go[:1], bp[:1], tr[:1], shape[0])
    np.testing.assert_allclose(one.joints[0], out.joints[0], atol=1e-5)


@needs_smplx
def test_coco_and_part_labels(bodies):
    from smplx.vertex_ids import vertex_ids
    body = bodies["smplx"]
    go, bp, tr = _random_pose(1, seed=7)
    out = body.forward(go, bp, tr)
    ids = vertex_ids["smplx"]
    np.testing.assert_array_equal(out.coco17[0, 0], out.vertices[0, ids["nose"]])
    np.testing.assert_array_equal(out.coco17[0, 3], out.vertices[0, ids["lear"]])
    for c, j in COCO17_FROM_SMPL.items():
        np.testing.assert_array_equal(out.coco17[0, c], out.joints[0, j])
    # labels: the synthetic weights are one-hot, so labels are the weight's joint mapped to SMPL's parts
    labels = body.part_labels
    assert labels.dtype == np.uint8 and labels.shape == (NUM_VERTS["smplx"],) and labels.max() <= 23
    w = body._model.lbs_weights.argmax(dim=1).numpy()
    assert set(labels[(w >= 25) & (w < 40)]) == {22}       # left fingers -> left_hand
    assert set(labels[(w >= 40)]) == {23}                  # right fingers -> right_hand
    assert set(labels[(w >= 22) & (w < 25)]) <= {15}       # jaw, eyes -> head
    np.testing.assert_array_equal(labels[w < 22], w[w < 22])
    assert bodies["smpl"].part_labels.max() <= 23 and bodies["smpl"].faces.dtype == np.int32


@needs_smplx
def test_model_dir_from_environment(model_root, monkeypatch):
    monkeypatch.setenv("POSEBOOTH_SMPL_DIR", str(model_root))
    body = SmplBody("smpl")
    assert body.path == model_root / "smpl" / "SMPL_NEUTRAL.npz"
    assert body.shape_names[:2] == ("beta0", "beta1") and body.default_shape.shape == (10,)


def test_missing_files_name_the_files_and_where_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv("POSEBOOTH_SMPL_DIR", raising=False)
    with pytest.raises(BodyModelError) as e:
        SmplBody("smplx", "female", tmp_path)
    msg = str(e.value)
    assert "smplx/SMPLX_FEMALE.npz" in msg and str(tmp_path) in msg
    assert "smpl-x.is.tue.mpg.de" in msg and "licence" in msg and "never downloads" in msg
    with pytest.raises(BodyModelError) as e:
        SmplBody("smpl")   # no folder at all
    for part in ("smpl/SMPL_NEUTRAL.pkl", "smpl/SMPL_NEUTRAL.npz", "POSEBOOTH_SMPL_DIR", "smpl.is.tue.mpg.de"):
        assert part in str(e.value)
    assert expected_files("smplh", "neutral") == ["smplh/SMPLH_NEUTRAL.npz", "smplh/SMPLH_NEUTRAL.pkl"]


def test_missing_smplx_package_says_how_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_smplx(name, *args, **kwargs):
        if name == "smplx" or name.startswith("smplx."):
            raise ImportError("No module named 'smplx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_smplx)
    with pytest.raises(BodyModelError, match=r'pip install "posebooth\[smpl\]".*smpl/SMPL_NEUTRAL.pkl'):
        SmplBody("smpl", "neutral", tmp_path)        # no files either: both problems in one message
    write_synthetic_model(tmp_path, "smpl")
    with pytest.raises(BodyModelError) as e:
        SmplBody("smpl", "neutral", tmp_path)        # files present: only the package is missing
    assert 'pip install "posebooth[smpl]"' in str(e.value) and "SMPL_NEUTRAL.pkl" not in str(e.value)


@needs_smplx
def test_wrong_or_damaged_files_are_reported(tmp_path, model_root):
    folder = tmp_path / "smpl"
    folder.mkdir()
    (folder / "SMPL_NEUTRAL.npz").write_bytes(b"not a model")
    with pytest.raises(BodyModelError, match="SMPL_NEUTRAL.npz: not a usable SMPL model file"):
        SmplBody("smpl", "neutral", tmp_path)
    # an SMPL-H file where SMPL belongs loads, but has 52 joints, not 24
    (folder / "SMPL_NEUTRAL.npz").write_bytes((model_root / "smplh" / "SMPLH_NEUTRAL.npz").read_bytes())
    with pytest.raises(BodyModelError, match="has 52 joints; a SMPL model has 24"):
        SmplBody("smpl", "neutral", tmp_path)


def test_bad_kind_and_gender():
    with pytest.raises(BodyModelError, match="unknown SMPL-family body"):
        SmplBody("mano")
    with pytest.raises(BodyModelError, match="unknown gender"):
        SmplBody("smpl", "other")


@needs_smplx
def test_registry_caches_and_reports(model_root, monkeypatch):
    monkeypatch.setenv("POSEBOOTH_SMPL_DIR", str(model_root))
    registry.clear_cache()
    a = registry.get_body(BodySpec(model="smpl"))
    assert registry.get_body(BodySpec(model="smpl", shape={"beta0": 1.0})) is a
    assert registry.get_body(BodySpec(model="smplx")).name == "smplx"
    with pytest.raises(BodyModelError, match="SMPL_FEMALE"):
        registry.get_body(BodySpec(model="smpl", gender="female"))
    info = {d["name"]: d for d in registry.available_bodies()}
    assert set(info) >= {"anny", "smpl", "smplh", "smplx"}
    assert info["smpl"]["available"] and "neutral" in info["smpl"]["detail"]
    registry.clear_cache()


def test_available_bodies_without_files(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBOOTH_SMPL_DIR", str(tmp_path))
    info = {d["name"]: d for d in registry.available_bodies()}
    for kind in ("smpl", "smplh", "smplx"):
        assert info[kind]["available"] is False
        assert (f"{kind}/" in info[kind]["detail"]) or "pip install" in info[kind]["detail"]
    assert isinstance(info["anny"]["available"], bool) and info["anny"]["detail"]
    monkeypatch.setattr(smpl_body, "smplx_installed", lambda: False)
    info = {d["name"]: d for d in registry.available_bodies()}
    assert 'pip install "posebooth[smpl]"' in info["smpl"]["detail"] and not info["smpl"]["available"]
