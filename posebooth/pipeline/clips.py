"""Clip strategies: turn a sequence of per-frame requests into consistent frames.

- "fixed-seed": every frame uses the same seed, so the same CPU generator draws the
  same initial noise (shared initial latents) for every frame; only the
  conditioning changes. Cheap, flickers where the pose changes.
- "previous-frame": frame 0 as usual; frame k starts from frame k-1's result via
  img2img (ControlNet img2img, or SD2-depth's own img2img) with `strength`.
  Smoother, drifts over long clips.
- "cross-frame-attention": fixed seed, and every frame's self-attention attends to
  frame 0's keys/values (see cross_frame.py). Most consistent appearance.

Each frame's result carries its actual settings (seed, strategy, strength) for the export.
"""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Sequence

from .backends import Backend, StepCallback
from .cross_frame import cross_frame_attention
from .errors import GenerationCancelled
from .request import GenerationRequest, GenerationResult, new_request_id

STRATEGIES = ("fixed-seed", "previous-frame", "cross-frame-attention")


@dataclass(frozen=True)
class ClipOptions:
    strategy: str = "fixed-seed"
    strength: float = 0.6  # previous-frame: how much of each frame is re-generated
    seed: int | None = None  # None: the first frame's seed

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"clip strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if not 0.0 < self.strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {self.strength}")


def generate_clip(
    backend: Backend,
    frames: Sequence[GenerationRequest],
    options: ClipOptions = ClipOptions(),
    on_step_for: Callable[[GenerationRequest], StepCallback | None] | None = None,
    on_frame: Callable[[GenerationResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    clip_id: str | None = None,
) -> list[GenerationResult]:
    """Generate the frames in order on `backend` (call on the worker thread)."""
    if not frames:
        return []
    seed = frames[0].seed if options.seed is None else options.seed
    clip_id = clip_id or frames[0].clip_id or new_request_id()
    cross = options.strategy == "cross-frame-attention"
    results: list[GenerationResult] = []
    with cross_frame_attention(backend.pipe.unet) if cross else nullcontext() as anchor:
        for k, frame in enumerate(frames):
            if should_stop is not None and should_stop():
                raise GenerationCancelled(clip_id)
            req = dataclasses.replace(frame, seed=seed, clip_id=clip_id, frame_index=k, preview=False)
            if options.strategy == "previous-frame" and k > 0:
                req = dataclasses.replace(req, init_image=results[-1].image, strength=options.strength)
            if anchor is not None:
                anchor.start_frame("record" if k == 0 else "replay")
            result = backend.generate(req, on_step_for(req) if on_step_for else None)
            settings = dict(result.settings, clip_strategy=options.strategy, clip_seed=seed)
            if options.strategy == "previous-frame":
                settings["clip_strength"] = options.strength
            result = dataclasses.replace(result, settings=settings)
            results.append(result)
            if on_frame is not None:
                on_frame(result)
    return results
