"""The viewport's pass overlays as RGB images, exactly as exported: depth,
normals and OpenPose are the frame's own control images (what the model
gets, OpenPose with the exporter's visibility rule); parts use a fixed
palette."""
from __future__ import annotations

import colorsys

import numpy as np

from posebooth.frame.render import RenderedFrame, render_frame

PASSES = ("depth", "normal", "parts", "openpose")


def _part_palette() -> np.ndarray:
    """(25, 3) uint8: background black, then 24 well-separated colours
    (golden-ratio hue steps, alternating saturation and value)."""
    cols = [(0, 0, 0)]
    for i in range(24):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75 if i % 2 else 0.55, 0.95 if i % 3 else 0.8)
        cols.append((round(r * 255), round(g * 255), round(b * 255)))
    return np.array(cols, np.uint8)


PART_PALETTE = _part_palette()   # index = the parts pass value (0 background, 1 + SMPL part)


def check_overlay(name: str) -> str:
    if name not in PASSES:
        raise ValueError(f"unknown overlay {name!r}; choose from {PASSES}")
    return name


def overlay_image(name: str, rendered: RenderedFrame) -> np.ndarray:
    """(H, W, 3) uint8 image of overlay `name` of a frame rendered by
    `render_overlay` (or with at least its passes)."""
    if check_overlay(name) == "parts":
        return PART_PALETTE[rendered.passes.parts]
    return rendered.controls([name])[name]


def render_overlay(name: str, renderer, people, camera, frame: int = 0, props=()) -> np.ndarray:
    """Render what overlay `name` needs, and its image."""
    check_overlay(name)
    parts = ("parts",) if name == "parts" else ()
    controls = () if name == "parts" else (name,)
    rendered = render_frame(renderer, people, camera, frame, passes=parts, controls=controls,
                            annotate=name == "openpose", props=props)
    return overlay_image(name, rendered)
