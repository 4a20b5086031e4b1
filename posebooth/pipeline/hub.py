"""Where model files are: the Hugging Face cache, local folders, the network.

Everything here is a cheap local check, so a missing model is reported at once
(offline, huggingface_hub would otherwise spend ~27 s in DNS retries first).
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from .errors import ModelNotFoundError

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_MODEL_WEIGHTS = (
    "diffusion_pytorch_model.safetensors",
    "model.safetensors",
    "diffusion_pytorch_model.bin",
    "pytorch_model.bin",
)
_FP16_WEIGHTS = ("diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors")
_LORA_WEIGHTS = ("pytorch_lora_weights.safetensors", "pytorch_lora_weights.bin")
# Pipeline components PoseBooth loads itself or replaces with None (safety checker, DPT depth estimator).
_SKIPPED_COMPONENTS = {"safety_checker", "feature_extractor", "depth_estimator", "image_encoder"}


def is_offline() -> bool:
    """HF_HUB_OFFLINE, read now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return env.upper() in {"1", "ON", "YES", "TRUE"} or bool(constants.HF_HUB_OFFLINE and not env)


def cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def looks_like_repo_id(source: str) -> bool:
    return bool(_REPO_ID.match(source)) and not Path(source).expanduser().exists()


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


def _cached(repo: str, filename: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo, filename), str)


def _exists(root: str, filename: str) -> bool:
    if Path(root).expanduser().is_dir():
        return (Path(root).expanduser() / filename).is_file()
    return _cached(root, filename)


def _read_json(root: str, filename: str) -> dict | None:
    if Path(root).expanduser().is_dir():
        p = Path(root).expanduser() / filename
        return json.loads(p.read_text()) if p.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    p = try_to_load_from_cache(root, filename)
    return json.loads(Path(p).read_text()) if isinstance(p, str) else None


def model_weights_variant(root: str, subfolder: str = "") -> str | None | bool:
    """None: full-precision weights present; 'fp16': only the fp16 variant; False: no weights."""
    prefix = f"{subfolder}/" if subfolder else ""
    if any(_exists(root, prefix + w) for w in _MODEL_WEIGHTS):
        return None
    if any(_exists(root, prefix + w) for w in _FP16_WEIGHTS):
        return "fp16"
    return False


def read_model_index(root: str) -> dict | None:
    return _read_json(root, "model_index.json")


def read_config(root: str) -> dict | None:
    return _read_json(root, "config.json")


def pipeline_available(root: str) -> tuple[bool, str | None]:
    """(all weights PoseBooth needs are present, weight variant) for a diffusers pipeline folder/repo."""
    index = read_model_index(root)
    if index is None:
        return False, None
    variant = None
    for name, spec in index.items():
        if name.startswith("_") or name in _SKIPPED_COMPONENTS or not isinstance(spec, list) or spec[0] is None:
            continue
        if "Tokenizer" in str(spec[1]):
            ok = _exists(root, f"{name}/tokenizer_config.json") or _exists(root, f"{name}/tokenizer.json")
        elif "Scheduler" in str(spec[1]):
            ok = _exists(root, f"{name}/scheduler_config.json")
        else:
            v = model_weights_variant(root, name)
            ok = v is not False
            variant = variant or (v or None)
        if not ok:
            return False, None
    return True, variant


def model_available(root: str) -> bool:
    return read_config(root) is not None and model_weights_variant(root) is not False


def lora_available(root: str) -> bool:
    p = Path(root).expanduser()
    if p.is_file():
        return True
    return any(_exists(root, w) for w in _LORA_WEIGHTS)


def _include(what: str) -> str:
    """Download filters: skip original-format checkpoints and .bin duplicates of the diffusers weights."""
    if what.startswith("Base model"):
        return ' --include "*.json" "*.txt" "*/*.safetensors"'
    if what.startswith("LoRA") or what.startswith("Configuration"):
        return ""
    return ' --include "*.json" "*.safetensors"'


class MissingDownload(ModelNotFoundError):
    """Hugging Face repos that are not cached and cannot be downloaded now (all of them, at once)."""

    def __init__(self, items: list[tuple[str, str]], reason: str):
        self.items, self.reason = list(items), reason
        lines = [f"Not in the Hugging Face cache ({cache_dir()}):"]
        lines += [f"  - {what}: {repo}" for what, repo in self.items]
        lines.append("Download while online with")
        lines += [f"    hf download {repo}{_include(what)}" for what, repo in self.items]
        lines.append("or choose a local diffusers folder or a single .safetensors file instead. " + reason)
        super().__init__("\n".join(lines))


def ensure_downloadable(repo: str, what: str) -> None:
    """Raise MissingDownload now if `repo` is not cached and cannot be downloaded."""
    if is_offline():
        raise MissingDownload([(what, repo)], "HF_HUB_OFFLINE is set, so nothing is downloaded.")
    if not network_reachable():
        raise MissingDownload([(what, repo)], "The Hugging Face Hub cannot be reached from here.")
