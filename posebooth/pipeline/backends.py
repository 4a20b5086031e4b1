"""Backends: one `generate(request, on_step)` over the diffusers pipelines PoseBooth uses.

- ControlNetBackend: SD1.5 or SDXL + one or several ControlNets (depth / openpose /
  normal), txt2img, or ControlNet img2img (built with from_pipe: same modules,
  no copy) when the request has an init image.
- Depth2ImgBackend: SD2-depth, whose UNet takes the depth map as a 5th input channel.

Determinism: the noise comes from a CPU torch.Generator seeded with request.seed, so
the same seed gives the same image on any device (up to the device's arithmetic).
Stopping: on_step may raise GenerationCancelled; it is called from diffusers'
callback_on_step_end, i.e. at the end of every denoising step, so a cancel lands
within one step and the full-size VAE decode is skipped. (diffusers' own
`pipe._interrupt` would also skip the remaining steps, but still decode, and the
depth2img pipeline does not check it.)
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

import numpy as np
import torch
from PIL import Image

from posebooth.pipeline.devices import is_out_of_memory, out_of_memory_error
from posebooth.pipeline.errors import GenerationCancelled, GenerationError
from posebooth.frame.request import GenerationRequest, GenerationResult
from posebooth.pipeline.schedulers import make_scheduler, scheduler_label

log = logging.getLogger(__name__)

# on_step(step, total, preview_image_or_None); may raise GenerationCancelled.
StepCallback = Callable[[int, int, Optional[np.ndarray]], None]


class Backend:
    pipeline_kind = ""
    control_kinds: tuple[str, ...] = ()
    # A TaesdPreview that decodes the final latents of preview requests (live preview: TAESD
    # instead of the full VAE); set by loading.backend_for_pipeline for SD-style latents only.
    fast_decoder = None
    # pipeline.identity.IdentityAdapter (IP-Adapter for a request's identity image); set by the
    # loader for the models that take one, None for the others.
    identity_adapter = None

    def __init__(
        self,
        pipe,
        *,
        device: torch.device,
        dtype: torch.dtype,
        label: str = "",
        previewer=None,
        preview_every: int = 1,
        offload: bool = False,
        warnings: list[str] | None = None,
    ):
        self.pipe = pipe
        self.device = device
        self.dtype = dtype
        self.label = label
        self.previewer = previewer
        self.preview_every = max(1, int(preview_every))
        self.offload = offload
        self.warnings = list(warnings or [])
        self.defaults: dict[str, Any] = {}  # the preset's steps / guidance / size, for building requests
        self._img2img = None

    # -- subclass hooks -----------------------------------------------------------------
    def _prepare(self, request: GenerationRequest) -> tuple[Any, dict[str, Any], list[str]]:
        """(pipeline to call, its keyword arguments, control kinds applied)."""
        raise NotImplementedError

    def _make_img2img(self):
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------
    def _controls(self, request):
        """The request's control per kind this model takes (None where absent)
        and the kinds applied; none at all is an error, others are ignored."""
        controls = [request.control(k) for k in self.control_kinds]
        applied = [c.kind for c in controls if c is not None]
        if not applied:
            raise GenerationError(f"this model needs a {' / '.join(self.control_kinds)} control image")
        ignored = [c.kind for c in request.controls if c.kind not in self.control_kinds]
        if ignored:
            log.info("no ControlNet loaded for %s: ignored", ", ".join(ignored))
        return controls, applied

    @property
    def img2img(self):
        if self._img2img is None:
            self._img2img = self._make_img2img()
            self._img2img.set_progress_bar_config(disable=True)
        return self._img2img

    def set_scheduler(self, name: str) -> None:
        scheduler = make_scheduler(name, self.pipe.scheduler)
        for pipe in (self.pipe, self._img2img):
            if pipe is not None:
                pipe.scheduler = scheduler

    def scheduler_name(self) -> str:
        return scheduler_label(self.pipe.scheduler)

    def generator(self, seed: int) -> torch.Generator:
        return torch.Generator("cpu").manual_seed(int(seed))

    def _callback(self, on_step: StepCallback | None, marks: dict[str, float]):
        previewer, every = self.previewer, self.preview_every

        def callback(pipe, i: int, t, kwargs: dict) -> dict:
            if "first_step" not in marks:
                marks["first_step"] = time.perf_counter()
            if on_step is not None:
                total = int(getattr(pipe, "_num_timesteps", 0) or 0)
                step = i + 1
                preview = None
                if previewer is not None and step % every == 0 and step < total:
                    preview = previewer(kwargs["latents"])
                on_step(step, total, preview)
            return {}

        return callback

    # Keyword arguments that carry one value per image of a batch (prompt
    # embeddings are computed per prompt; images are per request).
    BATCHED_ARGS = ("prompt", "negative_prompt", "image", "control_image", "depth_map")

    def generate(self, request: GenerationRequest, on_step: StepCallback | None = None) -> GenerationResult:
        return self.generate_batch([request], on_step)[0]

    def generate_batch(self, requests: list[GenerationRequest],
                       on_step: StepCallback | None = None) -> list[GenerationResult]:
        """Several requests in one pipeline call (the dataset engine's GPU
        batches): each keeps its own seed (a generator per image, so its
        starting noise is the one it gets alone). They must differ only in
        prompts, control images and seeds; a batch of one is `generate`."""
        t0 = time.perf_counter()
        first = requests[0]
        if first.scheduler and first.scheduler != self.scheduler_name():
            self.set_scheduler(first.scheduler)
        prepared = [self._prepare(r) for r in requests]
        pipe, kwargs, applied = prepared[0]
        if len(requests) > 1:
            kwargs = self._batched_kwargs(prepared)
        if self.identity_adapter is not None or any(r.identity is not None for r in requests):
            from posebooth.pipeline.identity import identity_kwargs  # the character's reference image

            kwargs = identity_kwargs(self, requests, kwargs)
        marks: dict[str, float] = {}
        generators = [self.generator(r.seed) for r in requests]
        fast = self.fast_decoder if all(r.preview for r in requests) else None
        try:
            with torch.inference_mode():
                out = pipe(
                    **kwargs,
                    generator=generators[0] if len(requests) == 1 else generators,
                    output_type="np" if fast is None else "latent",
                    callback_on_step_end=self._callback(on_step, marks),
                )
        except GenerationCancelled:
            pipe.maybe_free_model_hooks()  # what the pipeline does after a full run (offload bookkeeping)
            raise
        except Exception as exc:
            pipe.maybe_free_model_hooks()
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, first.width, first.height, self.device, self.dtype) from exc
            raise
        arrays = out.images if fast is None else fast.decode_all(out.images)
        t1 = time.perf_counter()
        timings = {"total": t1 - t0}
        if "first_step" in marks:
            timings["first_step"] = marks["first_step"] - t0
        results = []
        for request, array in zip(requests, arrays):
            image = array if fast is not None else (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
            settings = request.settings()
            settings.update(
                model=self.label,
                pipeline=self.pipeline_kind,
                scheduler=self.scheduler_name(),
                controls_applied=applied,
                device=str(self.device),
                dtype=str(self.dtype).replace("torch.", ""),
            )
            if len(requests) > 1:
                settings["batch"] = len(requests)
            if fast is not None:
                settings["decoder"] = "taesd"
            results.append(GenerationResult(request.request_id, image, request.seed, settings, dict(timings)))
        return results

    def _batched_kwargs(self, prepared: list) -> dict[str, Any]:
        """One call's arguments from several requests' (per-image arguments
        become lists; a MultiControlNet's images become one list per net)."""
        pipes = {id(p) for p, _, _ in prepared}
        base = prepared[0][1]
        for _, kw, _ in prepared[1:]:
            differ = sorted(k for k in set(base) | set(kw)
                            if k not in self.BATCHED_ARGS and not _same(base.get(k), kw.get(k)))
            if len(pipes) > 1 or differ:
                raise GenerationError("a batch must share its settings; these differ: "
                                      f"{', '.join(differ) or 'the pipeline'}")
        merged = dict(base)
        for key in self.BATCHED_ARGS:
            if key not in base:
                continue
            values = [kw[key] for _, kw, _ in prepared]
            if isinstance(base[key], torch.Tensor):   # SD2-depth's (1, H, W) depth maps
                merged[key] = torch.cat(values)
            elif isinstance(base[key], list):   # several ControlNets: per net, the batch's images
                merged[key] = [list(per_net) for per_net in zip(*values)]
            elif key == "negative_prompt" and all(v is None for v in values):
                merged[key] = None
            else:
                merged[key] = [v if v is not None else "" for v in values] if "prompt" in key else values
        return merged


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and bool((a == b).all()))
    return a == b


class ControlNetBackend(Backend):
    """SD1.5 / SDXL with ControlNets; `nets` maps control kind -> ControlNetModel."""

    def __init__(self, pipe, nets: dict[str, Any], *, sdxl: bool = False, **kw):
        super().__init__(pipe, **kw)
        self.nets = dict(nets)
        self.control_kinds = tuple(self.nets)
        self.sdxl = sdxl
        self.pipeline_kind = "sdxl-controlnet" if sdxl else "sd15-controlnet"
        self._active: tuple[str, ...] = tuple(self.nets)

    def _make_img2img(self):
        from diffusers import StableDiffusionControlNetImg2ImgPipeline, StableDiffusionXLControlNetImg2ImgPipeline

        cls = StableDiffusionXLControlNetImg2ImgPipeline if self.sdxl else StableDiffusionControlNetImg2ImgPipeline
        return cls.from_pipe(self.pipe)

    def _use_nets(self, kinds: tuple[str, ...]) -> None:
        """Put exactly these ControlNets on the pipelines (a MultiControlNet for several)."""
        if kinds == self._active:
            return
        from diffusers import MultiControlNetModel

        nets = [self.nets[k] for k in kinds]
        controlnet = nets[0] if len(nets) == 1 else MultiControlNetModel(nets)
        for pipe in (self.pipe, self._img2img):
            if pipe is not None:
                pipe.controlnet = controlnet
        self._active = kinds

    def _prepare(self, request):
        controls, applied = self._controls(request)
        if self.offload:
            # Offload hooks sit on the pipeline's controlnet module: keep the full set and
            # switch unused nets off (scale 0, black image) instead of swapping modules.
            blank = np.zeros((request.height, request.width, 3), np.uint8)
            kinds = self.control_kinds
            images = [c.image if c else blank for c in controls]
            scales = [c.scale if c else 0.0 for c in controls]
            starts = [c.start if c else 0.0 for c in controls]
            ends = [c.end if c else 1.0 for c in controls]
        else:
            used = [c for c in controls if c is not None]
            kinds = tuple(c.kind for c in used)
            images, scales = [c.image for c in used], [c.scale for c in used]
            starts, ends = [c.start for c in used], [c.end for c in used]
        self._use_nets(kinds)
        pil = [Image.fromarray(a) for a in images]
        one = len(pil) == 1
        kwargs: dict[str, Any] = dict(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            height=request.height,
            width=request.width,
            controlnet_conditioning_scale=scales[0] if one else scales,
            control_guidance_start=starts[0] if one else starts,
            control_guidance_end=ends[0] if one else ends,
        )
        control_images = pil[0] if one else pil
        if request.init_image is not None:
            pipe = self.img2img
            kwargs.update(
                image=Image.fromarray(request.init_image), control_image=control_images, strength=request.strength
            )
        else:
            pipe = self.pipe
            kwargs.update(image=control_images)
        return pipe, kwargs, applied


class Depth2ImgBackend(Backend):
    """SD2-depth. The depth conditioning is the rendered "depth" control image, passed as
    `depth_map`, so the pipeline's DPT estimator is never loaded or run.

    What the pipeline does with depth_map (diffusers StableDiffusionDepth2ImgPipeline.
    prepare_depth_map): bicubic-resize (B, H, W) to the latent size, then min-max
    normalise each map to [-1, 1]. So only the *shape* of the values matters, not
    their scale, and the sign convention must be DPT's (inverse depth: near = large).
    The control image is already in ControlNet's convention (near = bright, far /
    background = black), so its first channel / 255 is passed as is. A flat map
    (nothing in view) cannot be normalised (0/0) and is rejected.

    The pipeline is img2img only: it needs an init image and has no width/height
    arguments (the output has the init image's size). Without request.init_image we
    pass a neutral gray image at the request size with strength 1.0: every step runs
    and the noise dominates, though at the first timestep ~7% of the gray latent
    (sqrt(alpha_bar) at t~980) remains, nudging tones towards neutral. With an init
    image (previous frame, shaded render), request.strength applies as usual.
    The control's scale/start/end do not apply (the depth is part of the UNet input).
    """

    pipeline_kind = "sd2-depth"
    control_kinds = ("depth",)

    def _make_img2img(self):
        return self.pipe

    def _prepare(self, request):
        depth = request.control("depth")
        if depth is None:
            raise GenerationError("the SD2-depth model needs a depth control image")
        depth_map = torch.from_numpy(depth.image[..., 0].astype(np.float32) / 255.0)[None]
        if float(depth_map.max() - depth_map.min()) == 0.0:
            raise GenerationError("the depth image is flat (nothing in view?): SD2-depth needs some depth variation")
        if request.init_image is not None:
            init, strength = Image.fromarray(request.init_image), request.strength
        else:
            init, strength = Image.new("RGB", (request.width, request.height), (128, 128, 128)), 1.0
        kwargs = dict(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            image=init,
            depth_map=depth_map,
            strength=strength,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
        )
        return self.pipe, kwargs, ["depth"]
