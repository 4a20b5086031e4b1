"""COCO RLE of the instance masks (export.coco.mask_rle_counts) against
pycocotools' own encoder of each mask."""
from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from posebooth.export.coco import mask_rle_counts


def _reference(instance, k) -> str:
    m = np.asfortranarray((instance == k).astype(np.uint8))
    return mask_utils.encode(m)["counts"].decode("ascii")


@pytest.mark.parametrize("shape", [(48, 64), (7, 5), (1, 1), (3, 1), (1, 4)])
def test_rle_counts_equal_pycocotools(shape):
    rng = np.random.default_rng(sum(shape))
    H, W = shape
    img = np.zeros(shape, np.uint8)
    for k in range(1, 5):
        y, x = rng.integers(0, H), rng.integers(0, W)
        img[y:y + rng.integers(1, H + 1), x:x + rng.integers(1, W + 1)] = k
    img[rng.random(shape) < 0.05] = 3
    img[0, 0] = 1                      # an id on the very first pixel (counts start with 0)
    ids = [1, 2, 3, 4, 9]              # 9: absent
    assert mask_rle_counts(img, ids) == [_reference(img, k) for k in ids]


def test_rle_counts_of_uniform_images():
    for img in (np.full((4, 6), 2, np.uint8), np.zeros((4, 6), np.uint8)):
        assert mask_rle_counts(img, [2, 0, 5]) == [_reference(img, k) for k in (2, 0, 5)]
    counts = mask_rle_counts(np.full((4, 6), 2, np.uint8), [2])[0]
    assert mask_utils.area({"counts": counts.encode("ascii"), "size": [4, 6]}) == 24
