"""Review image: the frame (generated rgb, else the render) with each
person's SMPL-24 skeleton and visible-mask box (FORMAT.md overlay/)."""
from __future__ import annotations

import numpy as np

from posebooth.assets.smpl_skeleton import BONES

_SHIFT = 4  # cv2 fixed-point bits: lines at the exact sub-pixel joints
OCCLUDED_GREY = (150, 150, 150)


def _px(xy) -> tuple[int, int]:
    # Our pixel centres are at +0.5, cv2's at integers.
    return int(round((xy[0] - 0.5) * (1 << _SHIFT))), int(round((xy[1] - 0.5) * (1 << _SHIFT)))


def draw_overlay(image: np.ndarray, joints2d: np.ndarray, vis: np.ndarray, bbox: np.ndarray,
                 colors) -> np.ndarray:
    """image (H, W, 3) uint8 RGB; joints2d (P, 24, 2); vis (P, 24); bbox (P, 4);
    colors: per person RGB in 0..1. Visible bones and joints in the person's
    colour (brightened), occluded ones grey and thin, joints outside the
    image left out; the box in the person's colour."""
    import cv2

    out = np.ascontiguousarray(image[..., :3], dtype=np.uint8).copy()
    for p in range(len(joints2d)):
        c = np.asarray(colors[p % len(colors)], np.float64)
        col = tuple(int(v) for v in np.clip(np.round(255 * (0.35 + 0.65 * c / max(c.max(), 1e-6))), 0, 255))
        j, v = joints2d[p], vis[p]
        for a, b in BONES:
            if v[a] == 0 or v[b] == 0:
                continue
            both = v[a] == 2 and v[b] == 2
            cv2.line(out, _px(j[a]), _px(j[b]), col if both else OCCLUDED_GREY, 2 if both else 1,
                     cv2.LINE_AA, _SHIFT)
        for k in np.flatnonzero(v > 0):
            cv2.circle(out, _px(j[k]), 3 << _SHIFT, col if v[k] == 2 else OCCLUDED_GREY, -1,
                       cv2.LINE_AA, _SHIFT)
        x, y, w, h = (int(t) for t in bbox[p])
        if w > 0 and h > 0:
            cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), col, 1)
    return out
