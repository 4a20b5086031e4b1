"""Cheap step previews: latents -> a small RGB image without the full VAE.

TAESD (madebyollin/taesd, taesdxl) decodes the pipeline's scaled latents
directly and looks close to the final image. Without it, a fixed linear map of
the 4 latent channels to RGB gives a blurry but recognisable 1/8-size image.
"""

from __future__ import annotations

import numpy as np
import torch

# Rows: latent channels L1..L4, columns: R, G, B; applied to the scaled latents the UNet
# denoises, giving RGB in about [-1, 1].
# SD1.x/SD2 (same VAE): fitted for SD1.4 by Keturn, "Decoding latents to RGB without
# upscaling", discuss.huggingface.co/t/decoding-latents-to-rgb-without-upscaling/23204/2.
SD_LATENT_RGB = [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]]
# SDXL: ComfyUI's fit, comfy/latent_formats.py, class SDXL, latent_rgb_factors.
SDXL_LATENT_RGB = [
    [0.3920, 0.4054, 0.4549],
    [-0.2634, -0.0196, 0.0653],
    [0.0568, 0.1687, -0.0755],
    [-0.3112, -0.2359, -0.2076],
]


def _to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> HxWx3 uint8."""
    return ((rgb.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class LinearPreview:
    def __init__(self, sdxl: bool = False):
        self.factors = torch.tensor(SDXL_LATENT_RGB if sdxl else SD_LATENT_RGB)

    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        lat = latents[0, :4].float()
        rgb = torch.einsum("lhw,lr->rhw", lat, self.factors.to(lat.device))
        return _to_uint8(rgb)


class TaesdPreview:
    """Decodes with an AutoencoderTiny; it lives on the pipeline's device and dtype."""

    def __init__(self, taesd):
        self.taesd = taesd

    @torch.no_grad()
    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        p = next(self.taesd.parameters())
        image = self.taesd.decode(latents[:1].to(device=p.device, dtype=p.dtype)).sample[0]
        return _to_uint8(image)

    @torch.no_grad()
    def decode_all(self, latents: torch.Tensor) -> list[np.ndarray]:
        """Every image of a batch of final latents (a pipeline's output_type="latent"), as
        the full VAE would give them but ~10x cheaper: the live preview's decoder."""
        p = next(self.taesd.parameters())
        images = self.taesd.decode(latents.to(device=p.device, dtype=p.dtype)).sample
        return [_to_uint8(image) for image in images]
