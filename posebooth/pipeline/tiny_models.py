"""Tiny random-weight diffusers pipelines, built in code (no download, deterministic).

Tests and the default benchmark run the *real* diffusers pipelines on these:
same code paths as SD1.5 / SD2-depth / SDXL, ~1-2 M parameters, a 64x64
image in a fraction of a second on CPU. Shapes follow diffusers' own fast
tests (block_out_channels (32, 64), cross_attention_dim 32, 2 down blocks).
The VAE has 2 blocks, so its stride is 2, not 8: a 64x64 image has 32x32
latents. Sizes must be multiples of 8 anyway (the real models need it).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .ldm_format import diffusers_to_ldm_sd1

CROSS_DIM = 32
_SEED = 0


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table (the byte-level BPE alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tiny_tokenizer():
    """A byte-level CLIPTokenizer with no merges: every byte is a token (514 ids), no download."""
    from transformers import CLIPTokenizer

    chars = sorted(set(bytes_to_unicode().values()))
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for c in chars:
            vocab[c + suffix] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _text_config(hidden: int = CROSS_DIM, projection_dim: int | None = None):
    from transformers import CLIPTextConfig

    kwargs = dict(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        vocab_size=514,
        hidden_size=hidden,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=77,
    )
    if projection_dim is not None:
        kwargs.update(projection_dim=projection_dim, hidden_act="gelu")
    return CLIPTextConfig(**kwargs)


def tiny_text_encoder():
    from transformers import CLIPTextModel

    torch.manual_seed(_SEED)
    return CLIPTextModel(_text_config()).eval()


def tiny_unet(in_channels: int = 4, **extra):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(_SEED)
    return UNet2DConditionModel(
        **{
            **dict(
                block_out_channels=(32, 64),
                layers_per_block=2,
                sample_size=32,
                in_channels=in_channels,
                out_channels=4,
                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                cross_attention_dim=CROSS_DIM,
            ),
            **extra,
        }
    ).eval()


def tiny_controlnet(unet, seed: int = _SEED):
    """A ControlNet copied from the UNet (as in training), then its zero convolutions
    randomised: with the zero init the control image would have no effect at all."""
    from diffusers import ControlNetModel

    cn = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32)).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in cn.named_parameters():
            if name.startswith(
                ("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")
            ):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    return cn


def tiny_vae():
    from diffusers import AutoencoderKL

    torch.manual_seed(_SEED)
    return AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
    ).eval()


def tiny_taesd():
    """A random AutoencoderTiny with the tiny VAE's stride (2), standing in for madebyollin/taesd."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(_SEED)
    return AutoencoderTiny(
        encoder_block_out_channels=(8, 8),
        decoder_block_out_channels=(8, 8),
        num_encoder_blocks=(1, 1),
        num_decoder_blocks=(1, 1),
    ).eval()


def tiny_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def tiny_sd_pipeline():
    """A plain StableDiffusionPipeline (the kind of folder users combine with a separate ControlNet)."""
    from diffusers import StableDiffusionPipeline

    return _quiet(
        StableDiffusionPipeline(
            vae=tiny_vae(),
            text_encoder=tiny_text_encoder(),
            tokenizer=tiny_tokenizer(),
            unet=tiny_unet(),
            scheduler=tiny_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    )


def tiny_controlnet_pipeline(n_controlnets: int = 1):
    """StableDiffusionControlNetPipeline; n_controlnets > 1 gives a MultiControlNet (distinct weights)."""
    from diffusers import StableDiffusionControlNetPipeline

    unet = tiny_unet()
    nets = [tiny_controlnet(unet, seed=i) for i in range(n_controlnets)]
    return _quiet(
        StableDiffusionControlNetPipeline(
            vae=tiny_vae(),
            text_encoder=tiny_text_encoder(),
            tokenizer=tiny_tokenizer(),
            unet=unet,
            controlnet=nets[0] if n_controlnets == 1 else nets,
            scheduler=tiny_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    )


def tiny_sd2_depth_pipeline():
    """StableDiffusionDepth2ImgPipeline: the UNet takes 4 latent + 1 depth channels.
    No depth estimator: PoseBooth always passes the rendered depth as depth_map."""
    from diffusers import StableDiffusionDepth2ImgPipeline

    return _quiet(
        StableDiffusionDepth2ImgPipeline(
            vae=tiny_vae(),
            text_encoder=tiny_text_encoder(),
            tokenizer=tiny_tokenizer(),
            unet=tiny_unet(in_channels=5),
            scheduler=tiny_scheduler(),
            depth_estimator=None,
            feature_extractor=None,
        )
    )


def tiny_sdxl_controlnet_pipeline():
    """StableDiffusionXLControlNetPipeline with two text encoders (the second with projection)."""
    from diffusers import ControlNetModel, EulerDiscreteScheduler, StableDiffusionXLControlNetPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    # SDXL conditioning: 2 text encoders concatenated (32 + 32 = 64 cross-attention dims);
    # pooled text (32) + 6 size/crop numbers x 8 time-embedding dims = 80 added-embedding inputs.
    sdxl = dict(
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80,
        cross_attention_dim=64,
    )
    unet = tiny_unet(**sdxl)
    controlnet = tiny_controlnet(unet)
    assert isinstance(controlnet, ControlNetModel)
    torch.manual_seed(_SEED)
    te1 = CLIPTextModel(_text_config(projection_dim=32)).eval()
    torch.manual_seed(_SEED + 1)
    te2 = CLIPTextModelWithProjection(_text_config(projection_dim=32)).eval()
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        steps_offset=1,
        beta_schedule="scaled_linear",
        timestep_spacing="leading",
    )
    return _quiet(
        StableDiffusionXLControlNetPipeline(
            vae=tiny_vae(),
            text_encoder=te1,
            tokenizer=tiny_tokenizer(),
            text_encoder_2=te2,
            tokenizer_2=tiny_tokenizer(),
            unet=unet,
            controlnet=controlnet,
            scheduler=scheduler,
            force_zeros_for_empty_prompt=True,
        )
    )


def _quiet(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe


# --- saving: the folder layouts users have on disk -------------------------------------------


def save_tiny_controlnet_pipeline(folder: str | Path, n_controlnets: int = 1) -> Path:
    return _save(tiny_controlnet_pipeline(n_controlnets), folder)


def save_tiny_sd2_depth_pipeline(folder: str | Path) -> Path:
    return _save(tiny_sd2_depth_pipeline(), folder)


def save_tiny_sdxl_controlnet_pipeline(folder: str | Path) -> Path:
    return _save(tiny_sdxl_controlnet_pipeline(), folder)


def save_tiny_sd_pipeline(folder: str | Path) -> Path:
    """A plain StableDiffusionPipeline folder (model_index.json + unet/vae/text_encoder/...)."""
    return _save(tiny_sd_pipeline(), folder)


def save_tiny_controlnet(folder: str | Path, seed: int = _SEED) -> Path:
    """A standalone ControlNet folder (config.json + weights), matching tiny_sd_pipeline's UNet."""
    folder = Path(folder)
    tiny_controlnet(tiny_unet(), seed=seed).save_pretrained(folder)
    return folder


def save_tiny_taesd(folder: str | Path) -> Path:
    folder = Path(folder)
    tiny_taesd().save_pretrained(folder)
    return folder


def save_tiny_single_file(path: str | Path, config_folder: str | Path | None = None) -> tuple[Path, Path]:
    """Write tiny SD1.x weights as ONE original-format (LDM) .safetensors file, the way
    CivitAI-style checkpoints come, plus the diffusers config folder needed to load it.

    diffusers' from_single_file maps LDM keys to diffusers modules but takes the module
    *configs* from a diffusers-format folder or Hub repo (`config=`). Offline that must be
    a local folder or a cached repo; this returns (checkpoint, config_folder).
    """
    from safetensors.torch import save_file

    path = Path(path)
    pipe = tiny_sd_pipeline()
    config_folder = Path(config_folder) if config_folder else path.with_suffix("").with_name(path.stem + "-config")
    _save(pipe, config_folder)
    state = diffusers_to_ldm_sd1(pipe.unet, pipe.vae, pipe.text_encoder)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    # The config folder's own weights are not needed: keep configs/tokenizer only, so a
    # successful load proves the weights came from the single file.
    for f in config_folder.rglob("*.safetensors"):
        f.unlink()
    return path, config_folder


def _save(pipe, folder: str | Path) -> Path:
    folder = Path(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def model_index_class(folder: str | Path) -> str | None:
    p = Path(folder) / "model_index.json"
    return json.loads(p.read_text())["_class_name"] if p.is_file() else None
