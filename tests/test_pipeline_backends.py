"""Every backend through the real diffusers pipeline, on tiny random-weight models."""

import numpy as np
import pytest
import torch

from pipeline_fixtures import _one_torch_thread, backends  # noqa: F401  (pytest fixtures)
from pipeline_fixtures import KINDS, H, Spy, W, control_image, kinds_for, make_backend, make_request, to_uint8_hwc
from posebooth.pipeline.errors import GenerationError
from posebooth.pipeline.previews import LinearPreview, TaesdPreview
from posebooth.frame.request import Control, GenerationRequest
from fixtures import tiny_models as tm


@pytest.mark.parametrize("kind", KINDS)
def test_size_and_determinism(backends, kind):
    b = backends(kind)
    req = make_request(kinds_for(kind), seed=3)
    r1, r2 = b.generate(req), b.generate(make_request(kinds_for(kind), seed=3))
    r3 = b.generate(make_request(kinds_for(kind), seed=4))
    assert r1.image.shape == (H, W, 3) and r1.image.dtype == np.uint8
    np.testing.assert_array_equal(r1.image, r2.image)
    assert np.abs(r1.image.astype(int) - r3.image).max() > 0
    assert r1.seed == 3 and r1.settings["seed"] == 3 and r1.settings["width"] == W
    assert r1.settings["controls_applied"] == list(kinds_for(kind))
    assert r1.timings["total"] > 0


@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_controlnet_sees_the_request_images(backends, kind):
    b = backends(kind)
    req = make_request(seed=1)
    spy = Spy(b.pipe.controlnet)
    try:
        b.generate(req)
    finally:
        spy.restore()
    assert len(spy.calls) == req.steps
    cond = spy.calls[0]["controlnet_cond"]
    assert cond.shape == (2, 3, H, W)  # classifier-free guidance batch
    for row in cond:
        np.testing.assert_array_equal(to_uint8_hwc(row), req.controls[0].image)


def test_multi_controlnet_images_scales_and_subsets(backends):
    b = backends("sd15-multi")
    req = make_request(("depth", "openpose", "normal"), steps=4)
    req = GenerationRequest(
        req.prompt,
        (
            Control("depth", req.controls[0].image, scale=0.9),
            Control("openpose", req.controls[1].image, scale=0.4, start=0.5),
            Control("normal", req.controls[2].image, end=0.5),
        ),
        width=W,
        height=H,
        steps=4,
    )
    spies = {k: Spy(b.nets[k], keep=("controlnet_cond", "conditioning_scale")) for k in b.nets}
    try:
        b.generate(req)
    finally:
        for s in spies.values():
            s.restore()
    for c in req.controls:
        calls = spies[c.kind].calls
        assert len(calls) == 4
        np.testing.assert_array_equal(to_uint8_hwc(calls[0]["controlnet_cond"][1]), c.image)
    scales = {k: [round(float(call["conditioning_scale"]), 3) for call in s.calls] for k, s in spies.items()}
    assert scales["depth"] == [0.9] * 4
    assert scales["openpose"] == [0.0, 0.0, 0.4, 0.4]  # starts at half the steps
    assert scales["normal"] == [1.0, 1.0, 0.0, 0.0]  # ends at half the steps

    # A request with only the depth image runs only the depth net.
    spies = {k: Spy(b.nets[k]) for k in b.nets}
    try:
        r = b.generate(make_request(("depth",)))
    finally:
        for s in spies.values():
            s.restore()
    assert [len(s.calls) for s in spies.values()] == [2, 0, 0]
    assert r.settings["controls_applied"] == ["depth"]


def test_controlnet_img2img_uses_init_image_and_strength(backends):
    b = backends("sd15")
    base = make_request(steps=4)
    init = control_image("normal", seed=5)
    req = GenerationRequest(base.prompt, base.controls, width=W, height=H, steps=4, init_image=init, strength=0.5)
    spy = Spy(b.pipe.controlnet)  # img2img shares the module (from_pipe)
    try:
        r = b.generate(req)
    finally:
        spy.restore()
    assert b.img2img.controlnet is b.pipe.controlnet and b.img2img.unet is b.pipe.unet
    assert len(spy.calls) == 2  # strength 0.5 of 4 steps
    np.testing.assert_array_equal(to_uint8_hwc(spy.calls[0]["controlnet_cond"][0]), base.controls[0].image)
    assert r.settings["img2img"] and r.settings["strength"] == 0.5
    # The init image matters.
    other = GenerationRequest(
        base.prompt, base.controls, width=W, height=H, steps=4, init_image=255 - init, strength=0.5
    )
    assert np.abs(b.generate(other).image.astype(int) - r.image).max() > 0


def test_sd2_depth_map_is_the_rendered_depth(backends):
    b = backends("sd2")
    req = make_request(seed=2)
    seen = {}
    orig = b.pipe.prepare_depth_map

    def spy(image, depth_map, *args, **kwargs):
        seen["image"], seen["depth_map"] = image, depth_map.clone()
        out = orig(image, depth_map, *args, **kwargs)
        seen["normalised"] = out.clone()
        return out

    b.pipe.prepare_depth_map = spy
    try:
        b.generate(req)
    finally:
        del b.pipe.prepare_depth_map
    expected = req.controls[0].image[..., 0].astype(np.float32) / 255.0
    np.testing.assert_array_equal(seen["depth_map"].numpy(), expected[None])
    norm = seen["normalised"]
    assert norm.shape == (2, 1, H // b.pipe.vae_scale_factor, W // b.pipe.vae_scale_factor)
    assert float(norm.min()) == pytest.approx(-1.0) and float(norm.max()) == pytest.approx(1.0)
    # no init image: a neutral gray one at the request size, strength 1.0
    assert seen["image"].size == (W, H) and seen["image"].getpixel((0, 0)) == (128, 128, 128)


def test_sd2_rejects_flat_depth_and_missing_depth(backends):
    b = backends("sd2")
    flat = GenerationRequest("p", (Control("depth", np.full((H, W, 3), 90, np.uint8)),), width=W, height=H, steps=2)
    with pytest.raises(GenerationError, match="flat"):
        b.generate(flat)
    with pytest.raises(GenerationError, match="needs a depth"):
        b.generate(GenerationRequest("p", width=W, height=H, steps=2))


def test_controlnet_requires_a_matching_control(backends):
    with pytest.raises(GenerationError, match="needs a depth"):
        backends("sd15").generate(make_request(("openpose",)))


def test_step_callbacks_and_previews():
    b = make_backend("sd15", previewer=LinearPreview(), preview_every=2)
    seen = []
    b.generate(make_request(steps=5), on_step=lambda s, n, p: seen.append((s, n, None if p is None else p.shape)))
    lat = (H // b.pipe.vae_scale_factor, W // b.pipe.vae_scale_factor, 3)
    assert seen == [(1, 5, None), (2, 5, lat), (3, 5, None), (4, 5, lat), (5, 5, None)]
    b.previewer = TaesdPreview(tm.tiny_taesd())
    previews = []
    b.generate(make_request(steps=3), on_step=lambda s, n, p: previews.append(p))
    assert previews[1].shape == (H, W, 3) and previews[1].dtype == np.uint8  # tiny TAESD has the tiny VAE's stride


def test_scheduler_per_request():
    b = make_backend("sd15")
    r = b.generate(make_request(steps=3, scheduler="euler"))
    assert r.settings["scheduler"] == "euler" and type(b.pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    with pytest.raises(ValueError, match="unknown scheduler"):
        b.generate(make_request(scheduler="nope"))


def test_out_of_memory_becomes_advice():
    b = make_backend("sd15")

    def boom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    b.pipe.unet.forward = boom
    with pytest.raises(GenerationError, match="smaller size.*attention slicing"):
        b.generate(make_request())
