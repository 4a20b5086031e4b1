"""Where model files are: the Hugging Face cache, local folders, the network.

Everything here is a cheap local check, so a missing model is reported at once
(offline, huggingface_hub would otherwise spend ~27 s in DNS retries first).
"""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field

from posebooth.files.json_model import got, json_type, parse_json, validate_data
from posebooth.files.safe_read import UserFileError, read_user_file
from posebooth.pipeline.errors import ModelNotFoundError

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_MODEL_WEIGHTS = (
    "diffusion_pytorch_model.safetensors",
    "model.safetensors",
    "diffusion_pytorch_model.bin",
    "pytorch_model.bin",
    # sharded weights (FLUX / SD3.5 transformers, T5-XXL): the index names the shards
    "diffusion_pytorch_model.safetensors.index.json",
    "model.safetensors.index.json",
)
_FP16_WEIGHTS = ("diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors",
                 "diffusion_pytorch_model.safetensors.index.fp16.json", "model.safetensors.index.fp16.json")
_LORA_WEIGHTS = ("pytorch_lora_weights.safetensors", "pytorch_lora_weights.bin")
# Pipeline components PoseBooth loads itself or replaces with None (safety checker, DPT depth estimator).
_SKIPPED_COMPONENTS = {"safety_checker", "feature_extractor", "depth_estimator", "image_encoder"}
_COMPONENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")  # a subfolder name, never a path
MAX_JSON_BYTES = 4 << 20  # model_index.json / config.json are a few kB


class _ModelIndex(BaseModel):
    """model_index.json: the pipeline class, then component -> [library, class] (or settings)."""

    model_config = ConfigDict(extra="allow", strict=True)
    class_name: str = Field(alias="_class_name", min_length=1, max_length=200)


def expand(source: str) -> Path:
    """Path(source) with ~ expanded; "~nosuchuser/x" stays as written (no RuntimeError)."""
    try:
        return Path(source).expanduser()
    except RuntimeError:
        return Path(source)


def path_kind(source: str) -> str:
    """"file", "folder", "other" (a device, FIFO, socket) or "missing", for any string
    (a name too long or with a NUL byte is "missing", never an exception)."""
    try:
        st = os.stat(expand(source))
    except (OSError, ValueError):
        return "missing"
    return "file" if stat.S_ISREG(st.st_mode) else "folder" if stat.S_ISDIR(st.st_mode) else "other"


def is_offline() -> bool:
    """HF_HUB_OFFLINE, read now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return env.upper() in {"1", "ON", "YES", "TRUE"} or bool(constants.HF_HUB_OFFLINE and not env)


def cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def looks_like_repo_id(source: str) -> bool:
    return len(source) <= 96 and bool(_REPO_ID.match(source)) and path_kind(source) == "missing"


def network_reachable(timeout: float = 2.0) -> bool:
    """Can the Hub be reached? Bounded by `timeout` even when DNS hangs (socket timeouts
    do not cover name resolution, hence the thread)."""
    import threading

    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(ok)


def _cache_path(repo: str, filename: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    try:
        p = try_to_load_from_cache(repo, filename)
    except ValueError:  # not a valid repo id (huggingface_hub's HFValidationError)
        return None
    return p if isinstance(p, str) else None


def _cached(repo: str, filename: str) -> bool:
    return _cache_path(repo, filename) is not None


def _exists(root: str, filename: str) -> bool:
    if path_kind(root) == "folder":
        return path_kind(str(expand(root) / filename)) == "file"
    return _cached(root, filename)


def _read_json(root: str, filename: str) -> tuple[Any, str] | None:
    """(parsed JSON, the file's path) or None when there is no such file; a file that is
    there but unusable raises ModelNotFoundError (one line naming it)."""
    if path_kind(root) == "folder":
        p = str(expand(root) / filename)
        if path_kind(p) == "missing":
            return None
    else:
        p = _cache_path(root, filename)
        if p is None:
            return None
    try:
        raw = read_user_file(p, filename, MAX_JSON_BYTES)
    except UserFileError as e:
        raise ModelNotFoundError(str(e)) from None
    return parse_json(raw, p, ModelNotFoundError), p


def model_weights_variant(root: str, subfolder: str = "") -> str | None | bool:
    """None: full-precision weights present; 'fp16': only the fp16 variant; False: no weights."""
    prefix = f"{subfolder}/" if subfolder else ""
    if any(_exists(root, prefix + w) for w in _MODEL_WEIGHTS):
        return None
    if any(_exists(root, prefix + w) for w in _FP16_WEIGHTS):
        return "fp16"
    return False


def read_model_index(root: str) -> dict | None:
    """The validated model_index.json of a pipeline folder or cached repo, or None if it has none."""
    found = _read_json(root, "model_index.json")
    if found is None:
        return None
    data, origin = found
    validate_data(_ModelIndex, data, origin, ModelNotFoundError)
    for name, spec in data.items():
        if name.startswith("_") or not isinstance(spec, list):
            continue  # pipeline settings such as "requires_safety_checker": true
        if not _COMPONENT_NAME.fullmatch(name):
            raise ModelNotFoundError(f"{origin}: {got(name)}: a component name is letters, digits and _ "
                                     "(the name of its subfolder), never a path")
        if len(spec) != 2 or not all(s is None or (isinstance(s, str) and len(s) <= 200) for s in spec):
            raise ModelNotFoundError(f'{origin}: {name}: a component is ["library", "ClassName"] or '
                                     f"[null, null] (got {got(spec)})")
    return data


def read_config(root: str) -> dict | None:
    """The config.json of a model folder or cached repo (a JSON object), or None if it has none."""
    found = _read_json(root, "config.json")
    if found is None:
        return None
    data, origin = found
    if not isinstance(data, dict):
        raise ModelNotFoundError(f"{origin}: must be a JSON object ({{...}}), found {json_type(data)}")
    return data


def missing_component(root: str) -> tuple[str | None, str | None]:
    """(what is missing, or None; weight variant) for a diffusers pipeline folder/repo."""
    index = read_model_index(root)
    if index is None:
        return "model_index.json", None
    variant = None
    for name, spec in index.items():
        if name.startswith("_") or name in _SKIPPED_COMPONENTS or not isinstance(spec, list) or spec[0] is None:
            continue
        if "Tokenizer" in str(spec[1]):
            ok = _exists(root, f"{name}/tokenizer_config.json") or _exists(root, f"{name}/tokenizer.json")
            need = f"{name}/tokenizer_config.json"
        elif "Scheduler" in str(spec[1]):
            ok = _exists(root, f"{name}/scheduler_config.json")
            need = f"{name}/scheduler_config.json"
        else:
            v = model_weights_variant(root, name)
            ok = v is not False
            variant = variant or (v or None)
            need = f"{name}/{_MODEL_WEIGHTS[0]}"
        if not ok:
            return need, None
    return None, variant


def pipeline_available(root: str) -> tuple[bool, str | None]:
    """(all weights PoseBooth needs are present, weight variant) for a diffusers pipeline folder/repo."""
    missing, variant = missing_component(root)
    return missing is None, variant


def model_available(root: str) -> bool:
    return read_config(root) is not None and model_weights_variant(root) is not False


def lora_available(root: str, weight_name: str | None = None) -> bool:
    """weight_name: the one file to use in a repo or folder that holds several (Hyper-SD, Lightning)."""
    if path_kind(root) == "file":
        return True
    return any(_exists(root, w) for w in ((weight_name,) if weight_name else _LORA_WEIGHTS))


def _include(what: str) -> str:
    """Download filters: skip original-format checkpoints and .bin duplicates of the diffusers weights."""
    if what.startswith("LoRA file "):   # one file of a repo of several: only that one
        return " " + what.split()[-1]
    if what.startswith("Base model"):
        return ' --include "*.json" "*.txt" "*/*.safetensors"'
    if what.startswith("LoRA") or what.startswith("Configuration"):
        return ""
    return ' --include "*.json" "*.safetensors"'


class MissingDownload(ModelNotFoundError):
    """Hugging Face repos that are not cached and cannot be downloaded now (all of them, at once)."""

    def __init__(self, items: list[tuple[str, str]], reason: str):
        self.items, self.reason = list(items), reason
        # One line (the command line prints it as is); the commands are copy-pasteable.
        what = "; ".join(f"{what}: {repo}" for what, repo in self.items)
        commands = " && ".join(f"hf download {repo}{_include(what)}" for what, repo in self.items)
        super().__init__(f"Not in the Hugging Face cache ({cache_dir()}): {what}. {reason} Download while "
                         f"online with: {commands}; or choose a local diffusers folder or a single "
                         ".safetensors file instead.")


def ensure_downloadable(repo: str, what: str) -> None:
    """Raise MissingDownload now if `repo` is not cached and cannot be downloaded."""
    if is_offline():
        raise MissingDownload([(what, repo)], "HF_HUB_OFFLINE is set, so nothing is downloaded.")
    if not network_reachable():
        raise MissingDownload([(what, repo)], "The Hugging Face Hub cannot be reached from here.")
