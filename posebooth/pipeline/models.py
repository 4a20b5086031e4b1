"""What a model source is: a preset name, a Hugging Face id, a diffusers folder, or a
single .safetensors file -> a ModelSpec saying which pipeline to build from what.

Only cheap local reads happen here (JSON files, safetensors headers, the HF cache),
so a missing model raises ModelNotFoundError before anything heavy is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from posebooth.pipeline import hub
from posebooth.pipeline.errors import ModelNotFoundError
from posebooth.pipeline.presets import BUILT_IN, Preset, load_presets, read_library
from posebooth.pipeline.presets import list_presets  # noqa: F401  (re-exported)

ALLOWED = ("a model is a preset name (posebooth models list), a Hugging Face id (owner/name), "
           "a diffusers folder or a .safetensors file")

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
DEFAULT_CONTROLNETS = {
    "sd15-controlnet": {"depth": "lllyasviel/control_v11f1p_sd15_depth"},
    "sdxl-controlnet": {"depth": "diffusers/controlnet-depth-sdxl-1.0"},
    # pipeline.modern: a plain FLUX.1 / SD3.5 base gets the shipped presets' ControlNets
    "flux-controlnet": {"depth": "Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro",
                        "openpose": "Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro"},
    "sd3-controlnet": {"depth": "stabilityai/stable-diffusion-3.5-large-controlnet-depth"},
}
# Where from_single_file takes the component configs (not weights) from, per family.
SINGLE_FILE_CONFIGS = {
    "sd15-controlnet": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sdxl-controlnet": "stabilityai/stable-diffusion-xl-base-1.0",
    "sd2-depth": "stabilityai/stable-diffusion-2-depth",
}
# model_index.json _class_name -> (pipeline kind, has its own ControlNet(s))
PIPELINE_CLASSES = {
    "StableDiffusionControlNetPipeline": ("sd15-controlnet", True),
    "StableDiffusionXLControlNetPipeline": ("sdxl-controlnet", True),
    "StableDiffusionDepth2ImgPipeline": ("sd2-depth", False),
    "StableDiffusionPipeline": ("sd15-controlnet", False),
    "StableDiffusionXLPipeline": ("sdxl-controlnet", False),
    "FluxPipeline": ("flux-controlnet", False),
    "StableDiffusion3Pipeline": ("sd3-controlnet", False),
}
EMBEDDED = ""  # controlnet source meaning "the ControlNet saved inside the base folder"


@dataclass(frozen=True)
class ModelSpec:
    label: str
    pipeline: str  # sd15-controlnet | sd2-depth | sdxl-controlnet
    base: str  # Hugging Face id, folder or file
    form: str  # "repo" | "folder" | "file"
    controlnets: Mapping[str, str] = field(default_factory=dict)  # kind -> id/path, or EMBEDDED
    lora: str | None = None
    lora_weight_name: str | None = None  # the LoRA's file in a repo / folder of several
    preview_decoder: str | None = None
    scheduler: str | None = None
    config: str | None = None  # single file: diffusers config folder or repo id
    defaults: Mapping[str, Any] = field(default_factory=dict)  # steps, guidance, size


def _show(source: str) -> str:
    """A source as messages quote it: one line, at most ~200 characters."""
    text = " ".join(str(source).split()) or repr(source)
    return text if len(text) <= 200 else text[:200] + "..."


def _check_single_file(path: str, where: str = "") -> None:
    """Only .safetensors checkpoints are loaded: a .ckpt is a pickle, which runs code."""
    if path.endswith(".ckpt"):
        raise ModelNotFoundError(f"{where}{_show(path)}: .ckpt (pickle) files are not loaded, for safety; "
                                 "convert it to .safetensors")
    if not path.endswith(".safetensors"):
        raise ModelNotFoundError(f"{where}{_show(path)}: a model file must be a .safetensors checkpoint "
                                 "(or give a diffusers folder)")


def single_file_family(path: str | Path) -> str:
    """Pipeline kind of an original-format checkpoint, from its key names (header only)."""
    from safetensors import safe_open

    _check_single_file(str(path))
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = list(f.keys())
            conv_in = "model.diffusion_model.input_blocks.0.0.weight"
            in_ch = f.get_slice(conv_in).get_shape()[1] if conv_in in keys else None
    except OSError as e:   # the file itself: unreadable
        raise ModelNotFoundError(f"{path}: not a readable .safetensors file ({e.strerror or type(e).__name__})"
                                 ) from None
    except Exception:  # SafetensorError: the library's words ("HeaderTooLarge") tell the user nothing
        raise ModelNotFoundError(f"{path}: not a readable .safetensors checkpoint (damaged, cut short or another "
                                 "kind of file); choose the model file again") from None
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "sdxl-controlnet"
    if in_ch == 5:
        return "sd2-depth"
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        return "sd15-controlnet"
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        raise ModelNotFoundError(f"{path}: an SD2.x checkpoint; PoseBooth uses SD2 only as SD2-depth (5-channel UNet)")
    raise ModelNotFoundError(f"{path}: not a Stable Diffusion 1.x/2-depth/XL checkpoint (unknown key names)")


def _spec_for_index(source: str, form: str, index: dict, options) -> ModelSpec:
    cls = index.get("_class_name", "?")
    if cls not in PIPELINE_CLASSES:
        raise ModelNotFoundError(
            f"{source}: a {cls}; PoseBooth needs one of {', '.join(PIPELINE_CLASSES)} (model_index.json _class_name)"
        )
    kind, embedded = PIPELINE_CLASSES[cls]
    if kind == "sd2-depth":
        nets: dict[str, str] = {}
    elif options.controlnets:
        nets = dict(options.controlnets)
    elif embedded:
        nets = {k: EMBEDDED for k in options.embedded_kinds(index)}
    else:
        nets = dict(DEFAULT_CONTROLNETS[kind])
    return ModelSpec(
        label=source,
        pipeline=kind,
        base=source,
        form=form,
        controlnets=nets,
        lora=options.lora,
        scheduler=options.scheduler,
    )


def _check_preset_sources(preset: Preset, origin: str) -> None:
    """Every local path the preset names exists and is of the right kind; the message
    names the presets file and the key (`presets.NAME.KEY`)."""
    named = [("base", preset.base), *((f"controlnets.{k}", v) for k, v in preset.controlnets.items())]
    named += [(key, v) for key, v in (("lora", preset.lora), ("preview_decoder", preset.preview_decoder),
                                      ("config", preset.config)) if v]
    for key, src in named:
        where = f"{origin}: presets.{preset.name}.{key}: "
        kind = hub.path_kind(src)
        if kind == "other":
            raise ModelNotFoundError(f"{where}{_show(src)}: not a regular file or a folder (a device, pipe or socket)")
        if kind == "missing" and not hub.looks_like_repo_id(src):
            raise ModelNotFoundError(f"{where}{_show(src)}: no such file or folder, and not a Hugging Face "
                                     "id (owner/name)")
        if kind == "file" and key in ("base", "lora"):
            _check_single_file(src, where)
        if kind == "file" and key not in ("base", "lora"):
            raise ModelNotFoundError(f"{where}{_show(src)}: must be a folder or a Hugging Face id, not a file")


def resolve(source: str | Path, options) -> ModelSpec:
    """Raise ModelNotFoundError with what to get and where, or return what to load."""
    source = str(source)
    if not source.strip():
        raise ModelNotFoundError(f"the model is empty: {ALLOWED}")
    presets_path = Path(options.presets_file) if options.presets_file else None
    preset, origin = None, ""
    if "/" not in source and "\\" not in source:
        library = read_library(presets_path)
        preset = library.presets.get(source)
        origin = BUILT_IN if library.note else str(library.path)
    if preset is not None:
        _check_preset_sources(preset, origin)
        base_form = {"file": "file", "folder": "folder"}.get(hub.path_kind(preset.base), "repo")
        return ModelSpec(
            label=preset.name,
            pipeline=preset.pipeline,
            base=preset.base,
            form=base_form,
            controlnets=dict(options.controlnets or preset.controlnets),
            lora=options.lora or preset.lora,
            lora_weight_name=None if options.lora else preset.lora_weight_name,
            preview_decoder=preset.preview_decoder,
            scheduler=options.scheduler or preset.scheduler,
            config=options.config
            or preset.config
            or (SINGLE_FILE_CONFIGS.get(preset.pipeline) if base_form == "file" else None),
            defaults={"steps": preset.steps, "guidance": preset.guidance, "size": preset.size},
        )
    path = hub.expand(source)
    where = hub.path_kind(source)
    if where == "other":
        raise ModelNotFoundError(f"{_show(source)}: not a regular file or a folder (a device, pipe or socket); "
                                 f"{ALLOWED}")
    if where == "file":
        _check_single_file(str(path))
        kind = options.pipeline or single_file_family(path)
        nets = dict(options.controlnets or DEFAULT_CONTROLNETS.get(kind, {}))
        return ModelSpec(
            label=path.name,
            pipeline=kind,
            base=str(path),
            form="file",
            controlnets=nets,
            lora=options.lora,
            scheduler=options.scheduler,
            config=options.config or SINGLE_FILE_CONFIGS[kind],
        )
    if where == "folder":
        index = hub.read_model_index(str(path))
        if index is None:
            cfg = hub.read_config(str(path)) or {}
            hint = (
                " (it is a ControlNet: pass it as a ControlNet, next to a base model)"
                if cfg.get("_class_name") == "ControlNetModel"
                else ""
            )
            raise ModelNotFoundError(f"{path}: not a diffusers pipeline folder, there is no model_index.json{hint}")
        return _spec_for_index(str(path), "folder", index, options)
    if hub.looks_like_repo_id(source):
        index = hub.read_model_index(source)
        if index is None:
            hub.ensure_downloadable(source, "Model")
            from huggingface_hub import hf_hub_download

            try:
                index = hub.read_model_index(str(Path(hf_hub_download(source, "model_index.json")).parent))
            except ModelNotFoundError:
                raise
            except Exception as e:  # missing repo, gated repo, not a pipeline repo
                raise ModelNotFoundError(f"{source}: cannot get its model_index.json from the Hub "
                                         f"({_show(str(e))})") from None
            if index is None:
                raise ModelNotFoundError(f"{source}: the Hub has no model_index.json for it; {ALLOWED}")
        return _spec_for_index(source, "repo", index, options)
    looks_like_path = any(s in source for s in ("/", "\\", "~")) or source.endswith(SINGLE_FILE_SUFFIXES)
    if looks_like_path:
        raise ModelNotFoundError(f"{_show(source)}: no such file or folder")
    names = ", ".join(load_presets(presets_path)[0])
    raise ModelNotFoundError(
        f"{_show(source)!r} is not a preset ({names}), a Hugging Face id (owner/name), a folder or a file"
    )
