"""Model presets: a shipped default file, copied to the user's config folder on first use.

The user edits <config dir>/model_presets.json (platformdirs' user_config_dir
("posebooth"), or $POSEBOOTH_CONFIG_DIR). Each preset names a pipeline kind, a
base model and ControlNets (Hugging Face ids or local paths), plus defaults.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import hub
from .errors import PipelineError

PIPELINE_KINDS = ("sd15-controlnet", "sd2-depth", "sdxl-controlnet")
PRESETS_FILE = "model_presets.json"


class PresetFileError(PipelineError):
    """The user's presets file cannot be read; the message names the file."""


@dataclass(frozen=True)
class Preset:
    name: str
    pipeline: str
    base: str
    label: str = ""
    controlnets: dict[str, str] = field(default_factory=dict)  # control kind -> id or path
    lora: str | None = None
    preview_decoder: str | None = None  # TAESD id or path
    config: str | None = None  # single-file base: diffusers config folder or repo id
    scheduler: str | None = None
    steps: int = 20
    guidance: float = 7.0
    size: tuple[int, int] = (512, 512)  # width, height

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> "Preset":
        unknown = set(d) - {f for f in cls.__dataclass_fields__ if f != "name"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        if d.get("pipeline") not in PIPELINE_KINDS:
            raise ValueError(f"'pipeline' must be one of {PIPELINE_KINDS}, got {d.get('pipeline')!r}")
        if not isinstance(d.get("base"), str):
            raise ValueError("'base' (a Hugging Face id or a local path) is required")
        d = dict(d)
        d["size"] = tuple(d.get("size", (512, 512)))
        return cls(name=name, **d)

    def sources(self) -> list[tuple[str, str, str]]:
        """(role, id-or-path, check kind) for every file set this preset needs."""
        out = [("base model", self.base, "pipeline")]
        out += [(f"{k} ControlNet", v, "model") for k, v in self.controlnets.items()]
        if self.lora:
            out.append(("LoRA", self.lora, "lora"))
        return out


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


def user_presets_path(create: bool = True) -> Path:
    """The user's editable presets file, created from the shipped default on first use."""
    path = config_dir() / PRESETS_FILE
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(shipped_presets_text(), encoding="utf-8")
        shutil.move(str(tmp), str(path))
    return path


def parse_presets(text: str, origin: str) -> tuple[dict[str, Preset], str]:
    """(presets by name, default name); errors name `origin` (the file) and the bad preset."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PresetFileError(f"{origin}: not valid JSON ({e}). Fix it or delete it to get the defaults back.") from e
    if not isinstance(data, dict) or not isinstance(data.get("presets"), dict):
        raise PresetFileError(
            f"{origin}: expected an object with a 'presets' object. Delete the file to get the defaults back."
        )
    presets = {}
    for name, d in data["presets"].items():
        try:
            presets[name] = Preset.from_dict(name, d)
        except (TypeError, ValueError) as e:
            raise PresetFileError(f"{origin}: preset {name!r}: {e}") from e
    default = data.get("default") or next(iter(presets), "")
    if default not in presets:
        raise PresetFileError(f"{origin}: default preset {default!r} is not defined")
    return presets, default


def load_presets(path: Path | None = None) -> tuple[dict[str, Preset], str]:
    path = path or user_presets_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PresetFileError(f"{path}: cannot read the presets file ({e})") from e
    return parse_presets(text, str(path))


def get_preset(name: str, path: Path | None = None) -> Preset | None:
    return load_presets(path)[0].get(name)


def source_available(source: str, kind: str) -> bool:
    """Is `source` (a Hugging Face id or a local path) usable without a download?"""
    p = Path(source).expanduser()
    if kind == "pipeline" and p.is_file():  # a single-file checkpoint
        return True
    if not p.exists() and not hub.looks_like_repo_id(source):
        return False
    if kind == "pipeline":
        return hub.pipeline_available(source)[0]
    if kind == "lora":
        return hub.lora_available(source)
    return hub.model_available(source)


def list_presets(path: Path | None = None) -> list[PresetStatus]:
    presets, _ = load_presets(path)
    out = []
    for preset in presets.values():
        missing = tuple(f"{role}: {src}" for role, src, kind in preset.sources() if not source_available(src, kind))
        taesd = bool(preset.preview_decoder) and source_available(preset.preview_decoder, "model")
        out.append(PresetStatus(preset, not missing, missing, taesd))
    return out
