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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from posebooth.frame.request import GenerationRequest, GenerationResult, new_request_id
from posebooth.pipeline.errors import GenerationCancelled, GenerationError

if TYPE_CHECKING:   # importing the backends imports torch: not needed to describe a clip
    from posebooth.pipeline.backends import Backend, StepCallback

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


class ClipRun:
    """A clip generated one frame at a time: `step(request)` makes the next
    frame, on the thread that owns `backend`, and returns its result; the
    strategy's state (the clip seed, the previous image, frame 0's attention
    keys) lives here between steps. So an export asks for frames as it
    renders them, and memory stays one frame deep whatever the clip length.
    Between two steps the backend is free for other work (the cross-frame
    processors are installed only during a step). `close()` frees the state."""

    def __init__(self, backend: Backend, options: ClipOptions = ClipOptions(), clip_id: str | None = None):
        self.backend, self.options = backend, options
        self.clip_id = clip_id or new_request_id()
        self.seed: int | None = options.seed
        self.frames_done = 0
        self._previous: GenerationResult | None = None
        self._before_previous: GenerationResult | None = None   # the state a retry rewinds to
        self._anchor = None
        if options.strategy == "cross-frame-attention":
            from posebooth.pipeline.cross_frame import FrameAnchor

            self._anchor = FrameAnchor()
        self._processors: dict | None = None

    def step(self, frame: GenerationRequest, on_step: StepCallback | None = None, *,
             retry: bool = False) -> GenerationResult:
        """The clip's next frame from `frame` (its prompt, controls, steps...);
        its seed is the clip's (the first frame's unless options.seed).
        retry=True: the last frame again, from the state before it, with
        `frame`'s own seed (a fidelity retry, export.scoring); the clip goes
        on from the retried result."""
        if retry:
            if self.frames_done == 0:
                raise ValueError("retry: the clip has no frame yet")
            self.frames_done -= 1
            self._previous = self._before_previous
        k = self.frames_done
        if self.seed is None:
            self.seed = frame.seed
        seed = frame.seed if retry else self.seed
        req = dataclasses.replace(frame, seed=seed, clip_id=self.clip_id, frame_index=k, preview=False)
        if self.options.strategy == "previous-frame" and self._previous is not None:
            req = dataclasses.replace(req, init_image=self._previous.image, strength=self.options.strength)
        if self._anchor is None:
            result = self.backend.generate(req, on_step)
        else:
            from posebooth.pipeline.cross_frame import installed

            if getattr(self.backend.pipe, "unet", None) is None:
                raise GenerationError("cross-frame attention needs a UNet model (SD1.5 / SDXL); "
                                      "use the fixed-seed or previous-frame clip strategy with this one")
            if req.identity is not None:  # load the IP-Adapter first: loading resets the attention processors
                from posebooth.pipeline.identity import ensure_adapter

                ensure_adapter(self.backend)
            with installed(self.backend.pipe.unet, self._anchor, self._processors) as procs:
                self._processors = procs
                self._anchor.start_frame("record" if k == 0 else "replay")
                result = self.backend.generate(req, on_step)
        settings = dict(result.settings, clip_strategy=self.options.strategy, clip_seed=self.seed)
        if self.options.strategy == "previous-frame":
            settings["clip_strength"] = self.options.strength
        result = dataclasses.replace(result, settings=settings)
        self._before_previous, self._previous = self._previous, result
        self.frames_done = k + 1
        return result

    def close(self) -> None:
        if self._anchor is not None:
            self._anchor.clear()
        self._previous = self._before_previous = None


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
    run = ClipRun(backend, options, clip_id or frames[0].clip_id)
    results: list[GenerationResult] = []
    try:
        for frame in frames:
            if should_stop is not None and should_stop():
                raise GenerationCancelled(run.clip_id)
            result = run.step(frame, on_step_for(frame) if on_step_for else None)
            results.append(result)
            if on_frame is not None:
                on_frame(result)
    finally:
        run.close()
    return results
