"""Shared helpers for the tests/test_pipeline_*.py files: tiny backends, control images, spies.

Imported by those files (`from pipeline_fixtures import ...`), not a conftest, so the
rest of the suite does not pay for torch/diffusers.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never touch the network from these tests

import numpy as np
import pytest
import torch

from posebooth.pipeline.backends import ControlNetBackend, Depth2ImgBackend
from posebooth.pipeline.previews import LinearPreview
from posebooth.frame.request import Control, GenerationRequest
from fixtures import tiny_models as tm

W, H = 24, 32  # non-square on purpose: catches width/height swaps
KINDS = ("sd15", "sd15-multi", "sd2", "sdxl")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models run faster on one thread, and 2 shared cores make torch's spin-waits costly."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def control_image(kind: str = "depth", seed: int = 0, w: int = W, h: int = H) -> np.ndarray:
    """A smooth, non-flat, non-symmetric test image (a 'body' blob on a ramp)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    blob = np.exp(-(((yy - cy) / (0.25 * h)) ** 2 + ((xx - cx) / (0.2 * w)) ** 2))
    base = 200 * blob + 40 * xx / w
    if kind == "depth":
        img = np.repeat(base[..., None], 3, axis=2)
    else:
        img = np.stack([base, 255 - base, (xx * 255 / w)], axis=2)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_request(kinds=("depth",), seed: int = 0, steps: int = 2, **kw) -> GenerationRequest:
    controls = tuple(Control(k, control_image(k, seed=i)) for i, k in enumerate(kinds))
    return GenerationRequest(
        prompt=kw.pop("prompt", "a person in a park"),
        controls=controls,
        seed=seed,
        steps=steps,
        width=kw.pop("width", W),
        height=kw.pop("height", H),
        **kw,
    )


def make_backend(kind: str, previewer=None, preview_every: int = 1):
    common = dict(
        device=torch.device("cpu"),
        dtype=torch.float32,
        label=f"tiny-{kind}",
        previewer=previewer,
        preview_every=preview_every,
    )
    if kind == "sd15":
        pipe = tm.tiny_controlnet_pipeline()
        return ControlNetBackend(pipe, {"depth": pipe.controlnet}, **common)
    if kind == "sd15-multi":
        pipe = tm.tiny_controlnet_pipeline(n_controlnets=3)
        return ControlNetBackend(pipe, dict(zip(("depth", "openpose", "normal"), pipe.controlnet.nets)), **common)
    if kind == "sd2":
        return Depth2ImgBackend(tm.tiny_sd2_depth_pipeline(), **common)
    if kind == "sdxl":
        pipe = tm.tiny_sdxl_controlnet_pipeline()
        return ControlNetBackend(pipe, {"depth": pipe.controlnet}, sdxl=True, **common)
    raise ValueError(kind)


def kinds_for(backend_kind: str) -> tuple[str, ...]:
    return ("depth", "openpose", "normal") if backend_kind == "sd15-multi" else ("depth",)


@pytest.fixture(scope="session")
def backends():
    """One tiny backend per kind, built lazily, shared by tests that do not change them."""
    cache: dict[str, object] = {}

    def get(kind: str):
        if kind not in cache:
            cache[kind] = make_backend(kind, previewer=LinearPreview(sdxl=kind == "sdxl"))
        return cache[kind]

    return get


class Spy:
    """Wraps a module's forward (an instance attribute shadows the class method) and records kwargs."""

    def __init__(self, module, keep=("controlnet_cond",)):
        self.calls: list[dict] = []
        self.module = module
        self._orig = module.forward

        def forward(*args, **kwargs):
            self.calls.append(
                {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in kwargs.items() if k in keep}
                | {"args": [a.detach().clone() if torch.is_tensor(a) else a for a in args]}
            )
            return self._orig(*args, **kwargs)

        module.forward = forward

    def restore(self):
        del self.module.forward


def to_uint8_hwc(t: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> HxWx3 uint8 (inverse of the control image preprocessing)."""
    return (t.float().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
