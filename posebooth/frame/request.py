"""Immutable generation requests and results, safe to hand between threads,
and the one way a request is built from a scene's generation settings and a
frame's control images (`build_request`).

Callers build a request from a scene snapshot plus the already-rendered
conditioning images; the worker never sees the scene. Arrays are copied and
made read-only so neither side can change what the other holds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from posebooth.frame.controls import CONTROL_KINDS


def _frozen_image(image: Any, what: str) -> np.ndarray:
    arr = np.array(image, dtype=np.uint8, copy=True)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{what} must be HxWx3 uint8, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def _frozen_mapping(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Control:
    """One conditioning image and how strongly / when (fraction of the steps) it applies."""

    kind: str
    image: np.ndarray
    scale: float = 1.0
    start: float = 0.0
    end: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in CONTROL_KINDS:
            raise ValueError(f"control kind must be one of {CONTROL_KINDS}, got {self.kind!r}")
        if not 0.0 <= self.start < self.end <= 1.0:
            raise ValueError(f"control start/end must satisfy 0 <= start < end <= 1, got {self.start}, {self.end}")
        object.__setattr__(self, "image", _frozen_image(self.image, f"{self.kind} control image"))


@dataclass(frozen=True)
class Identity:
    """A character's reference image (IP-Adapter, pipeline.identity): the same person in
    every request that carries it. sha256: the file's, recorded in the settings."""

    image: np.ndarray
    scale: float = 0.6
    sha256: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _frozen_image(self.image, "identity image"))
        if not 0.0 <= self.scale <= 2.0:
            raise ValueError(f"identity scale must be in [0, 2], got {self.scale}")


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one image needs. width/height must be multiples of 8 (the VAE's stride)
    and every control / init image must already be rendered at width x height."""

    prompt: str
    controls: tuple[Control, ...] = ()
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 20
    guidance: float = 7.0
    width: int = 512
    height: int = 512
    # img2img: start from this image instead of pure noise ("previous frame" clips, refinement).
    init_image: np.ndarray | None = None
    strength: float = 0.75
    # Interactive previews are latest-wins and may be interrupted by a newer one.
    preview: bool = False
    scheduler: str | None = None  # None: the loaded model's scheduler
    clip_id: str | None = None
    frame_index: int | None = None
    request_id: str = field(default_factory=new_request_id)
    identity: Identity | None = None  # reference image of the character (IP-Adapter)

    def __post_init__(self) -> None:
        object.__setattr__(self, "controls", tuple(self.controls))
        if self.width % 8 or self.height % 8 or self.width <= 0 or self.height <= 0:
            raise ValueError(f"width and height must be positive multiples of 8, got {self.width}x{self.height}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not 0.0 < self.strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {self.strength}")
        for c in self.controls:
            if not isinstance(c, Control):
                raise TypeError(f"controls must be Control instances, got {type(c).__name__}")
            if c.image.shape[:2] != (self.height, self.width):
                raise ValueError(
                    f"{c.kind} control image is {c.image.shape[1]}x{c.image.shape[0]}, "
                    f"the request is {self.width}x{self.height}: render it at the request size"
                )
        if self.init_image is not None:
            init = _frozen_image(self.init_image, "init_image")
            if init.shape[:2] != (self.height, self.width):
                raise ValueError(
                    f"init_image is {init.shape[1]}x{init.shape[0]}, the request is {self.width}x{self.height}"
                )
            object.__setattr__(self, "init_image", init)

    def control(self, kind: str) -> Control | None:
        return next((c for c in self.controls if c.kind == kind), None)

    def settings(self) -> dict[str, Any]:
        """Plain-data description of this request (for results and the dataset export)."""
        out: dict[str, Any] = {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "steps": self.steps,
            "guidance": self.guidance,
            "width": self.width,
            "height": self.height,
            "controls": [{"kind": c.kind, "scale": c.scale, "start": c.start, "end": c.end} for c in self.controls],
            "img2img": self.init_image is not None,
            "preview": self.preview,
        }
        if self.init_image is not None:
            out["strength"] = self.strength
        if self.scheduler:
            out["scheduler"] = self.scheduler
        if self.identity is not None:
            out["identity"] = {"sha256": self.identity.sha256, "scale": self.identity.scale}
        if self.clip_id is not None:
            out["clip_id"] = self.clip_id
            out["frame_index"] = self.frame_index
        return out


@dataclass(frozen=True)
class GenerationResult:
    request_id: str
    image: np.ndarray  # HxWx3 uint8, read-only
    seed: int
    settings: Mapping[str, Any] = field(default_factory=dict)  # read-only view
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds, read-only view

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _frozen_image(self.image, "result image"))
        object.__setattr__(self, "settings", _frozen_mapping(self.settings))
        object.__setattr__(self, "timings", _frozen_mapping(self.timings))


def build_request(gen, controls: Mapping[str, np.ndarray], *, seed: int, width: int, height: int,
                  steps: int | None = None, guidance: float | None = None, preview: bool = False,
                  request_id: str | None = None) -> GenerationRequest:
    """A request from scene.generation (prompt, steps, guidance, scheduler, each control's
    scale/start/end) and rendered control images (kind -> HxWx3 uint8 at width x height)."""
    by_kind = {c.kind: c for c in gen.controls}
    made = []
    for kind, image in controls.items():
        s = by_kind.get(kind)
        scale, start, end = (s.scale, s.start, s.end) if s is not None else (1.0, 0.0, 1.0)
        if end <= start:
            raise ValueError(f"{kind} control: start ({start:.2f}) must be before end ({end:.2f})")
        made.append(Control(kind, image, float(scale), float(start), float(end)))
    extra = {"request_id": request_id} if request_id else {}
    if getattr(gen, "identity", None) is not None:  # the character's reference image (frame.identity)
        from posebooth.frame.identity import identity_of

        extra["identity"] = identity_of(gen)
    return GenerationRequest(
        prompt=gen.prompt, negative_prompt=gen.negative_prompt, controls=tuple(made), seed=int(seed),
        steps=int(steps or gen.steps), guidance=float(gen.guidance if guidance is None else guidance),
        width=int(width), height=int(height), preview=preview, scheduler=gen.scheduler, **extra)
