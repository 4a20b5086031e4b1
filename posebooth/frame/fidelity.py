"""How faithful a generated image is to its ground truth (pure numpy).

Diffusion drifts: the generated person may no longer stand in the annotated
pose. Two estimators look at the generated image and are compared with the
frame's exact annotations, per person (docs/FORMAT.md, "Fidelity scores"):

- keypoints: PCK@0.05, the share of the person's ground-truth-visible COCO-17
  keypoints (v = 2) that a 2D pose model puts within 0.05 x the diagonal of
  the person's box (FORMAT.md `bbox`, the visible mask's box);
- depth: the Pearson correlation, inside the person's visible mask, of the
  depth model's relative inverse depth with the rendered inverse depth 1/z,
  clipped at 0. It is invariant to the scale and shift a monocular model
  cannot know (r^2 is the share of the variance that a least-squares
  scale/shift fit explains) and, unlike a fit's error, it punishes inverted
  depth: r = -1 scores 0.
- fidelity = sqrt(pck * depth), their geometric mean: 1 only when both are,
  low when either is.

A score that cannot be computed (no visible keypoint, too few mask pixels)
is NOT_SCORED (-1); fidelity then is the other score alone, or -1.

The estimators are injected (pipeline.estimators loads ViTPose and Depth
Anything): any callables with these signatures will do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

PCK_THRESHOLD = 0.05      # of the box diagonal
NOT_SCORED = -1.0
MIN_DEPTH_PIXELS = 16     # fewer visible pixels than this: no depth score
ERODE_PIXELS = 1          # silhouette pixels mix person and background in any estimate

# image (H, W, 3) uint8, boxes (N, 4) x, y, w, h in pixels -> keypoints (N, 17, 2) in pixels
PoseEstimator = Callable[[np.ndarray, np.ndarray], np.ndarray]
# image (H, W, 3) uint8 -> (H, W) relative inverse depth (larger = nearer), any scale and shift
DepthEstimator = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FidelityScores:
    """One frame's scores, per person (P,), NOT_SCORED where undefined."""

    fidelity: np.ndarray
    pck: np.ndarray
    depth: np.ndarray
    keypoints: np.ndarray | None = None   # (P, 17, 2) the pose model's estimate; zeros where not estimated
    estimated: np.ndarray | None = None   # (P,) bool: the pose model ran on that person

    def as_lists(self) -> dict:
        return {"fidelity": _rounded(self.fidelity), "pck": _rounded(self.pck), "depth": _rounded(self.depth)}

    def frame_fidelity(self) -> float:
        """The frame's score: its worst scored person (NOT_SCORED if none is)."""
        scored = self.fidelity[self.fidelity >= 0]
        return float(scored.min()) if scored.size else NOT_SCORED


def _rounded(a: np.ndarray) -> list[float]:
    return [round(float(x), 6) for x in a]


def pck(predicted: np.ndarray, coco17: np.ndarray, bbox: np.ndarray, threshold: float = PCK_THRESHOLD) -> float:
    """PCK of one person: predicted (17, 2) against ground truth coco17 (17, 3: x, y, v)
    over the keypoints with v = 2; a keypoint counts when its error is at most
    threshold x the diagonal of bbox (x, y, w, h). NOT_SCORED without a visible keypoint."""
    visible = np.asarray(coco17)[:, 2] == 2
    if not visible.any():
        return NOT_SCORED
    w, h = float(bbox[2]), float(bbox[3])
    limit = threshold * np.hypot(w, h)
    err = np.linalg.norm(np.asarray(predicted, np.float64)[visible] - np.asarray(coco17, np.float64)[visible, :2],
                         axis=1)
    return float(np.mean(err <= limit))


def _eroded(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    inner = binary_erosion(mask, iterations=ERODE_PIXELS) if ERODE_PIXELS else mask
    return inner if inner.sum() >= MIN_DEPTH_PIXELS else mask


def depth_agreement(predicted_inverse: np.ndarray, depth_m: np.ndarray, mask: np.ndarray) -> float:
    """max(0, Pearson r) of predicted relative inverse depth and 1 / depth_m over `mask`
    (eroded by ERODE_PIXELS where enough remains; pixels with depth 0 are left out).
    NOT_SCORED below MIN_DEPTH_PIXELS pixels; 0 when either side is flat."""
    m = _eroded(np.asarray(mask, bool)) & (np.asarray(depth_m) > 0)
    if m.sum() < MIN_DEPTH_PIXELS:
        return NOT_SCORED
    p = np.asarray(predicted_inverse, np.float64)[m]
    g = 1.0 / np.asarray(depth_m, np.float64)[m]
    if not np.isfinite(p).all() or _flat(p) or _flat(g):
        return 0.0
    r = np.corrcoef(p, g)[0, 1]
    return float(np.clip(r, 0.0, 1.0)) if np.isfinite(r) else 0.0


def _flat(x: np.ndarray) -> bool:
    """No variation worth correlating (rounding noise of a constant)."""
    return bool(x.std() <= 1e-9 * max(abs(float(x.mean())), 1e-30))


def combine(pck_score: float, depth_score: float) -> float:
    """fidelity = sqrt(pck * depth); one score alone when the other is NOT_SCORED."""
    have = [s for s in (pck_score, depth_score) if s >= 0]
    if not have:
        return NOT_SCORED
    return float(np.sqrt(have[0] * have[1])) if len(have) == 2 else float(have[0])


def score_frame(image: np.ndarray, coco17: np.ndarray, bbox: np.ndarray, depth_m: np.ndarray,
                instance: np.ndarray, *, pose: PoseEstimator | None = None,
                depth: DepthEstimator | None = None, people: Sequence[int] | None = None) -> FidelityScores:
    """Score a generated `image` (H, W, 3) against one frame's ground truth:
    coco17 (P, 17, 3), bbox (P, 4) as in annotations.npz, the rendered depth
    in metres (H, W; 0 = background) and the instance mask (H, W; k = person
    k, 1-based). Without an estimator its score is NOT_SCORED. `people`: the
    0-based persons to score (default all)."""
    coco17 = np.asarray(coco17, np.float64)
    bbox = np.asarray(bbox, np.float64)
    n = coco17.shape[0]
    chosen = range(n) if people is None else people
    pck_s = np.full(n, NOT_SCORED)
    depth_s = np.full(n, NOT_SCORED)
    boxed = [k for k in chosen if bbox[k, 2] > 0 and bbox[k, 3] > 0 and (coco17[k, :, 2] == 2).any()]
    keypoints, estimated = np.zeros((n, 17, 2), np.float32), np.zeros(n, bool)
    if pose is not None and boxed:
        kp = np.asarray(pose(image, bbox[boxed]), np.float64)
        if kp.shape != (len(boxed), 17, 2):
            raise ValueError(f"the pose estimator returned keypoints shaped {kp.shape}, "
                             f"expected {(len(boxed), 17, 2)}")
        for k, pred in zip(boxed, kp):
            pck_s[k] = pck(pred, coco17[k], bbox[k])
            keypoints[k], estimated[k] = pred, True
    if depth is not None and any((np.asarray(instance) == k + 1).sum() >= MIN_DEPTH_PIXELS for k in chosen):
        inv = np.asarray(depth(image), np.float64)
        if inv.shape != np.asarray(depth_m).shape:
            raise ValueError(f"the depth estimator returned a map shaped {inv.shape}, "
                             f"expected {np.asarray(depth_m).shape}")
        for k in chosen:
            depth_s[k] = depth_agreement(inv, depth_m, np.asarray(instance) == k + 1)
    fid = np.array([combine(a, b) for a, b in zip(pck_s, depth_s)])
    return FidelityScores(fid.astype(np.float32), pck_s.astype(np.float32), depth_s.astype(np.float32),
                          keypoints, estimated)
