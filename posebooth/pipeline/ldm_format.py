"""diffusers -> original Stable Diffusion (LDM) checkpoint key names, SD1.x layout.

Single-file checkpoints (the .safetensors files shared on model sites) use the
original CompVis key names. PoseBooth only *reads* such files (through
diffusers' from_single_file); this writer exists so tests can produce a tiny
one. It is the inverse of diffusers' loaders/single_file_utils.py conversions
(convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint,
convert_ldm_clip_checkpoint), generalised from SD1.5's fixed 4-block layout to
any block count, so a round trip through from_single_file gives back the same
weights (tests check this).
"""

from __future__ import annotations

import torch

_RESNET = [
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
]
_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_VAE_ATTN = [("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."), ("to_out.0.", "proj_out.")]


def _resnet(rest: str) -> str:
    for old, new in _RESNET:
        if rest.startswith(old + "."):
            return new + rest[len(old) :]
    return rest


def unet_key(key: str, layers_per_block: int, up_has_attn: list[bool]) -> str:
    per = layers_per_block + 1
    parts = key.split(".")
    head = ".".join(parts[:1]) if parts[0] in ("conv_in", "conv_norm_out", "conv_out") else ".".join(parts[:2])
    if head in _UNET_TOP:
        return _UNET_TOP[head] + key[len(head) :]
    kind, b = parts[0], int(parts[1]) if parts[1].isdigit() else None
    if kind == "down_blocks":
        sub, j, rest = parts[2], int(parts[3]), ".".join(parts[4:])
        if sub == "resnets":
            return f"input_blocks.{per * b + j + 1}.0.{_resnet(rest)}"
        if sub == "attentions":
            return f"input_blocks.{per * b + j + 1}.1.{rest}"
        if sub == "downsamplers":  # downsamplers.0.conv.weight -> ...op.weight
            return f"input_blocks.{per * (b + 1)}.0.op.{rest.split('.', 1)[1]}"
    if kind == "mid_block":
        sub, j, rest = parts[1], int(parts[2]), ".".join(parts[3:])
        if sub == "resnets":
            return f"middle_block.{2 * j}.{_resnet(rest)}"
        return f"middle_block.1.{rest}"
    if kind == "up_blocks":
        sub, j, rest = parts[2], int(parts[3]), ".".join(parts[4:])
        if sub == "resnets":
            return f"output_blocks.{per * b + j}.0.{_resnet(rest)}"
        if sub == "attentions":
            return f"output_blocks.{per * b + j}.1.{rest}"
        if sub == "upsamplers":
            return f"output_blocks.{per * b + layers_per_block}.{2 if up_has_attn[b] else 1}.{rest}"
    raise KeyError(f"no LDM name for UNet key {key!r}")


def vae_key(key: str, n_blocks: int) -> str:
    key = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
    parts = key.split(".")
    side = parts[0]
    if len(parts) > 2 and parts[1] == "down_blocks":
        i, sub = int(parts[2]), parts[3]
        if sub == "resnets":
            return f"{side}.down.{i}.block.{'.'.join(parts[4:])}"
        return f"{side}.down.{i}.downsample.{'.'.join(parts[5:])}"
    if len(parts) > 2 and parts[1] == "up_blocks":
        i, sub = n_blocks - 1 - int(parts[2]), parts[3]
        if sub == "resnets":
            return f"{side}.up.{i}.block.{'.'.join(parts[4:])}"
        return f"{side}.up.{i}.upsample.{'.'.join(parts[5:])}"
    if len(parts) > 2 and parts[1] == "mid_block":
        if parts[2] == "resnets":
            return f"{side}.mid.block_{int(parts[3]) + 1}.{'.'.join(parts[4:])}"
        rest = ".".join(parts[4:]) + "."
        for old, new in _VAE_ATTN:
            if rest.startswith(old):
                rest = new + rest[len(old) :]
        return f"{side}.mid.attn_1.{rest[:-1]}"
    return key


def diffusers_to_ldm_sd1(unet, vae, text_encoder) -> dict[str, torch.Tensor]:
    """One LDM-format state dict for an SD1.x-style UNet + AutoencoderKL + CLIPTextModel."""
    cfg = unet.config
    up_has_attn = ["CrossAttn" in t for t in cfg.up_block_types]
    out: dict[str, torch.Tensor] = {}
    for k, v in unet.state_dict().items():
        out["model.diffusion_model." + unet_key(k, cfg.layers_per_block, up_has_attn)] = v
    n_vae = len(vae.config.down_block_types)
    for k, v in vae.state_dict().items():
        name = vae_key(k, n_vae)
        if ".mid.attn_1." in name and name.endswith(".weight") and v.ndim == 2:
            v = v[:, :, None, None]  # LDM's attention projections are 1x1 convolutions
        out["first_stage_model." + name] = v
    for k, v in text_encoder.state_dict().items():
        # transformers >= 5.6 flattened CLIPTextModel (no "text_model." level); LDM files keep it.
        name = k if k.startswith("text_model.") else "text_model." + k
        out["cond_stage_model.transformer." + name] = v
    return out
