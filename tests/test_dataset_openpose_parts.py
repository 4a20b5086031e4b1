"""A recipe's openpose control shows the body, the body and hands, or the
body, hands and face (generation.openpose), as the app's does: the face is
controlnet_aux's white dots, drawn around the face keypoints the test
projects itself from the record's 3D points and camera."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from posebooth.dataset.recipe import Recipe
from posebooth.dataset.run import run_recipe

pytestmark = [pytest.mark.gl]

SIZE = 128


def _run(tmp_path, parts: str):
    recipe = Recipe.model_validate({
        "samples": 3, "seed": 5, "camera": {"size": [SIZE, SIZE], "azimuth_deg": [-30, 30]},
        "people": {"count": [1, 1]}, "output": {"passes": ["control"], "shard_size": 10},
        "generation": {"controls": ["openpose"], "openpose": parts}})
    out = tmp_path / parts.replace("+", "_")
    run_recipe(recipe, out, progress=False)
    images = [np.asarray(Image.open(out / "shards" / "000000" / "control" / f"{i:08d}_000_openpose.png"))
              for i in range(3)]
    return images, np.load(out / "shards" / "000000" / "annotations.npz")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openpose_parts")
    return {parts: _run(tmp, parts) for parts in ("body", "body+hands", "full")}


def _white(img):
    return np.all(img == 255, axis=-1)


def test_only_full_draws_the_face_and_it_is_at_the_face(runs):
    body, hands, (full, rows) = runs["body"][0], runs["body+hands"][0], runs["full"]
    assert not any(_white(i).any() for i in body + hands)
    assert all(_white(i).any() for i in full)
    for img, K, face in zip(full, rows["cam_K"], rows["wholebody133_cam"][:, 23:91]):   # camera-frame points
        uv = (face @ K.T)[:, :2] / face[:, 2:3]         # pinhole, written here
        ys, xs = np.nonzero(_white(img))
        centre = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
        assert np.linalg.norm(centre - uv.mean(0)) < 3.0


def test_hands_add_to_the_body_image_and_leave_the_body_as_it_was(runs):
    for body, hands in zip(runs["body"][0], runs["body+hands"][0]):
        drawn_body, drawn_hands = body.any(-1), hands.any(-1)
        assert drawn_hands.sum() > drawn_body.sum()
        # hands are drawn over the bodies: where no hand lands, the pixels are the body's
        same = np.all(body == hands, axis=-1)
        assert same.mean() > 0.95
