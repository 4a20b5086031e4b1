"""Diffusion generation layer (Qt-free): model presets and loading, backends over the
diffusers pipelines, the generation worker thread, and clip strategies.

Importing this package is cheap; torch/diffusers are imported by the modules that need them.
    request.py      GenerationRequest / GenerationResult (immutable, thread-safe)
    presets.py      shipped + user-editable model presets, list_presets()
    models.py       source (preset, HF id, folder, single file) -> ModelSpec
    loading.py      LoadOptions, load_backend()
    backends.py     ControlNetBackend (SD1.5/SDXL, txt2img + img2img), Depth2ImgBackend (SD2-depth)
    worker.py       GenerationWorker (latest-wins previews, cancel within one step)
    clips.py        fixed-seed / previous-frame / cross-frame-attention clips
    conditioning.py conditioning images (depth / normal / pose) from the render passes
    tiny_models.py  tiny random-weight pipelines (tests, benchmarks); real_size.py for benchmarks
"""

from .errors import GenerationCancelled, GenerationError, ModelNotFoundError, PipelineError
from .request import CONTROL_KINDS, Control, GenerationRequest, GenerationResult

__all__ = [
    "CONTROL_KINDS",
    "Control",
    "GenerationCancelled",
    "GenerationError",
    "GenerationRequest",
    "GenerationResult",
    "ModelNotFoundError",
    "PipelineError",
]
