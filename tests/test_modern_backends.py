"""SDXL ControlNet Union, FLUX.1 ControlNet and SD3.5 ControlNet through PoseBooth's own
path: tiny random-weight base + ControlNet folders (the layout of a user's two
downloads), a presets file naming them, the generation worker loading and running
the REAL diffusers pipelines at 64x64, 2 steps."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch

from pipeline_fixtures import control_image
from posebooth.frame.request import Control, GenerationRequest
from posebooth.pipeline import hub
from posebooth.pipeline.loading import LoadOptions, load_backend
from posebooth.pipeline.worker import GenerationWorker

from fixtures.tiny_modern import save_tiny_modern

S = 64
# The model cards' control-mode tables (written here, not taken from the code under test):
# xinsir/controlnet-union-sdxl-1.0: openpose 0, depth 1, ..., normal 4;
# Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro: canny 0, tile 1, depth 2, blur 3, pose 4.
CARD_MODES = {"sdxl-union": {"openpose": 0, "depth": 1, "normal": 4}, "flux-controlnet": {"depth": 2, "openpose": 4}}
KINDS = {"sdxl-union": ("depth", "openpose"), "flux-controlnet": ("depth", "openpose"), "sd3-controlnet": ("depth",)}


@pytest.fixture(scope="module")
def presets_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("modern")
    presets = {}
    for kind, kinds in KINDS.items():
        base, net = save_tiny_modern(kind, root / kind)
        presets[f"tiny-{kind}"] = {"pipeline": kind, "base": str(base), "controlnets": {k: str(net) for k in kinds},
                                   "steps": 2, "guidance": 3.0, "size": [S, S]}
    path = root / "presets.json"
    path.write_text(json.dumps({"format": "posebooth-model-presets", "version": 1, "presets": presets}))
    return str(path)


@pytest.fixture(scope="module")
def backends(presets_file):
    """kind -> Backend, loaded by the worker (its own thread, its own callbacks)."""
    torch.set_num_threads(1)
    errors, out = [], {}
    worker = GenerationWorker(on_error=lambda rid, msg: errors.append(msg))
    for kind in KINDS:
        worker.load(f"tiny-{kind}", LoadOptions(device="cpu", presets_file=presets_file, preview_decoder="none"))
        assert worker.wait_idle(120) and not errors, errors
        out[kind] = worker.backend
    yield out
    worker.shutdown()


def request(kinds=("depth",), seed=0, images=None, **kw):
    images = images or {k: control_image(k, seed=i, w=S, h=S) for i, k in enumerate(kinds)}
    return GenerationRequest(prompt="a person", controls=tuple(Control(k, images[k]) for k in kinds), seed=seed,
                             steps=2, guidance=3.0, width=S, height=S, **kw)


def run(worker_backend, req):
    results, errors = [], []
    worker = GenerationWorker(on_result=results.append, on_error=lambda rid, m: errors.append(m),
                              backend=worker_backend)
    worker.submit(req)
    worker.wait_idle(120)
    worker.shutdown()
    assert not errors, errors
    return results[0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_same_seed_same_image_and_the_control_matters(backends, kind):
    b = backends[kind]
    assert b.pipeline_kind == kind
    a1, a2 = run(b, request(seed=3)), run(b, request(seed=3))
    assert a1.image.shape == (S, S, 3)
    assert np.array_equal(a1.image, a2.image)
    assert not np.array_equal(a1.image, run(b, request(seed=4)).image)
    flat = {"depth": np.zeros((S, S, 3), np.uint8)}
    assert not np.array_equal(a1.image, run(b, request(seed=3, images=flat)).image)
    assert a1.settings["pipeline"] == kind and a1.settings["controls_applied"] == ["depth"]


@pytest.mark.parametrize("kind", ["sdxl-union", "flux-controlnet"])
def test_union_models_get_the_model_cards_control_modes(backends, kind):
    """One union model gets every image with its mode index (a forward hook reads what it was given)."""
    b = backends[kind]
    seen = []
    net = b.pipe.controlnet

    def hook(module, args, kwargs):
        if kind == "sdxl-union":  # control_type: a one-hot (num_control_type,) per batch row
            seen.append(sorted(int(i) for i in torch.nonzero(kwargs["control_type"][0]).flatten()))
        else:
            seen.append([int(m.flatten()[0]) for m in kwargs["controlnet_mode"]])

    handle = net.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        b.generate(request(("depth", "openpose")))
    finally:
        handle.remove()
    want = sorted(CARD_MODES[kind][k] for k in ("depth", "openpose"))
    assert seen and all(sorted(s) == want for s in seen)


def test_bf16_on_cpu_and_memory_options(presets_file):
    """bf16 weights run on the CPU; vae tiling is on; model offload is refused off CUDA with a warning."""
    b = load_backend("tiny-flux-controlnet", LoadOptions(device="cpu", dtype="bf16", vae_tiling=True,
                                                        cpu_offload=True, presets_file=presets_file))
    assert b.pipe.transformer.dtype == torch.bfloat16 and b.dtype == torch.bfloat16
    assert b.pipe.vae.use_tiling
    assert any("CUDA" in w for w in b.warnings)
    image = b.generate(request(seed=1)).image
    assert image.shape == (S, S, 3) and image.std() > 0


def test_previous_frame_clip_on_union(backends):
    """img2img (previous-frame clips) goes through the union img2img pipeline."""
    from posebooth.pipeline.clips import ClipOptions, generate_clip

    b = backends["sdxl-union"]
    frames = [request(seed=5), request(seed=5)]
    out = generate_clip(b, frames, ClipOptions("previous-frame", strength=0.5))
    assert not out[0].settings["img2img"] and out[1].settings["img2img"]
    assert not np.array_equal(out[1].image, out[0].image)  # same seed and controls: the init image changed it


@pytest.mark.hostile
def test_missing_model_is_the_offline_error(tmp_path, monkeypatch):
    """The shipped FLUX preset with nothing cached: one line naming both repos (the union model
    once), before any weight is read."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("POSEBOOTH_CONFIG_DIR", str(tmp_path / "config"))
    with pytest.raises(hub.MissingDownload) as info:
        load_backend("flux-union", LoadOptions(device="cpu"),
                     before_weights=lambda: pytest.fail("weights read before the checks"))
    msg = str(info.value)
    assert "\n" not in msg
    assert "black-forest-labs/FLUX.1-dev" in msg
    assert msg.count("hf download Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro") == 1


def test_real_size_configs_have_the_published_sizes():
    """The benchmark's real-size FLUX / SD3.5 builds (meta device: no memory) have the
    published parameter counts: FLUX.1-dev 11.9 B, T5-XXL encoder 4.76 B, SD3.5 Large 8.1 B."""
    from fixtures.real_size import real_size_modern_pipeline

    def billions(m):
        return sum(p.numel() for p in m.parameters()) / 1e9

    flux = real_size_modern_pipeline("flux-controlnet", "meta")
    assert abs(billions(flux.transformer) - 11.9) < 0.05 and abs(billions(flux.text_encoder_2) - 4.76) < 0.02
    sd3 = real_size_modern_pipeline("sd3-controlnet", "meta")
    assert abs(billions(sd3.transformer) - 8.06) < 0.05


def test_a_clip_strategy_the_model_cannot_run_says_so(backends):
    """Cross-frame attention patches UNet self-attention: FLUX has none, and says so."""
    from posebooth.pipeline.clips import ClipOptions, generate_clip
    from posebooth.pipeline.errors import GenerationError

    with pytest.raises(GenerationError, match="needs a UNet"):
        generate_clip(backends["flux-controlnet"], [request(), request()], ClipOptions("cross-frame-attention"))


@pytest.mark.hostile
def test_a_kind_the_union_model_has_no_mode_for_is_one_line(presets_file, tmp_path):
    from posebooth.pipeline.errors import GenerationError

    data = json.loads(open(presets_file).read())
    preset = data["presets"]["tiny-flux-controlnet"]
    preset["controlnets"]["normal"] = preset["controlnets"]["depth"]  # FLUX Union Pro has no normal mode
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(GenerationError) as info:
        load_backend("tiny-flux-controlnet", LoadOptions(device="cpu", presets_file=str(path)))
    assert "no control mode for normal" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.hostile
@pytest.mark.parametrize("kind", ["flux-controlnet", "sd3-controlnet"])
def test_a_noise_prediction_scheduler_on_a_flow_model_is_one_line(backends, kind):
    """dpm++2m on FLUX / SD3.5 would run into the pipeline's set_timesteps(mu=...) or
    give noise: the request is refused, naming the model's own kind, and the model still works."""
    b = backends[kind]
    errors = []
    worker = GenerationWorker(on_error=lambda rid, m: errors.append(m), backend=b)
    worker.submit(request(scheduler="dpm++2m"))
    worker.wait_idle(120)
    worker.shutdown()
    assert len(errors) == 1 and "\n" not in errors[0]
    assert "'dpm++2m' does not fit this model: it is a flow-matching model" in errors[0], errors[0]
    assert type(b.pipe.scheduler).__name__ == "FlowMatchEulerDiscreteScheduler"
    assert run(b, request(seed=3)).image.shape == (S, S, 3)
