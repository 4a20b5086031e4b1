"""Modern realism backends: SDXL + ControlNet Union, FLUX.1 + ControlNet, SD3.5 + ControlNet.

Each family is a pipeline kind of the presets file (presets.PIPELINE_KINDS):

    kind             pipeline (diffusers)                    ControlNet class
    sdxl-union       StableDiffusionXLControlNetUnionPipeline ControlNetUnionModel
    flux-controlnet  FluxControlNetPipeline                  FluxControlNetModel (in a FluxMultiControlNetModel)
    sd3-controlnet   StableDiffusion3ControlNetPipeline      SD3ControlNetModel

What the control images are (the model cards):
- Union ControlNets take several kinds in ONE model, told apart by a control-mode
  index. xinsir/controlnet-union-sdxl-1.0: openpose 0, depth 1, (thick lines 2,
  thin lines 3), normal 4, (segment 5). Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro
  (and InstantX's Union): (canny 0, tile 1), depth 2, (blur 3), pose 4, (gray 5, lq 6).
  A preset names the same source for every kind the union model serves
  ("controlnets": {"depth": X, "openpose": X}); it is loaded once.
- Depth is what frame.controls draws for every ControlNet: relative inverse depth,
  near = bright, far / background = black, 0..255 grey (MiDaS / Zoe / Depth
  Anything maps, which these models were trained on). OpenPose: the OpenPose
  colour skeleton on black. The FLUX and SD3.5 ControlNets VAE-encode the control
  image themselves (the pipelines do it); it is given as RGB like the others.

Same seed, same image: the noise comes from the CPU generator (Backend.generator).
No step previews: the latents are packed transformer tokens (FLUX) or 16-channel
latents that the SD linear / TAESD previews cannot decode.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from PIL import Image

from posebooth.pipeline.backends import Backend
from posebooth.pipeline.errors import GenerationError

log = logging.getLogger(__name__)

MODERN_KINDS = ("sdxl-union", "flux-controlnet", "sd3-controlnet")
PIPELINES = {
    "sdxl-union": "StableDiffusionXLControlNetUnionPipeline",
    "flux-controlnet": "FluxControlNetPipeline",
    "sd3-controlnet": "StableDiffusion3ControlNetPipeline",
}
IMG2IMG_PIPELINES = {
    "sdxl-union": "StableDiffusionXLControlNetUnionImg2ImgPipeline",
    "flux-controlnet": "FluxControlNetImg2ImgPipeline",
}
CONTROLNET_CLASSES = {
    "sdxl-union": "ControlNetUnionModel",
    "flux-controlnet": "FluxControlNetModel",
    "sd3-controlnet": "SD3ControlNetModel",
}
# control kind -> control-mode index of the union models (model cards, see above)
CONTROL_MODES = {
    "sdxl-union": {"openpose": 0, "depth": 1, "normal": 4},
    "flux-controlnet": {"depth": 2, "openpose": 4},
}
# model_index.json _class_name of a base folder/repo -> the kind it serves as
BASE_CLASSES = {
    "StableDiffusionXLPipeline": "sdxl-union",
    "StableDiffusionXLControlNetUnionPipeline": "sdxl-union",
    "FluxPipeline": "flux-controlnet",
    "FluxControlNetPipeline": "flux-controlnet",
    "StableDiffusion3Pipeline": "sd3-controlnet",
    "StableDiffusion3ControlNetPipeline": "sd3-controlnet",
}


def is_modern(kind: str) -> bool:
    return kind in MODERN_KINDS


def preferred_dtype(kind: str, device: torch.device, dtype: torch.dtype, choice: str) -> torch.dtype:
    """FLUX and SD3.5 run in bf16 on GPUs when the user left dtype on auto (their model
    cards do; fp16 overflows in T5-XXL and the FLUX transformer)."""
    if choice == "auto" and kind in ("flux-controlnet", "sd3-controlnet") and dtype == torch.float16:
        if device.type != "cuda" or torch.cuda.is_bf16_supported():
            return torch.bfloat16
    return dtype


def load_controlnets(kind: str, sources: dict[str, str], flags: dict[str, dict], dtype: torch.dtype,
                     progress) -> list[tuple[Any, tuple[str, ...]]]:
    """[(ControlNet, the control kinds it serves)], each source loaded once (a union
    model named for several kinds)."""
    import diffusers

    cls = getattr(diffusers, CONTROLNET_CLASSES[kind])
    by_source: dict[str, list[str]] = {}
    for k, src in sources.items():
        by_source.setdefault(src, []).append(k)
    out = []
    for i, (src, kinds) in enumerate(by_source.items()):
        progress(0.05 + 0.25 * i / max(1, len(by_source)), f"Loading the {'/'.join(kinds)} ControlNet ({src})")
        out.append((cls.from_pretrained(src, dtype=dtype, **flags[kinds[0]]), tuple(kinds)))
    check_modes(kind, out)
    return out


def check_modes(kind: str, slots: list[tuple[Any, tuple[str, ...]]]) -> None:
    """A union model serves the kinds it has a mode for; a plain one serves one kind."""
    modes = CONTROL_MODES.get(kind, {})
    for net, kinds in slots:
        union = _is_union(kind, net)
        if len(kinds) > 1 and not union:
            raise GenerationError(f"the ControlNet for {', '.join(kinds)} is not a union model: "
                                  "give each kind its own ControlNet")
        if union:
            unknown = [k for k in kinds if k not in modes]
            if unknown:
                raise GenerationError(f"the {kind} union ControlNet has no control mode for "
                                      f"{', '.join(unknown)} (it has {', '.join(modes)})")
    if kind == "sdxl-union" and len(slots) != 1:
        raise GenerationError("an sdxl-union preset takes ONE union ControlNet (name the same source for each kind)")


def _is_union(kind: str, net) -> bool:
    if kind == "sdxl-union":
        return True
    if kind == "flux-controlnet":
        return bool(getattr(net, "union", False))
    return False


def build_pipeline(kind: str, base: str, form: str, slots, dtype: torch.dtype, flags: dict):
    import diffusers

    cls = getattr(diffusers, PIPELINES[kind])
    nets = [net for net, _ in slots]
    if kind == "sdxl-union":
        controlnet = nets[0]
    elif kind == "flux-controlnet":  # the model cards: always through FluxMultiControlNetModel
        controlnet = diffusers.models.FluxMultiControlNetModel(nets)
    else:
        controlnet = nets[0] if len(nets) == 1 else diffusers.models.SD3MultiControlNetModel(nets)
    if form == "file":
        raise GenerationError(f"{base}: {kind} models load from a diffusers folder or a Hugging Face id, "
                              "not a single file")
    return cls.from_pretrained(base, controlnet=controlnet, dtype=dtype, **flags)


def slots_of(kind: str, pipe, control_kinds: tuple[str, ...] | None = None):
    """[(net, kinds)] of a pipeline built in code (tests, benchmarks): a union model
    serves every kind it has a mode for; plain nets take the given kinds in order."""
    cn = pipe.controlnet
    nets = list(getattr(cn, "nets", [cn]))
    if len(nets) == 1 and _is_union(kind, nets[0]):
        return [(nets[0], tuple(control_kinds or CONTROL_MODES[kind]))]
    kinds = control_kinds or ("depth",) * len(nets)
    return [(net, (k,)) for net, k in zip(nets, kinds)]


class ModernBackend(Backend):
    """One backend for the three families; `slots` = [(ControlNet, control kinds it serves)]."""

    def __init__(self, pipe, kind: str, slots, **kw):
        super().__init__(pipe, **kw)
        self.pipeline_kind = kind
        self.slots = list(slots)
        self.control_kinds = tuple(k for _, kinds in self.slots for k in kinds)
        self.previewer = None  # see the module's docstring

    def generate_batch(self, requests, on_step=None):
        if self.pipeline_kind != "sd3-controlnet":
            return super().generate_batch(requests, on_step)
        # The SD3 ControlNet pipeline VAE-encodes the control image with latent_dist.sample()
        # and no generator, i.e. from torch's global RNG: seed it (on a forked RNG state)
        # from the request so that the same seed gives the same image.
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(requests[0].seed))
            return super().generate_batch(requests, on_step)

    def _make_img2img(self):
        import diffusers

        name = IMG2IMG_PIPELINES.get(self.pipeline_kind)
        if name is None:
            raise GenerationError(f"the {self.pipeline_kind} pipeline has no img2img: use the fixed-seed "
                                  "clip strategy with this model")
        return getattr(diffusers, name).from_pipe(self.pipe)

    def _prepare(self, request):
        controls, applied = self._controls(request)
        kind = self.pipeline_kind
        modes = CONTROL_MODES.get(kind, {})
        blank = np.zeros((request.height, request.width, 3), np.uint8)
        if len(self.slots) == 1 and _is_union(kind, self.slots[0][0]):
            used = [c for c in controls if c is not None]  # one union model: the images given
            mode = [modes[c.kind] for c in used]
        else:  # one net per kind: every net gets an image; an unused one is off (scale 0)
            used = controls
            mode = [None] * len(used)
        images = [Image.fromarray(c.image if c else blank) for c in used]
        scales = [float(c.scale) if c else 0.0 for c in used]
        starts = [float(c.start) if c else 0.0 for c in used]
        ends = [float(c.end) if c else 1.0 for c in used]
        kwargs: dict[str, Any] = dict(
            prompt=request.prompt,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            height=request.height,
            width=request.width,
            control_guidance_start=starts,
            control_guidance_end=ends,
        )
        if kind == "sdxl-union":
            kwargs.update(negative_prompt=request.negative_prompt or None, control_image=images,
                          control_mode=mode, controlnet_conditioning_scale=scales)
        elif kind == "flux-controlnet":
            # FLUX.1-dev is guidance-distilled: guidance_scale is its embedded guidance and
            # there is no negative prompt (true CFG off, as the model cards run it).
            kwargs.update(control_image=images, control_mode=mode if modes and mode[0] is not None else None,
                          controlnet_conditioning_scale=scales)
        else:
            one = len(images) == 1
            kwargs.update(negative_prompt=request.negative_prompt or None,
                          control_image=images[0] if one else images,
                          controlnet_conditioning_scale=scales[0] if one else scales)
            if one:
                kwargs.update(control_guidance_start=starts[0], control_guidance_end=ends[0])
        if request.init_image is None:
            return self.pipe, kwargs, applied
        pipe = self.img2img
        if kind == "sdxl-union":
            kwargs["control_image"] = images
        kwargs.update(image=Image.fromarray(request.init_image), strength=request.strength)
        return pipe, kwargs, applied


def make_backend(pipe, kind: str, slots, **kw) -> ModernBackend:
    return ModernBackend(pipe, kind, slots, **kw)


def compile_modules(pipe, mode: str | None) -> None:
    """torch.compile the denoiser and its ControlNet (CUDA only; the caller checks)."""
    for name in ("transformer", "unet"):
        if getattr(pipe, name, None) is not None:
            setattr(pipe, name, torch.compile(getattr(pipe, name), mode=mode))
    if getattr(pipe, "controlnet", None) is not None:
        pipe.controlnet = torch.compile(pipe.controlnet, mode=mode)
