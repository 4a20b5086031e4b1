"""Real-size SD1.5 and SDXL ControlNet pipelines with random weights, for benchmarks.

The configs are the published ones (stable-diffusion-v1-5/stable-diffusion-v1-5,
stabilityai/stable-diffusion-xl-base-1.0 unet/vae/text_encoder configs, and
ControlNets derived from their UNets as lllyasviel/control_v11f1p_sd15_depth and
diffusers/controlnet-depth-sdxl-1.0 are), written inline so that timing and
memory can be measured with no download. The images are noise; the per-step
cost is the real one. The tokenizer is the tiny byte-level one: tokenisation
cost is negligible and the sequence length (77) is the real one.
"""

from __future__ import annotations

import torch

from .tiny_models import tiny_tokenizer

SD15_UNET = dict(
    act_fn="silu",
    attention_head_dim=8,
    block_out_channels=[320, 640, 1280, 1280],
    center_input_sample=False,
    cross_attention_dim=768,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    downsample_padding=1,
    flip_sin_to_cos=True,
    freq_shift=0,
    in_channels=4,
    layers_per_block=2,
    mid_block_scale_factor=1,
    norm_eps=1e-5,
    norm_num_groups=32,
    out_channels=4,
    sample_size=64,
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
)
SDXL_UNET = dict(
    addition_embed_type="text_time",
    addition_embed_type_num_heads=64,
    addition_time_embed_dim=256,
    attention_head_dim=[5, 10, 20],
    block_out_channels=[320, 640, 1280],
    center_input_sample=False,
    cross_attention_dim=2048,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    downsample_padding=1,
    flip_sin_to_cos=True,
    freq_shift=0,
    in_channels=4,
    layers_per_block=2,
    mid_block_scale_factor=1,
    norm_eps=1e-5,
    norm_num_groups=32,
    out_channels=4,
    projection_class_embeddings_input_dim=2816,
    sample_size=128,
    transformer_layers_per_block=[1, 2, 10],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    use_linear_projection=True,
)
SD_VAE = dict(
    act_fn="silu",
    block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4,
    in_channels=3,
    latent_channels=4,
    layers_per_block=2,
    norm_num_groups=32,
    out_channels=3,
    sample_size=512,
    up_block_types=["UpDecoderBlock2D"] * 4,
)
CLIP_L = dict(
    hidden_size=768,
    intermediate_size=3072,
    num_attention_heads=12,
    num_hidden_layers=12,
    hidden_act="quick_gelu",
    projection_dim=768,
)
OPENCLIP_BIGG = dict(
    hidden_size=1280,
    intermediate_size=5120,
    num_attention_heads=20,
    num_hidden_layers=32,
    hidden_act="gelu",
    projection_dim=1280,
)


def _clip(cls, arch: dict):
    from transformers import CLIPTextConfig

    # bos/eos ids follow the tiny tokenizer (0/1); the vocabulary size is CLIP's.
    return cls(
        CLIPTextConfig(
            vocab_size=49408, max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1, **arch
        )
    )


def real_size_pipeline(
    arch: str, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, seed: int = 0
):
    """'sd15' -> StableDiffusionControlNetPipeline, 'sdxl' -> StableDiffusionXLControlNetPipeline.

    Modules are created directly on `device` (random init of 2.6 G SDXL parameters
    on a CPU takes minutes; on the GPU seconds)."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel, UniPCMultistepScheduler
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    scheduler_cfg = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)
    with torch.device(device):
        if arch == "sd15":
            from diffusers import StableDiffusionControlNetPipeline

            unet = UNet2DConditionModel(**SD15_UNET)
            pipe = StableDiffusionControlNetPipeline(
                vae=AutoencoderKL(**SD_VAE),
                text_encoder=_clip(CLIPTextModel, CLIP_L),
                tokenizer=tiny_tokenizer(),
                unet=unet,
                controlnet=ControlNetModel.from_unet(unet),
                scheduler=UniPCMultistepScheduler(**scheduler_cfg),
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
            )
        elif arch == "sdxl":
            from diffusers import StableDiffusionXLControlNetPipeline

            unet = UNet2DConditionModel(**SDXL_UNET)
            pipe = StableDiffusionXLControlNetPipeline(
                vae=AutoencoderKL(**SD_VAE, scaling_factor=0.13025, force_upcast=True),
                text_encoder=_clip(CLIPTextModel, CLIP_L),
                tokenizer=tiny_tokenizer(),
                text_encoder_2=_clip(CLIPTextModelWithProjection, OPENCLIP_BIGG),
                tokenizer_2=tiny_tokenizer(),
                unet=unet,
                controlnet=ControlNetModel.from_unet(unet),
                scheduler=UniPCMultistepScheduler(**scheduler_cfg, timestep_spacing="leading"),
            )
        else:
            raise ValueError(f"real-size architecture must be 'sd15' or 'sdxl', got {arch!r}")
    if dtype != torch.float32:  # modules are created in fp32 on `device`
        pipe.to(dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe
