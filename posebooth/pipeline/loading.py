"""Load a model source into a ready Backend: resolve, check files, build, place on the device.

Runs on the generation worker's thread; `on_progress(fraction, message)` reports
the stages. Everything that can be checked locally is checked before the first
weight is read, so a missing file fails in milliseconds with ModelNotFoundError.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import torch

from posebooth.pipeline import hub, modern
from posebooth.pipeline.backends import Backend, ControlNetBackend, Depth2ImgBackend
from posebooth.pipeline.devices import pick_device, pick_dtype
from posebooth.pipeline.errors import GenerationError
from posebooth.pipeline.models import EMBEDDED, ModelSpec
from posebooth.pipeline.previews import LinearPreview, TaesdPreview
from posebooth.pipeline.source_checks import LoadOptions, check_model, check_source
from posebooth.frame.controls import CONTROL_KINDS

log = logging.getLogger(__name__)
ProgressCallback = Callable[[float, str], None]


def load_backend(
    source: str | Path,
    options: LoadOptions | None = None,
    on_progress: ProgressCallback | None = None,
    before_weights: Callable[[], None] | None = None,
) -> Backend:
    """`before_weights` runs once every file check has passed, right before weights are read."""
    options = options or LoadOptions()
    progress = on_progress or (lambda fraction, message: None)
    progress(0.0, f"Resolving {source}")
    checked = check_source(source, options)   # before torch does anything: a bad source fails at once
    spec, base_flags, net_flags, lora_flags = checked.spec, checked.base_flags, checked.net_flags, checked.lora_flags
    device, warnings = pick_device(options.device)
    dtype = pick_dtype(device, options.dtype)
    dtype = modern.preferred_dtype(spec.pipeline, device, dtype, options.dtype)
    if before_weights is not None:  # e.g. the worker frees the previous model only now
        before_weights()

    from diffusers.utils import logging as dlogging
    from transformers.utils import logging as tlogging

    dlogging.disable_progress_bar()  # progress goes through on_progress, not the console
    tlogging.disable_progress_bar()
    # Library notices (e.g. transformers' image processors wanting torchvision,
    # which PoseBooth never uses) are not the user's business; errors still raise.
    tlogging.set_verbosity_error()
    dlogging.set_verbosity_error()
    nets = {}
    # SDXL Union / FLUX / SD3.5: [(ControlNet, kinds)], a union model loaded once (pipeline.modern)
    slots = modern.load_controlnets(spec.pipeline, dict(spec.controlnets), net_flags, dtype, progress) \
        if modern.is_modern(spec.pipeline) else None
    for i, (kind, src) in enumerate((k, v) for k, v in spec.controlnets.items() if v != EMBEDDED and slots is None):
        progress(0.05 + 0.25 * i / max(1, len(spec.controlnets)), f"Loading the {kind} ControlNet ({src})")
        from diffusers import ControlNetModel

        nets[kind] = ControlNetModel.from_pretrained(src, dtype=dtype, **net_flags[kind])
    progress(0.3, f"Loading {spec.base}")
    pipe = _build_pipeline(spec, nets if slots is None else slots, dtype, base_flags)
    if slots is not None:
        nets = slots
    elif spec.controlnets and not nets:  # the ControlNets saved inside the pipeline folder
        cn = pipe.controlnet
        nets = dict(zip(spec.controlnets, getattr(cn, "nets", [cn])))
    _check_compatible(pipe, nets)

    if spec.lora:
        progress(0.8, f"Fusing LoRA {spec.lora}")
        pipe.load_lora_weights(spec.lora, **lora_flags)
        pipe.fuse_lora(lora_scale=options.lora_scale)
        pipe.unload_lora_weights()  # keep the fused weights, drop the adapter layers (no per-step cost)
    if spec.scheduler:
        from posebooth.pipeline.schedulers import make_scheduler

        pipe.scheduler = make_scheduler(spec.scheduler, pipe.scheduler)
    progress(0.85, f"Moving to {device.type} ({str(dtype).replace('torch.', '')})")
    backend = backend_for_pipeline(
        pipe,
        spec.pipeline,
        nets,
        options,
        label=spec.label,
        preview_decoder=spec.preview_decoder,
        device=device,
        dtype=dtype,
        warnings=warnings,
    )
    backend.defaults = dict(spec.defaults)
    progress(1.0, f"Ready: {spec.label} on {device.type}")
    for w in backend.warnings:   # shown by the callers (the GUI's status, the CLI's stderr)
        log.info(w)
    return backend


def backend_for_pipeline(
    pipe,
    pipeline_kind: str,
    nets: dict | None = None,
    options: LoadOptions | None = None,
    *,
    label: str = "",
    preview_decoder: str | None = None,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
    warnings: list[str] | None = None,
) -> Backend:
    """Place an already-built pipeline (any dtype, on the CPU) as `options` say and wrap it in a Backend.
    Used by load_backend and by benchmarks that build pipelines in code."""
    options = options or LoadOptions()
    if device is None:
        device, warnings = pick_device(options.device)
    dtype = dtype or pick_dtype(device, options.dtype)
    warnings = list(warnings or [])
    offload = options.cpu_offload and device.type == "cuda"
    if options.cpu_offload and not offload:
        warnings.append("Model CPU offload needs a CUDA GPU: ignored")
    if any(m.dtype != dtype for m in pipe.components.values() if isinstance(m, torch.nn.Module)):
        pipe.to(dtype=dtype)
    if offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    if options.attention_slicing:
        pipe.enable_attention_slicing()
    if options.vae_tiling:
        pipe.vae.enable_tiling()
    if options.compile and device.type != "cuda":
        # Inductor's CPU code rarely beats eager for these models and takes minutes to build.
        warnings.append("torch.compile is used on CUDA only: ignored")
    elif options.compile and modern.is_modern(pipeline_kind):
        modern.compile_modules(pipe, options.compile_mode)
    elif options.compile:
        pipe.unet = torch.compile(pipe.unet, mode=options.compile_mode)
        if getattr(pipe, "controlnet", None) is not None:
            pipe.controlnet = torch.compile(pipe.controlnet, mode=options.compile_mode)
    pipe.set_progress_bar_config(disable=True)
    sdxl = pipeline_kind in ("sdxl-controlnet", "sdxl-union")
    previewer = _make_previewer(preview_decoder, sdxl, options, device, dtype)
    kw = dict(
        device=device,
        dtype=dtype,
        label=label,
        previewer=previewer,
        preview_every=options.preview_every,
        offload=offload,
        warnings=warnings,
    )
    if pipeline_kind == "sd2-depth":
        backend = Depth2ImgBackend(pipe, **kw)
    elif modern.is_modern(pipeline_kind):
        slots = nets if isinstance(nets, list) else modern.slots_of(pipeline_kind, pipe, options.control_kinds)
        backend = modern.make_backend(pipe, pipeline_kind, slots, **kw)
    else:
        if nets is None:
            cn = pipe.controlnet
            nets = dict(zip(CONTROL_KINDS, getattr(cn, "nets", [cn])))
        backend = ControlNetBackend(pipe, nets, sdxl=sdxl, **kw)
    from posebooth.pipeline.identity import adapter_for

    backend.identity_adapter = adapter_for(pipeline_kind, options.ip_adapter)  # loaded on first use
    if options.taesd_previews and isinstance(previewer, TaesdPreview):
        backend.fast_decoder = previewer   # SD-style 4-channel latents: TAESD decodes them as they are
    return backend


def _build_pipeline(spec: ModelSpec, nets: dict, dtype: torch.dtype, flags: dict):
    import diffusers

    if modern.is_modern(spec.pipeline):  # `nets` is [(ControlNet, kinds)] here
        return modern.build_pipeline(spec.pipeline, spec.base, spec.form, nets, dtype, flags)
    common: dict[str, Any] = dict(dtype=dtype, **flags)
    if spec.pipeline == "sd2-depth":
        cls = diffusers.StableDiffusionDepth2ImgPipeline
        # The rendered depth replaces the DPT estimator: never load it (~500 MB).
        common.update(depth_estimator=None, feature_extractor=None)
    else:
        sdxl = spec.pipeline == "sdxl-controlnet"
        cls = diffusers.StableDiffusionXLControlNetPipeline if sdxl else diffusers.StableDiffusionControlNetPipeline
        if nets:
            common["controlnet"] = (
                next(iter(nets.values())) if len(nets) == 1 else diffusers.MultiControlNetModel(list(nets.values()))
            )
        if not sdxl:
            common.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    if spec.form == "file":
        return cls.from_single_file(spec.base, config=spec.config, **common)
    return cls.from_pretrained(spec.base, **common)


def _check_compatible(pipe, nets: dict) -> None:
    if not isinstance(nets, dict):  # pipeline.modern's (ControlNet, kinds) pairs: diffusers checks those
        return
    want = pipe.unet.config.cross_attention_dim
    for kind, net in nets.items():
        if net.config.cross_attention_dim != want:
            raise GenerationError(
                f"The {kind} ControlNet was trained for another base model "
                f"(text features {net.config.cross_attention_dim}, the base model has {want})"
            )


def _make_previewer(
    preset_decoder: str | None, sdxl: bool, options: LoadOptions, device: torch.device, dtype: torch.dtype
):
    choice = options.preview_decoder or "auto"
    if choice == "none":
        return None
    if choice == "linear":
        return LinearPreview(sdxl)
    src = preset_decoder if choice == "auto" else choice
    if not src:
        return LinearPreview(sdxl)
    if choice == "auto" and not (hub.path_kind(src) == "folder" or hub.model_available(src)):
        return LinearPreview(sdxl)  # optional: never download it implicitly
    from diffusers import AutoencoderTiny

    flags = check_model(src, "Preview decoder (TAESD)")
    return TaesdPreview(AutoencoderTiny.from_pretrained(src, dtype=dtype, **flags).to(device))
