"""Model sources: presets, local diffusers folders of each kind, single files, missing models."""

import json

import numpy as np
import pytest
import torch

from pipeline_fixtures import _one_torch_thread  # noqa: F401  (pytest fixture)
from pipeline_fixtures import H, W, make_request
from fixtures import tiny_models as tm
from posebooth.pipeline.backends import ControlNetBackend, Depth2ImgBackend
from posebooth.pipeline.devices import CPU_WARNING, pick_device, pick_dtype
from posebooth.pipeline.errors import GenerationError, ModelNotFoundError
from posebooth.pipeline.loading import LoadOptions, load_backend
from posebooth.pipeline.presets import PresetFileError, list_presets, load_presets, user_presets_path
from posebooth.pipeline.previews import LinearPreview, TaesdPreview

CPU = LoadOptions(device="cpu")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "cn": tm.save_tiny_controlnet_pipeline(root / "cn"),
        "multi": tm.save_tiny_controlnet_pipeline(root / "multi", n_controlnets=3),
        "sd2": tm.save_tiny_sd2_depth_pipeline(root / "sd2"),
        "xl": tm.save_tiny_sdxl_controlnet_pipeline(root / "xl"),
        "sd": tm.save_tiny_sd_pipeline(root / "sd"),
        "depth-net": tm.save_tiny_controlnet(root / "depth-net"),
        "pose-net": tm.save_tiny_controlnet(root / "pose-net", seed=1),
        "taesd": tm.save_tiny_taesd(root / "taesd"),
    }


@pytest.fixture()
def config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBOOTH_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.mark.parametrize(
    "name, cls, kinds, class_name",
    [
        ("cn", ControlNetBackend, ("depth",), "StableDiffusionControlNetPipeline"),
        ("multi", ControlNetBackend, ("depth", "openpose", "normal"), "StableDiffusionControlNetPipeline"),
        ("sd2", Depth2ImgBackend, ("depth",), "StableDiffusionDepth2ImgPipeline"),
        ("xl", ControlNetBackend, ("depth",), "StableDiffusionXLControlNetPipeline"),
    ],
)
def test_load_local_folder_of_each_kind(folders, name, cls, kinds, class_name):
    assert tm.model_index_class(folders[name]) == class_name
    stages = []
    b = load_backend(str(folders[name]), CPU, on_progress=lambda p, m: stages.append((p, m)))
    assert isinstance(b, cls) and b.control_kinds == kinds
    assert stages[0][0] == 0.0 and stages[-1][0] == 1.0 and "Ready" in stages[-1][1]
    assert [p for p, _ in stages] == sorted(p for p, _ in stages)
    assert CPU_WARNING in b.warnings
    r = b.generate(make_request(kinds, seed=1))
    assert r.image.shape == (H, W, 3)


def test_loaded_folder_matches_in_memory_pipeline(folders):
    """Saving and loading by path gives the same weights, hence the same image."""
    loaded = load_backend(str(folders["cn"]), CPU)
    pipe = tm.tiny_controlnet_pipeline()
    ref = ControlNetBackend(pipe, {"depth": pipe.controlnet}, device=torch.device("cpu"), dtype=torch.float32)
    req = make_request(seed=5)
    np.testing.assert_array_equal(loaded.generate(req).image, ref.generate(req).image)


def test_plain_sd_folder_with_separate_controlnets(folders):
    opts = LoadOptions(
        device="cpu", controlnets={"depth": str(folders["depth-net"]), "openpose": str(folders["pose-net"])}
    )
    b = load_backend(str(folders["sd"]), opts)
    assert b.control_kinds == ("depth", "openpose")
    assert b.generate(make_request(("depth", "openpose"))).image.shape == (H, W, 3)


def test_single_file_checkpoint(tmp_path):
    ckpt, config = tm.save_tiny_single_file(tmp_path / "tiny-sd.safetensors")
    assert not list(config.rglob("*.safetensors"))  # the weights can only come from the single file
    from safetensors import safe_open

    with safe_open(str(ckpt), "pt") as f:
        assert "model.diffusion_model.input_blocks.0.0.weight" in f.keys()  # original (LDM) key names
    net = tm.save_tiny_controlnet(tmp_path / "net")
    b = load_backend(str(ckpt), LoadOptions(device="cpu", config=str(config), controlnets={"depth": str(net)}))
    ref = tm.tiny_sd_pipeline()
    for name in ("unet", "vae", "text_encoder"):
        got, want = getattr(b.pipe, name).state_dict(), getattr(ref, name).state_dict()
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want), name
    assert b.generate(make_request()).image.shape == (H, W, 3)


@pytest.fixture
def no_network(monkeypatch):
    """Fails the test if the loader asks whether the Hub is reachable (offline,
    a missing model must be reported from the local checks alone)."""
    from posebooth.pipeline import hub

    def reached(*args, **kwargs):
        raise AssertionError("the loader tried the network")
    monkeypatch.setattr(hub, "network_reachable", reached)


def test_single_file_without_cached_config_is_reported(tmp_path, no_network):
    ckpt, _ = tm.save_tiny_single_file(tmp_path / "tiny-sd.safetensors")
    net = tm.save_tiny_controlnet(tmp_path / "net")
    weights_read = []
    with pytest.raises(ModelNotFoundError, match="hf download stable-diffusion-v1-5/stable-diffusion-v1-5 --include"):
        load_backend(str(ckpt), LoadOptions(device="cpu", controlnets={"depth": str(net)}),
                     before_weights=lambda: weights_read.append(True))
    assert not weights_read   # reported by the file checks, before any weight is read


@pytest.mark.parametrize(
    "source, match",
    [
        ("someone/not-a-cached-model", "hf download someone/not-a-cached-model"),
        ("/no/such/folder", "no such file or folder"),
        ("missing.safetensors", "no such file or folder"),
        ("sd15-depth", "hf download lllyasviel/control_v11f1p_sd15_depth --include"),
        ("sdxl-depth", "Not in the Hugging Face cache"),
        ("not-a-preset", "not a preset"),
    ],
)
def test_missing_model_fails_fast_with_a_clear_message(config_dir, no_network, source, match):
    weights_read = []
    with pytest.raises(ModelNotFoundError, match=match):
        load_backend(source, CPU, before_weights=lambda: weights_read.append(True))
    assert not weights_read   # reported by the file checks, before any weight is read


def test_online_but_unreachable_hub_fails_fast(monkeypatch):
    from posebooth.pipeline import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hub, "network_reachable", lambda timeout=2.0: False)
    with pytest.raises(ModelNotFoundError, match="cannot be reached"):
        load_backend("someone/not-a-cached-model", CPU)


def test_controlnet_folder_as_base_gets_a_hint(folders):
    with pytest.raises(ModelNotFoundError, match="it is a ControlNet"):
        load_backend(str(folders["depth-net"]), CPU)


def test_mismatched_controlnet_is_reported(folders, tmp_path):
    from diffusers import ControlNetModel

    torch.manual_seed(0)
    ControlNetModel.from_unet(tm.tiny_unet(cross_attention_dim=16)).save_pretrained(tmp_path / "other")
    with pytest.raises(GenerationError, match="another base model"):
        load_backend(str(folders["sd"]), LoadOptions(device="cpu", controlnets={"depth": str(tmp_path / "other")}))


def test_user_presets_file_created_from_shipped_default(config_dir):
    path = user_presets_path()
    assert path == config_dir / "model_presets.json" and path.is_file()
    presets, default = load_presets()
    assert default == "sd15-depth"
    assert {"sd15-depth", "sd15-depth-pose-normal", "sd2-depth", "sdxl-depth", "sd15-depth-lcm"} <= set(presets)
    lcm = presets["sd15-depth-lcm"]
    assert lcm.lora == "latent-consistency/lcm-lora-sdv1-5" and lcm.scheduler == "lcm" and lcm.steps == 4
    assert presets["sd15-depth"].preview_decoder == "madebyollin/taesd"
    status = {s.preset.name: s for s in list_presets()}
    assert not status["sd15-depth"].available and status["sd15-depth"].missing


def test_broken_user_presets_file_names_the_file(config_dir):
    path = user_presets_path()
    path.write_text("{ not json")
    with pytest.raises(PresetFileError, match=str(path)):
        load_presets()
    path.write_text(json.dumps({"presets": {"x": {"pipeline": "sd15-controlnet"}}}))
    with pytest.raises(PresetFileError, match=r"model_presets.json: presets\.x\.base: is required"):
        list_presets()


def test_user_preset_with_local_folders(config_dir, folders):
    """A preset pointing at local folders: available, and its TAESD becomes the step previewer."""
    path = user_presets_path()
    data = json.loads(path.read_text())
    data["presets"]["mine"] = {
        "pipeline": "sd15-controlnet",
        "base": str(folders["sd"]),
        "controlnets": {"depth": str(folders["depth-net"])},
        "preview_decoder": str(folders["taesd"]),
        "scheduler": "euler",
        "steps": 3,
    }
    path.write_text(json.dumps(data))
    status = {s.preset.name: s for s in list_presets()}
    assert status["mine"].available and status["mine"].preview_decoder_available
    b = load_backend("mine", CPU)
    assert isinstance(b.previewer, TaesdPreview) and b.scheduler_name() == "euler" and b.defaults["steps"] == 3
    assert isinstance(
        load_backend("mine", LoadOptions(device="cpu", preview_decoder="linear")).previewer, LinearPreview
    )


def test_lora_is_fused_and_scheduler_chosen(folders, tmp_path):
    """The LCM-LoRA route (load_lora_weights + fuse + LCMScheduler) on a tiny random LoRA."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    unet = tm.tiny_unet()
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():
        for n, p in unet.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    StableDiffusionPipeline.save_lora_weights(tmp_path / "lora", unet_lora_layers=get_peft_model_state_dict(unet))
    plain = load_backend(str(folders["cn"]), LoadOptions(device="cpu", scheduler="lcm"))
    lora = load_backend(str(folders["cn"]), LoadOptions(device="cpu", scheduler="lcm", lora=str(tmp_path / "lora")))
    assert type(lora.pipe.scheduler).__name__ == "LCMScheduler"
    assert not any("lora" in n for n, _ in lora.pipe.unet.named_parameters())  # fused, adapters unloaded
    req = make_request(steps=2, guidance=1.5)
    assert np.abs(plain.generate(req).image.astype(int) - lora.generate(req).image).max() > 0


def test_device_choice():
    device, warnings = pick_device("cpu")
    assert device.type == "cpu" and warnings == [CPU_WARNING]
    assert pick_dtype(device) == torch.float32 and pick_dtype(torch.device("cuda"), "auto") == torch.float16
    assert pick_dtype(device, "bf16") == torch.bfloat16
    with pytest.raises(GenerationError, match="unknown dtype"):
        pick_dtype(device, "int3")
    if not torch.cuda.is_available():
        with pytest.raises(GenerationError, match="CUDA"):
            pick_device("cuda")


def test_before_weights_runs_once_for_a_model_that_loads(folders):
    """The hook the missing-model tests rely on is called when weights are read."""
    weights_read = []
    load_backend(str(folders["sd"]), LoadOptions(device="cpu", controlnets={"depth": str(folders["depth-net"])}),
                 before_weights=lambda: weights_read.append(True))
    assert weights_read == [True]
