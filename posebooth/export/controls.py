"""The conditioning images of a frame (FORMAT.md control/), made from the
same passes and annotations that are exported, by pipeline.conditioning."""
from __future__ import annotations

import numpy as np

from posebooth.export.annotations import FrameAnnotations
from posebooth.pipeline import conditioning

CONTROL_KINDS = ("depth", "openpose", "normal")
NEEDS_PASS = {"depth": "depth", "normal": "normal", "openpose": None}


def control_images(kinds, passes, ann: FrameAnnotations) -> dict[str, np.ndarray]:
    """kind -> (H, W, 3) uint8 for each requested kind. `passes`: the frame's
    RenderPasses (depth, and normal when asked for).

    OpenPose: keypoints hidden by another person are left out (v set to 0),
    those hidden by the person's own body are drawn (see
    conditioning.openpose_image for why)."""
    out = {}
    for kind in kinds:
        if kind == "depth":
            out[kind] = conditioning.controlnet_depth_image(passes.depth)
        elif kind == "normal":
            out[kind] = conditioning.normal_control_image(passes.normal)
        elif kind == "openpose":
            vis = ann.coco17[..., 2].astype(np.uint8)
            if ann.coco17_by_other is not None:
                vis = np.where(ann.coco17_by_other, 0, vis)
            H, W = passes.depth.shape
            out[kind] = conditioning.openpose_image(ann.coco17[..., :2], vis, (W, H))
        else:
            raise ValueError(f"unknown control kind {kind!r}; choose from {CONTROL_KINDS}")
    return out
