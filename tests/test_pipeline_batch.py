"""Batched generation (the dataset engine's GPU batches): each request of a
batch keeps its own seed, prompt and control images."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline_fixtures import backends, kinds_for, make_request  # noqa: F401 (fixtures)
from posebooth.pipeline.errors import GenerationError


def _requests(kind):
    kinds = kinds_for(kind)
    reqs = [make_request(kinds, seed=s, prompt=p) for s, p in ((3, "a dancer"), (11, "a runner"), (7, "a dancer"))]
    # A different control image per request (make_request varies them by control index only).
    return [dataclasses.replace(r, controls=tuple(dataclasses.replace(c, image=np.roll(c.image, 5 * i, axis=1))
                                                  for c in r.controls)) for i, r in enumerate(reqs)]


@pytest.mark.parametrize("kind", ["sd15", "sd15-multi", "sd2"])
def test_each_image_of_a_batch_is_its_own_requests(backends, kind):  # noqa: F811
    backend = backends(kind)
    reqs = _requests(kind)
    alone = [backend.generate(r).image.astype(int) for r in reqs]
    batch = backend.generate_batch(reqs)
    assert [b.seed for b in batch] == [3, 11, 7] and all(b.settings["batch"] == 3 for b in batch)
    for i, b in enumerate(batch):
        # The same image up to float reordering in batched kernels, and far from the others'.
        diff = np.abs(b.image.astype(int) - alone[i])
        others = min(np.abs(b.image.astype(int) - alone[j]).mean() for j in range(3) if j != i)
        assert diff.mean() < 2 and diff.max() <= 8 and others > 10, (i, diff.mean(), diff.max(), others)
    again = backend.generate_batch(reqs)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(batch, again))


def test_a_batch_must_share_its_settings(backends):  # noqa: F811
    backend = backends("sd15")
    a, b = make_request(seed=1), make_request(seed=2, steps=3)
    with pytest.raises(GenerationError, match="num_inference_steps"):
        backend.generate_batch([a, b])
