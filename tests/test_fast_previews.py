"""Fast preview settings, headless: TAESD decoding of preview images through the real
pipeline, the few-step presets (validated, loaded from local folders, the clear
offline error), live pacing (latest wins, stale results never shown), img2img step
counts and the worker's live submit (a running live preview is not interrupted)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline_fixtures import _one_torch_thread, make_request  # noqa: F401  (autouse fixture)
from fixtures import tiny_models as tm
from posebooth.pipeline.live import LIVE_MAX_STEPS, LivePacer, img2img_steps
from posebooth.pipeline.loading import LoadOptions, backend_for_pipeline, load_backend
from posebooth.pipeline.presets import parse_presets, shipped_presets_text
from posebooth.pipeline.previews import TaesdPreview

CPU = dict(device="cpu", dtype="fp32")


@pytest.fixture(scope="module")
def taesd_folder(tmp_path_factory):
    return tm.save_tiny_taesd(tmp_path_factory.mktemp("taesd") / "taesd")


@pytest.fixture(scope="module")
def taesd_backend(taesd_folder):
    return backend_for_pipeline(tm.tiny_controlnet_pipeline(), "sd15-controlnet", None,
                                LoadOptions(preview_decoder=str(taesd_folder), **CPU))


class DecodeCount:
    """Counts calls of a module's decode (an instance attribute shadows the method)."""

    def __init__(self, module):
        self.n, self.module, orig = 0, module, module.decode

        def decode(*a, **k):
            self.n += 1
            return orig(*a, **k)
        module.decode = decode

    def restore(self):
        del self.module.decode


def test_preview_requests_decode_with_taesd_as_diffusers_does(taesd_backend, taesd_folder):
    """The reference is diffusers' own TAESD route: the pipeline with an AutoencoderTiny as its VAE."""
    from diffusers import AutoencoderTiny

    backend = taesd_backend
    assert isinstance(backend.fast_decoder, TaesdPreview)
    req = make_request(steps=2, seed=3, preview=True)
    vae = DecodeCount(backend.pipe.vae)
    try:
        fast = backend.generate(req)
        assert vae.n == 0, "the full VAE decoded a preview request"
        full = backend.generate(make_request(steps=2, seed=3, preview=False))
        assert vae.n == 1
    finally:
        vae.restore()
    assert fast.settings["decoder"] == "taesd" and "decoder" not in full.settings
    ref_pipe = tm.tiny_controlnet_pipeline()
    ref_pipe.vae = AutoencoderTiny.from_pretrained(taesd_folder)
    ref = ref_pipe(req.prompt, image=Image.fromarray(req.controls[0].image), height=req.height, width=req.width,
                   num_inference_steps=2, guidance_scale=req.guidance,
                   generator=torch.Generator("cpu").manual_seed(3), output_type="np").images[0]
    ref = (np.clip(ref, 0, 1) * 255).round()
    assert fast.image.shape == (req.height, req.width, 3)
    assert np.abs(fast.image.astype(float) - ref).max() <= 1
    assert np.abs(full.image.astype(float) - ref).mean() > 5   # the full VAE gives another image


def test_taesd_previews_can_be_switched_off(taesd_folder):
    backend = backend_for_pipeline(tm.tiny_controlnet_pipeline(), "sd15-controlnet", None,
                                   LoadOptions(preview_decoder=str(taesd_folder), taesd_previews=False, **CPU))
    assert isinstance(backend.previewer, TaesdPreview) and backend.fast_decoder is None


def test_compile_is_used_on_cuda_only():
    pipe = tm.tiny_controlnet_pipeline()
    backend = backend_for_pipeline(pipe, "sd15-controlnet", None, LoadOptions(compile=True, **CPU))
    assert "torch.compile is used on CUDA only: ignored" in backend.warnings
    assert type(pipe.unet).__name__ == "UNet2DConditionModel"   # not an OptimizedModule


# ---- presets ---------------------------------------------------------------------------------
def _fast_presets():
    presets, _ = parse_presets(shipped_presets_text(), "shipped")
    return {n: p for n, p in presets.items() if p.steps <= LIVE_MAX_STEPS}


def test_fast_presets_name_licence_scheduler_and_guidance():
    from posebooth.pipeline.schedulers import make_scheduler, scheduler_label

    fast = _fast_presets()
    assert {"sd15-depth-lcm", "sd15-depth-hyper", "sdxl-turbo-depth", "sdxl-lightning-depth"} <= set(fast)
    ddim = tm.tiny_scheduler().config
    for name, p in fast.items():
        assert p.license and p.preview_decoder and p.steps <= 4, name
        assert p.guidance <= 2.0, name   # distilled models run without (or with little) guidance
        assert scheduler_label(make_scheduler(p.scheduler, ddim)) == p.scheduler, name
    # The few-step models are sampled at the trailing timesteps they were distilled on
    # (DDIM with 1000 training steps: 2 trailing steps are 999 and 499).
    sched = make_scheduler(fast["sd15-depth-hyper"].scheduler, ddim)
    sched.set_timesteps(2)
    assert sched.timesteps.tolist() == [999, 499]
    assert fast["sdxl-lightning-depth"].lora_weight_name == "sdxl_lightning_2step_lora.safetensors"


@pytest.fixture(scope="module")
def presets_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("presets") / "model_presets.json"
    path.write_text(shipped_presets_text())
    return path


@pytest.mark.hostile
@pytest.mark.parametrize("name", ["sd15-depth-hyper", "sdxl-turbo-depth", "sdxl-lightning-depth"])
def test_missing_fast_preset_is_the_clear_offline_error(name, presets_file, monkeypatch, tmp_path):
    from posebooth.pipeline.errors import ModelNotFoundError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    preset = _fast_presets()[name]
    with pytest.raises(ModelNotFoundError) as err:
        load_backend(name, LoadOptions(presets_file=str(presets_file), **CPU))
    text = str(err.value)
    assert "\n" not in text and "HF_HUB_OFFLINE" in text and f"hf download {preset.base}" in text
    if preset.lora_weight_name:   # only the one file of a repo of many LoRAs
        assert f"hf download {preset.lora} {preset.lora_weight_name}" in text


def _tiny_lora(folder, weight_name):
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    unet = tm.tiny_unet()
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():
        for n, p in unet.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=get_peft_model_state_dict(unet),
                                              weight_name=weight_name)


@pytest.fixture(scope="module")
def local_fast_preset(tmp_path_factory, taesd_folder):
    """sd15-depth-hyper as a user would point it at local downloads (tiny random weights)."""
    root = tmp_path_factory.mktemp("fast")
    entry = dict(_fast_presets()["sd15-depth-hyper"].model_dump(exclude_defaults=False))
    entry.update(base=str(tm.save_tiny_sd_pipeline(root / "sd")),
                 controlnets={"depth": str(tm.save_tiny_controlnet(root / "depth"))},
                 lora=str(root / "hyper"), preview_decoder=str(taesd_folder), size=[64, 64])
    entry = {k: v for k, v in entry.items() if v is not None}
    _tiny_lora(root / "hyper", entry["lora_weight_name"])
    path = root / "presets.json"
    path.write_text(json.dumps({"format": "posebooth-model-presets", "version": 1, "presets": {"fast": entry}}))
    return path, entry


def test_fast_preset_loads_offline_from_local_folders(local_fast_preset):
    path, entry = local_fast_preset
    backend = load_backend("fast", LoadOptions(presets_file=str(path), **CPU))
    assert backend.scheduler_name() == "ddim-trailing" and backend.defaults["guidance"] == 0.0
    assert isinstance(backend.fast_decoder, TaesdPreview)
    assert not any("lora" in n for n, _ in backend.pipe.unet.named_parameters())   # fused
    plain = tm.tiny_unet().state_dict()
    assert any(not torch.equal(plain[k], v) for k, v in backend.pipe.unet.state_dict().items())
    result = backend.generate(make_request(steps=2, guidance=0.0, preview=True))
    assert result.settings["decoder"] == "taesd" and result.settings["scheduler"] == "ddim-trailing"


@pytest.mark.hostile
def test_fast_preset_whose_lora_file_is_missing(local_fast_preset, tmp_path):
    from posebooth.pipeline.errors import ModelNotFoundError

    path, entry = local_fast_preset
    data = json.loads(path.read_text())
    data["presets"]["fast"]["lora_weight_name"] = "Hyper-SD15-1step-lora.safetensors"
    bad = tmp_path / "presets.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ModelNotFoundError, match=r"LoRA folder .*hyper has no Hyper-SD15-1step-lora\.safetensors"):
        load_backend("fast", LoadOptions(presets_file=str(bad), **CPU))


# ---- pacing ----------------------------------------------------------------------------------
def test_pacer_keeps_one_request_outstanding_and_requests_the_newest_state():
    pacer = LivePacer()
    assert pacer.edit()                  # idle: request now
    assert pacer.started("a") == 1
    assert not any(pacer.edit() for _ in range(59))   # 59 moves while "a" runs: no request
    assert pacer.outstanding == 1
    assert pacer.accept("a") and pacer.finished("a")    # "a" shown; the newest state is due
    assert pacer.started("b") == 60                      # ... snapshotted after the 60th edit
    assert pacer.accept("b") and not pacer.finished("b")  # nothing new since: idle


def test_pacer_never_shows_a_stale_result():
    pacer = LivePacer(depth=2)
    pacer.edit(), pacer.started("old")
    pacer.edit(), pacer.started("new")
    assert pacer.accept("new")                    # results out of order: the newer lands first
    assert not pacer.accept("old")                # ... the older is never shown after it
    assert not pacer.accept("unknown")
    pacer.finished("new"), pacer.finished("old")
    assert pacer.outstanding == 0


@pytest.mark.parametrize("steps,strength", [(1, 0.5), (2, 0.5), (1, 0.3), (4, 0.75), (2, 1.0)])
def test_img2img_steps_run_as_many_denoising_steps(steps, strength):
    n = img2img_steps(steps, strength)
    assert int(n * strength) == steps       # what diffusers' img2img runs (init_timestep)
    assert n == 1 or int((n - 1) * strength) < steps   # the fewest


def test_worker_lets_a_running_live_preview_finish():
    from posebooth.pipeline.worker import GenerationWorker

    started, release = threading.Event(), threading.Event()

    class Backend:   # blocks the first request until released
        def generate(self, request, on_step):
            started.set()
            release.wait(10)
            on_step(1, 1, None)
            from posebooth.frame.request import GenerationResult
            return GenerationResult(request.request_id, np.zeros((8, 8, 3), np.uint8), request.seed)

    done, cancelled = [], []
    worker = GenerationWorker(backend=Backend(), on_result=lambda r: done.append(r.request_id),
                              on_cancelled=cancelled.append)
    try:
        a, b, c = (make_request(preview=True) for _ in range(3))
        worker.submit(a, live=True)
        assert started.wait(10)
        worker.submit(b, live=True)    # replaces nothing running...
        worker.submit(c, live=True)    # ... but replaces b, which was only queued
        release.set()
        assert worker.wait_idle(10)
        assert done == [a.request_id, c.request_id] and cancelled == [b.request_id]
        started.clear(), release.clear()
        d, e = make_request(preview=True), make_request(preview=True)
        worker.submit(d, live=True)
        assert started.wait(10)
        worker.submit(e)                # a non-live preview still interrupts
        release.set()
        assert worker.wait_idle(10)
        assert d.request_id in cancelled and done[-1] == e.request_id
    finally:
        release.set()
        worker.shutdown()
