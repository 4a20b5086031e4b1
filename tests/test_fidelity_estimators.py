"""The fidelity estimators' real loading and inference path (pipeline.estimators):
tiny random-weight ViTPose and Depth Anything models saved to folders the way a
user's download looks, loaded and run by transformers' own classes."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from pipeline_fixtures import _one_torch_thread  # noqa: F401  (pytest fixture)
from fixtures import tiny_estimators as te
from posebooth.pipeline.errors import ModelNotFoundError
from posebooth.pipeline.estimators import (DEFAULT_DEPTH_MODEL, DEFAULT_POSE_MODEL, DepthEstimator,
                                           PoseEstimator, load_estimators)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("estimators")
    return te.save_tiny_vitpose(root / "vitpose"), te.save_tiny_depth_anything(root / "depth-anything")


@pytest.fixture(scope="module")
def estimators(folders):
    return load_estimators(str(folders[0]), str(folders[1]), device="cpu")


def _image(h=64, w=80, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_vitpose_from_a_folder_gives_keypoints_in_each_box(estimators):
    boxes = np.array([[2.0, 4.0, 20.0, 40.0], [52.0, 10.0, 24.0, 44.0]])
    kp = estimators.pose(_image(), boxes)
    assert kp.shape == (2, 17, 2) and kp.dtype == np.float32 and np.isfinite(kp).all()
    # Top-down: each person's keypoints lie in its own box's crop (ViTPose's:
    # the box widened to the model's 48:64 aspect, padded by 1.25), give or
    # take one heatmap pixel (the crop / 12 or / 16).
    for k, (x, y, w, h) in enumerate(boxes):
        cw, ch = max(w, h * 48 / 64) * 1.25, max(h, w * 64 / 48) * 1.25
        assert np.all(np.abs(kp[k, :, 0] - (x + w / 2)) <= cw / 2 + cw / 12), kp[k]
        assert np.all(np.abs(kp[k, :, 1] - (y + h / 2)) <= ch / 2 + ch / 16), kp[k]
    assert np.array_equal(kp, estimators.pose(_image(), boxes))   # deterministic
    assert estimators.pose(_image(), np.zeros((0, 4))).shape == (0, 17, 2)


def test_depth_anything_from_a_folder_gives_a_map_at_image_size(estimators):
    a = estimators.depth(_image(64, 80))
    assert a.shape == (64, 80) and a.dtype == np.float32 and np.isfinite(a).all()
    assert a.std() > 0
    b = estimators.depth(_image(48, 32, seed=1))
    assert b.shape == (48, 32)
    assert estimators.settings() == {"pose_model": estimators.pose.source, "depth_model": estimators.depth.source}


@pytest.mark.hostile
def test_models_missing_offline_name_what_to_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as e:
        load_estimators(DEFAULT_POSE_MODEL, DEFAULT_DEPTH_MODEL)
    msg = str(e.value)
    assert "\n" not in msg and "HF_HUB_OFFLINE" in msg
    assert f"hf download {DEFAULT_POSE_MODEL}" in msg and f"hf download {DEFAULT_DEPTH_MODEL}" in msg


@pytest.mark.hostile
def test_a_folder_without_its_image_processor_names_the_file(folders, tmp_path):
    broken = tmp_path / "vitpose"
    shutil.copytree(folders[0], broken)
    (broken / "preprocessor_config.json").unlink()
    with pytest.raises(ModelNotFoundError, match=r"vitpose has no preprocessor_config.json"):
        PoseEstimator(str(broken), device="cpu")
    with pytest.raises(ModelNotFoundError, match=r"no such folder, and not a Hugging Face id"):
        DepthEstimator(str(tmp_path / "nowhere"), device="cpu")
    with pytest.raises(ModelNotFoundError, match=r"model.safetensors: not a folder"):
        DepthEstimator(str(folders[1] / "model.safetensors"), device="cpu")


@pytest.mark.hostile
def test_the_wrong_kind_of_model_is_refused(folders):
    with pytest.raises(ModelNotFoundError, match=r"model_type 'depth_anything', expected 'vitpose'"):
        PoseEstimator(str(folders[1]), device="cpu")


@pytest.mark.hostile
def test_a_damaged_config_is_one_line_naming_the_folder(folders, tmp_path):
    broken = tmp_path / "da"
    shutil.copytree(folders[1], broken)
    (broken / "config.json").write_text('{"model_type": "depth_anything", "backbone_config": 7}')
    with pytest.raises(ModelNotFoundError) as e:
        DepthEstimator(str(broken), device="cpu")
    assert str(broken) in str(e.value) and "\n" not in str(e.value)
