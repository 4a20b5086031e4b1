"""Device and precision choice, and turning out-of-memory into advice."""

from __future__ import annotations

import logging

import torch

from posebooth.pipeline.errors import GenerationError

log = logging.getLogger(__name__)

CPU_WARNING = (
    "No GPU found: generating on the CPU. An SD1.5-sized model takes about 10 s per denoising "
    "step at 512x512 (a 20-step image is minutes); use the LCM preset (4 steps) or a smaller size."
)
_DTYPES = {
    "fp16": torch.float16,
    "float16": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp32": torch.float32,
    "float32": torch.float32,
}


def pick_device(preference: str = "auto") -> tuple[torch.device, list[str]]:
    """CUDA > MPS > CPU for 'auto'; an explicit choice that is not there is an error."""
    warnings: list[str] = []
    pref = (preference or "auto").lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), warnings
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps"), warnings
        warnings.append(CPU_WARNING)
        return torch.device("cpu"), warnings
    device = torch.device(pref)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GenerationError("CUDA was requested but torch sees no CUDA GPU (is this the CPU build of torch?)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GenerationError("MPS was requested but is not available on this machine")
    if device.type == "cpu":
        warnings.append(CPU_WARNING)
    return device, warnings


def pick_dtype(device: torch.device, preference: str = "auto") -> torch.dtype:
    """fp16 on GPUs by default; fp32 on the CPU (half precision there is slow or unsupported)."""
    pref = (preference or "auto").lower()
    if pref == "auto":
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    if pref not in _DTYPES:
        raise GenerationError(f"unknown dtype {preference!r}; use one of fp16, bf16, fp32")
    dtype = _DTYPES[pref]
    if dtype == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise GenerationError("this GPU does not support bf16; use fp16")
    return dtype


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    # MPS and some allocators report OOM as a RuntimeError with this wording.
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def out_of_memory_error(
    exc: BaseException, width: int, height: int, device: torch.device, dtype: torch.dtype
) -> GenerationError:
    tips = [f"generate at a smaller size than {width}x{height}"]
    if dtype == torch.float32 and device.type != "cpu":
        tips.append("use fp16")
    tips += ["enable attention slicing", "enable VAE tiling"]
    if device.type == "cuda":
        tips.append("enable model CPU offload")
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return GenerationError(
        f"Out of memory on {device.type}. Try to: " + "; ".join(tips) + f". ({str(exc).splitlines()[0]})"
    )


def peak_memory_bytes(device: torch.device) -> int:
    """Peak accelerator memory since the last reset, or this process's peak RSS on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)
