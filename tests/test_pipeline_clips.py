"""Clip strategies: N frames, recorded seeds and settings, and the mechanism of each strategy."""

import numpy as np
import pytest

from pipeline_fixtures import _one_torch_thread  # noqa: F401  (pytest fixture)
from pipeline_fixtures import Spy, control_image, make_backend, make_request, to_uint8_hwc
from posebooth.pipeline.clips import ClipOptions, generate_clip
from posebooth.pipeline.cross_frame import CrossFrameAttnProcessor
from posebooth.frame.request import Control, GenerationRequest


def frames(n=3, steps=3, seeds=None):
    """A 'moving' depth blob: a different control image per frame."""
    return [
        GenerationRequest(
            "a dancer",
            (Control("depth", control_image(seed=k)),),
            width=24,
            height=32,
            steps=steps,
            seed=(seeds or [100 + k for k in range(n)])[k],
        )
        for k in range(n)
    ]


@pytest.fixture(scope="module")
def sd15():
    return make_backend("sd15")


def test_fixed_seed_shares_the_initial_latents(sd15):
    seen = []
    orig = sd15.pipe.prepare_latents
    sd15.pipe.prepare_latents = lambda *a, **k: seen.append(orig(*a, **k)) or seen[-1]
    try:
        results = generate_clip(sd15, frames(3), ClipOptions("fixed-seed"))
    finally:
        del sd15.pipe.prepare_latents
    assert len(results) == 3 and [r.seed for r in results] == [100] * 3
    assert all(np.array_equal(seen[0], s) for s in seen[1:])
    assert [r.settings["frame_index"] for r in results] == [0, 1, 2]
    assert {r.settings["clip_strategy"] for r in results} == {"fixed-seed"}
    assert len({r.settings["clip_id"] for r in results}) == 1
    assert np.abs(results[0].image.astype(int) - results[1].image).max() > 0  # the control differs


def test_explicit_clip_seed_is_recorded(sd15):
    results = generate_clip(sd15, frames(2, steps=2), ClipOptions("fixed-seed", seed=42))
    assert [r.seed for r in results] == [42, 42] and results[0].settings["clip_seed"] == 42


def test_previous_frame_starts_from_the_last_result(sd15):
    seen = []
    spy = Spy(sd15.pipe.controlnet)
    orig = sd15.img2img.prepare_latents

    def prepare(image, *a, **k):
        seen.append(image.clone())
        return orig(image, *a, **k)

    sd15.img2img.prepare_latents = prepare
    try:
        results = generate_clip(sd15, frames(3, steps=4), ClipOptions("previous-frame", strength=0.5))
    finally:
        del sd15.img2img.prepare_latents
        spy.restore()
    assert len(results) == 3 and len(seen) == 2
    for prev, image in zip(results, seen):  # the init image is the previous frame, in [-1, 1]
        np.testing.assert_array_equal(to_uint8_hwc((image[0] + 1) / 2), prev.image)
    assert len(spy.calls) == 4 + 2 + 2  # frame 0 full, then strength 0.5 of 4 steps
    assert [r.settings["img2img"] for r in results] == [False, True, True]
    assert results[2].settings["clip_strength"] == 0.5 and results[2].settings["strength"] == 0.5


def test_previous_frame_on_sd2_depth():
    b = make_backend("sd2")
    results = generate_clip(b, frames(2, steps=4), ClipOptions("previous-frame", strength=0.5))
    assert [r.settings["img2img"] for r in results] == [False, True] and results[1].image.shape == (32, 24, 3)


def test_cross_frame_attention(sd15):
    before = dict(sd15.pipe.unet.attn_processors)
    same = frames(3, seeds=[7, 7, 7])
    same = [same[0]] + [
        GenerationRequest(f.prompt, same[0].controls, width=24, height=32, steps=3, seed=7) for f in same[1:]
    ]
    # identical inputs: attending to frame 0's keys/values is attending to one's own -> identical frames
    out = generate_clip(sd15, same, ClipOptions("cross-frame-attention"))
    assert all(np.array_equal(out[0].image, r.image) for r in out[1:])

    moving = frames(3, seeds=[7, 8, 9])
    fixed = generate_clip(sd15, moving, ClipOptions("fixed-seed"))
    cross = generate_clip(sd15, moving, ClipOptions("cross-frame-attention"))
    assert [r.seed for r in cross] == [7, 7, 7] and cross[1].settings["clip_strategy"] == "cross-frame-attention"
    np.testing.assert_array_equal(cross[0].image, fixed[0].image)  # frame 0 is generated normally
    assert np.abs(cross[1].image.astype(int) - fixed[1].image).max() > 0  # later frames see frame 0
    after = sd15.pipe.unet.attn_processors
    assert not any(isinstance(p, CrossFrameAttnProcessor) for p in after.values())
    assert {k: type(v) for k, v in after.items()} == {k: type(v) for k, v in before.items()}


def test_unknown_strategy():
    with pytest.raises(ValueError, match="clip strategy"):
        ClipOptions("optical-flow")
