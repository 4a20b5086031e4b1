"""The viewport's pass overlays as RGB images (Qt-free), exactly as exported:
depth, normals and OpenPose go through the exporter's own
`export.controls.control_images` (the conditioning images the model gets,
OpenPose with the exporter's visibility rule); parts use a fixed palette.
"""
from __future__ import annotations

import colorsys

import numpy as np

from posebooth.scene.camera import Camera
from posebooth.viewport.renderer import RenderPasses

PASSES = ("depth", "normal", "parts", "openpose")
_NEEDS = {"depth": ("depth",), "normal": ("depth", "normal"), "parts": ("parts",),
          "openpose": ("depth", "instance")}


def _part_palette() -> np.ndarray:
    """(25, 3) uint8: background black, then 24 well-separated colours
    (golden-ratio hue steps, alternating saturation and value)."""
    cols = [(0, 0, 0)]
    for i in range(24):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75 if i % 2 else 0.55, 0.95 if i % 3 else 0.8)
        cols.append((round(r * 255), round(g * 255), round(b * 255)))
    return np.array(cols, np.uint8)


PART_PALETTE = _part_palette()   # index = the parts pass value (0 background, 1 + SMPL part)


def needed_passes(name: str) -> tuple[str, ...]:
    if name not in _NEEDS:
        raise ValueError(f"unknown overlay {name!r}; choose from {PASSES}")
    return _NEEDS[name]


def pass_image(name: str, passes: RenderPasses, posed, camera: Camera, frame: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 image of overlay `name` at the output size. `passes`
    must hold `needed_passes(name)`, rendered for `posed` through `camera`."""
    needed_passes(name)
    if name == "parts":
        return PART_PALETTE[passes.parts]
    from posebooth.export.controls import control_images
    ann = None
    if name == "openpose":
        from posebooth.export.annotations import annotate_frame
        ann = annotate_frame(posed, camera, passes.depth, passes.instance, frame)
    return control_images([name], passes, ann)[name]
