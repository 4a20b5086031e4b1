"""Model presets: a shipped default file, copied to the user's config folder on first use.

The user edits <config dir>/model_presets.json (platformdirs' user_config_dir
("posebooth"), or $POSEBOOTH_CONFIG_DIR). Each preset names a pipeline kind, a
base model and ControlNets (Hugging Face ids or local paths), plus defaults.
The file is validated by the pydantic models below (files.json_model), so a
bad one is ONE line naming the file and the key path. When the config folder
cannot be written, the built-in presets are used and `note` says why.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr

from posebooth.files.atomic import atomic_write_bytes
from posebooth.files.json_model import got, load_model
from posebooth.files.safe_read import UserFileError, read_user_file
from posebooth.frame.controls import CONTROL_KINDS
from posebooth.pipeline import hub
from posebooth.pipeline.errors import PipelineError
from posebooth.pipeline.schedulers import ALIASES as SCHEDULER_ALIASES

PIPELINE_KINDS = ("sd15-controlnet", "sd2-depth", "sdxl-controlnet",
                  "sdxl-union", "flux-controlnet", "sd3-controlnet")  # the last three: pipeline.modern
PRESETS_FILE = "model_presets.json"
PRESETS_FORMAT = "posebooth-model-presets"
MAX_PRESETS_BYTES = 4 << 20
BUILT_IN = "the built-in presets"


class PresetFileError(PipelineError):
    """The user's presets file cannot be used; the message is one line naming the file."""


def _name(v: str) -> str:
    if any(c in v for c in "/\\") or not v.isprintable():
        raise ValueError("a preset name has no '/' or '\\' (those mean a path) and no control characters")
    return v


def _source(v: str) -> str:
    if not v.strip() or not v.isprintable():
        raise ValueError("must be a Hugging Face id (owner/name) or a local path, without control characters")
    return v


def _scheduler(v: str) -> str:
    if v.lower() not in SCHEDULER_ALIASES and not re.fullmatch(r"[A-Za-z]\w*Scheduler", v):
        raise ValueError(f"must be one of {', '.join(SCHEDULER_ALIASES)} or a diffusers scheduler class name")
    return v


PresetName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_name)]
Source = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_source)]
Side = Annotated[int, Field(ge=8, le=8192, multiple_of=8)]  # what `render --size` takes


class _Strict(BaseModel):
    # strict: "20" is not 20 and true is not 1
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Preset(_Strict):
    """One entry of "presets" (the key is its name)."""

    _name: str = PrivateAttr("")  # the key: never read from inside the entry
    pipeline: Literal[PIPELINE_KINDS]
    base: Source
    label: str = Field(default="", max_length=300)
    controlnets: dict[Literal[CONTROL_KINDS], Source] = Field(default_factory=dict)  # kind -> id or path
    lora: Source | None = None
    # The LoRA's file when its repo holds several (ByteDance/Hyper-SD, ByteDance/SDXL-Lightning).
    lora_weight_name: Annotated[str, Field(max_length=255, pattern=r"^[\w.-]+\.safetensors$")] | None = None
    license: str = Field(default="", max_length=300)  # of the weights, as their model cards name it
    preview_decoder: Source | None = None  # TAESD id or path
    config: Source | None = None  # single-file base: diffusers config folder or repo id
    scheduler: Annotated[str, Field(max_length=100), AfterValidator(_scheduler)] | None = None
    steps: int = Field(default=20, ge=1, le=1000)
    guidance: float = Field(default=7.0, ge=0.0, le=50.0)
    size: tuple[Side, Side] = Field(default=(512, 512), strict=False)  # width, height; a JSON list

    @property
    def name(self) -> str:
        return self._name

    def sources(self) -> list[tuple[str, str, str]]:
        """(role, id-or-path, check kind) for every file set this preset needs."""
        out = [("base model", self.base, "pipeline")]
        out += [(f"{k} ControlNet", v, "model") for k, v in self.controlnets.items()]
        if self.lora:
            out.append(("LoRA", self.lora, f"lora:{self.lora_weight_name}" if self.lora_weight_name else "lora"))
        return out


class PresetsFile(_Strict):
    format: Literal["posebooth-model-presets"] = PRESETS_FORMAT
    version: Literal[1] = 1
    default: PresetName | None = None
    presets: dict[PresetName, Preset] = Field(min_length=1, max_length=1000)


@dataclass(frozen=True)
class PresetLibrary:
    presets: dict[str, Preset]
    default: str
    path: Path  # the user's file (it may not exist: see note)
    note: str | None = None  # why the built-in presets are used instead, if they are


@dataclass(frozen=True)
class PresetStatus:
    preset: Preset
    available: bool  # every required weight file is present locally
    missing: tuple[str, ...]  # "role: id" of what is missing
    preview_decoder_available: bool


def config_dir() -> Path:
    env = os.environ.get("POSEBOOTH_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("posebooth"))


def shipped_presets_text() -> str:
    return resources.files("posebooth").joinpath("resources", PRESETS_FILE).read_text(encoding="utf-8")


def _create_user_file(path: Path) -> None:
    """Copy the shipped default to `path` (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, shipped_presets_text().encode("utf-8"), fsync=False)


def _exists(path: Path) -> bool:
    try:
        os.stat(path)
        return True
    except (OSError, ValueError):  # missing, a file where a folder should be, a name too long
        return False


def user_presets_path(create: bool = True) -> Path:
    """The user's editable presets file, created from the shipped default on first use."""
    path = config_dir() / PRESETS_FILE
    if create and not _exists(path):
        try:
            _create_user_file(path)
        except OSError as e:
            raise PresetFileError(f"{path}: cannot create the presets file ({e.strerror or e}); "
                                  "set POSEBOOTH_CONFIG_DIR to a writable folder") from None
    return path


def parse_presets(text: str | bytes, origin: str) -> tuple[dict[str, Preset], str]:
    """(presets by name, default name); every fault is one line naming `origin` and the key path."""
    data = load_model(PresetsFile, text, origin, PresetFileError)
    presets = dict(data.presets)
    for name, preset in presets.items():
        preset._name = name
    default = data.default or next(iter(presets))
    if default not in presets:
        raise PresetFileError(f"{origin}: default: must be one of the presets ({', '.join(presets)}) "
                              f"(got {got(default)})")
    return presets, default


def read_library(path: Path | None = None) -> PresetLibrary:
    """The presets of `path`, else of the user's file (created on first use). If that
    file does not exist and cannot be created, the built-in presets, with a note."""
    note = None
    if path is None:
        path = config_dir() / PRESETS_FILE
        if not _exists(path):
            try:
                _create_user_file(path)
            except OSError as e:  # a read-only config folder or HOME: go on without writing
                note = (f"{path} could not be created ({e.strerror or e}), so {BUILT_IN} are used; "
                        "set POSEBOOTH_CONFIG_DIR to a writable folder to edit them")
                presets, default = parse_presets(shipped_presets_text(), BUILT_IN)
                return PresetLibrary(presets, default, path, note)
    try:
        raw = read_user_file(path, "presets file", MAX_PRESETS_BYTES)
    except UserFileError as e:
        raise PresetFileError(str(e)) from None
    presets, default = parse_presets(raw, str(path))
    return PresetLibrary(presets, default, path, note)


def load_presets(path: Path | None = None) -> tuple[dict[str, Preset], str]:
    lib = read_library(path)
    return lib.presets, lib.default


def get_preset(name: str, path: Path | None = None) -> Preset | None:
    return load_presets(path)[0].get(name)


def source_available(source: str, kind: str) -> bool:
    """Is `source` (a Hugging Face id or a local path) usable without a download?"""
    try:
        p = Path(source).expanduser()
        if kind == "pipeline" and p.is_file():  # a single-file checkpoint
            return True
        if not p.exists() and not hub.looks_like_repo_id(source):
            return False
        if kind == "pipeline":
            return hub.pipeline_available(source)[0]
        if kind.startswith("lora"):
            return hub.lora_available(source, kind.partition(":")[2] or None)
        return hub.model_available(source)
    except (OSError, ValueError, PipelineError):  # unreadable, a name too long, a broken model_index.json
        return False


def preset_statuses(presets: dict[str, Preset]) -> list[PresetStatus]:
    out = []
    for preset in presets.values():
        missing = tuple(f"{role}: {src}" for role, src, kind in preset.sources() if not source_available(src, kind))
        taesd = bool(preset.preview_decoder) and source_available(preset.preview_decoder, "model")
        out.append(PresetStatus(preset, not missing, missing, taesd))
    return out


def list_presets(path: Path | None = None) -> list[PresetStatus]:
    return preset_statuses(load_presets(path)[0])
