"""Everything about a model source that can be checked on disk, without torch.

`check_source` resolves a source (preset name, folder, .safetensors file or
Hugging Face id) and checks that every file the load needs is there, before
torch or diffusers is imported: `posebooth render --model` with a broken
source answers in about a second instead of after importing torch, and
pipeline.loading runs the same checks before reading any weight. All missing
downloads are reported together.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from posebooth.frame.controls import CONTROL_KINDS
from posebooth.pipeline import hub
from posebooth.pipeline.errors import ModelNotFoundError
from posebooth.pipeline.models import EMBEDDED, ModelSpec, resolve


@dataclass(frozen=True)
class LoadOptions:
    device: str = "auto"  # auto (CUDA > MPS > CPU) | cuda | cuda:N | mps | cpu
    dtype: str = "auto"  # auto (fp16 on GPUs, fp32 on CPU) | fp16 | bf16 | fp32
    attention_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False  # enable_model_cpu_offload: CUDA only
    scheduler: str | None = None  # overrides the preset's (see schedulers.ALIASES)
    lora: str | None = None  # id, folder or .safetensors; fused into the weights
    lora_scale: float = 1.0
    controlnets: Mapping[str, str] | None = None  # kind -> id/path, for plain SD folders / single files
    control_kinds: tuple[str, ...] | None = None  # kinds of the ControlNets saved inside a pipeline folder
    pipeline: str | None = None  # force the pipeline kind of a single file
    config: str | None = None  # single file: diffusers config folder or repo id
    preview_decoder: str = "auto"  # auto (preset's TAESD if present locally, else linear) | linear | none | id/path
    preview_every: int = 1
    compile: bool = False  # torch.compile the UNet and ControlNets (slow first run); CUDA only
    compile_mode: str | None = None  # torch.compile mode: "reduce-overhead" uses CUDA graphs
    taesd_previews: bool = True  # preview requests decode with the TAESD preview decoder, when loaded
    presets_file: str | None = None
    ip_adapter: str | None = None  # identity references: IP-Adapter repo/folder (pipeline.identity; h94/IP-Adapter)

    def embedded_kinds(self, index: dict) -> tuple[str, ...]:
        if self.control_kinds:
            return tuple(self.control_kinds)
        multi = "Multi" in str((index.get("controlnet") or [None, ""])[1])
        return CONTROL_KINDS[:3] if multi else CONTROL_KINDS[:1]


def _repo_files_flags(source: str, available: bool, what: str) -> dict[str, Any]:
    """from_pretrained flags: never touch the network for something already here."""
    if hub.path_kind(source) != "missing":
        return {}
    if available:
        return {"local_files_only": True}
    hub.ensure_downloadable(source, what)
    return {}


def check_model(source: str, what: str) -> dict[str, Any]:
    if hub.path_kind(source) == "folder":
        variant = hub.model_weights_variant(source)
        if hub.read_config(source) is None or variant is False:
            raise ModelNotFoundError(
                f"{what} folder {source} has no weights (config.json + diffusion_pytorch_model.safetensors)"
            )
        return {"variant": variant} if variant else {}
    if not hub.looks_like_repo_id(source):
        raise ModelNotFoundError(f"{what} '{source}': no such folder, and not a Hugging Face id")
    available = hub.model_available(source)
    flags = _repo_files_flags(source, available, what)
    if available and hub.model_weights_variant(source) == "fp16":
        flags["variant"] = "fp16"
    return flags


def _check_lora(source: str, weight_name: str | None = None) -> dict[str, Any]:
    if not hub.lora_available(source, weight_name):
        if hub.path_kind(source) == "folder" and weight_name:
            raise ModelNotFoundError(f"LoRA folder {source} has no {weight_name}")
        if not hub.looks_like_repo_id(source):
            raise ModelNotFoundError(f"LoRA '{source}': no such file or folder, and not a Hugging Face id")
        return _repo_files_flags(source, False, f"LoRA file {weight_name}" if weight_name else "LoRA")
    return {"local_files_only": True} if hub.looks_like_repo_id(source) else {}


def _check_base(spec: ModelSpec) -> dict[str, Any]:
    if spec.form == "file":
        cfg = spec.config
        if cfg and hub.path_kind(cfg) != "folder":
            if not (hub.read_model_index(cfg) and hub._cached(cfg, "unet/config.json")):
                try:
                    hub.ensure_downloadable(cfg, "Configuration")
                except hub.MissingDownload:
                    raise ModelNotFoundError(
                        f"The single-file checkpoint {spec.base} needs the configuration files (a few kB, no weights) "
                        f"of '{cfg}', which are not in the Hugging Face cache ({hub.cache_dir()}). Get them while "
                        f"online with: hf download {cfg} --include '*.json' '*.txt'; or pass a local diffusers folder "
                        "of the same architecture as `config`."
                    ) from None
                return {}
        return {"local_files_only": True}
    missing, variant = hub.missing_component(spec.base)
    available = missing is None
    if spec.form == "folder":
        if not available:
            raise ModelNotFoundError(
                f"{spec.base}: a diffusers folder without {missing} (a component its model_index.json names)"
            )
        return {"variant": variant} if variant else {}
    flags = _repo_files_flags(spec.base, available, "Base model")
    if variant:
        flags["variant"] = variant
    return flags


@dataclass(frozen=True)
class CheckedSource:
    spec: ModelSpec
    base_flags: dict[str, Any]          # from_pretrained flags of the base model
    net_flags: dict[str, dict[str, Any]]   # ControlNet kind -> its flags
    lora_flags: dict[str, Any]


def check_source(source: str | Path, options: LoadOptions) -> CheckedSource:
    """Resolve `source` and check its files; ModelNotFoundError (one line naming
    the file) or hub.MissingDownload (every missing download at once)."""
    spec = resolve(source, options)
    missing: list[hub.MissingDownload] = []

    def check(fn, *args):
        try:
            return fn(*args)
        except hub.MissingDownload as e:
            missing.append(e)
            return {}

    base_flags = check(_check_base, spec)
    net_flags = {k: check(check_model, v, f"{k} ControlNet") for k, v in spec.controlnets.items() if v != EMBEDDED}
    lora_flags = check(_check_lora, spec.lora, spec.lora_weight_name) if spec.lora else {}
    if spec.lora_weight_name and hub.path_kind(spec.lora) != "file":
        lora_flags["weight_name"] = spec.lora_weight_name
    if missing:
        items = {repo: (what, repo) for e in missing for what, repo in e.items}  # a union ControlNet: once
        raise hub.MissingDownload(list(items.values()), missing[0].reason)
    return CheckedSource(spec, base_flags, net_flags, lora_flags)
