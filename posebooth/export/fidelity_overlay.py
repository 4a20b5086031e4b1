"""Review image of a fidelity score: the scored image with, per person, the
true COCO-17 keypoints (v = 2: filled dots in the person's colour, v = 1:
grey rings) and the pose model's estimates (white crosses), each estimate
joined to its true keypoint by a line (red beyond the PCK limit, green
within). `posebooth score DIR --overlays` writes them to DIR/fidelity/."""
from __future__ import annotations

import numpy as np

from posebooth.export.overlay import OCCLUDED_GREY, _SHIFT, _px
from posebooth.frame.fidelity import PCK_THRESHOLD

MISS = (230, 40, 40)
HIT = (40, 200, 60)
ESTIMATE = (255, 255, 255)


def draw_fidelity_overlay(image: np.ndarray, coco17: np.ndarray, bbox: np.ndarray, keypoints: np.ndarray,
                          estimated: np.ndarray, colors=((1.0, 0.8, 0.2),)) -> np.ndarray:
    """image (H, W, 3) uint8 RGB; coco17 (P, 17, 3) the truth; bbox (P, 4);
    keypoints (P, 17, 2) the estimates, used where estimated (P,) is true."""
    import cv2

    out = np.ascontiguousarray(image[..., :3], dtype=np.uint8).copy()
    for p in range(len(coco17)):
        c = np.asarray(colors[p % len(colors)], np.float64)
        col = tuple(int(v) for v in np.clip(np.round(255 * c), 0, 255))
        truth, v = coco17[p, :, :2], coco17[p, :, 2]
        limit = PCK_THRESHOLD * float(np.hypot(bbox[p, 2], bbox[p, 3]))
        for k in np.flatnonzero(v > 0):
            if estimated[p] and v[k] == 2:
                near = np.linalg.norm(keypoints[p, k] - truth[k]) <= limit
                cv2.line(out, _px(truth[k]), _px(keypoints[p, k]), HIT if near else MISS, 1, cv2.LINE_AA, _SHIFT)
            if v[k] == 2:
                cv2.circle(out, _px(truth[k]), 3 << _SHIFT, col, -1, cv2.LINE_AA, _SHIFT)
            else:
                cv2.circle(out, _px(truth[k]), 3 << _SHIFT, OCCLUDED_GREY, 1, cv2.LINE_AA, _SHIFT)
        if estimated[p]:
            for xy in keypoints[p]:
                x, y = _px(xy)
                d = 3 << _SHIFT
                cv2.line(out, (x - d, y - d), (x + d, y + d), ESTIMATE, 1, cv2.LINE_AA, _SHIFT)
                cv2.line(out, (x - d, y + d), (x + d, y - d), ESTIMATE, 1, cv2.LINE_AA, _SHIFT)
    return out
