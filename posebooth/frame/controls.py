"""The conditioning images of a frame (FORMAT.md control/), made from the
same passes and annotations that are exported (drawing: frame.conditioning).

The one definition of the control kinds and of which a scene asks for.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from posebooth.frame import conditioning
from posebooth.frame.annotations import FrameAnnotations

CONTROL_KINDS = ("depth", "openpose", "normal")
# What the openpose image shows (scene ControlSetting.openpose): the body,
# the body and hands, or the body, hands and face (controlnet_aux "openpose_full").
OPENPOSE_PARTS = ("body", "body+hands", "full")
# Renderer passes each kind is drawn from (openpose: from the annotations,
# themselves made from depth and instance).
_NEEDS = {"depth": ("depth",), "normal": ("depth", "normal"), "openpose": ("depth", "instance")}


def check_kind(kind: str) -> str:
    if kind not in CONTROL_KINDS:
        raise ValueError(f"unknown control kind {kind!r}; choose from {', '.join(CONTROL_KINDS)}")
    return kind


def passes_for_controls(kinds: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for k in kinds for p in _NEEDS[check_kind(k)]))


def scene_control_kinds(gen) -> tuple[str, ...]:
    """Control kinds enabled in scene.generation, in order, deduplicated
    (depth if none)."""
    return tuple(dict.fromkeys(c.kind for c in gen.controls)) or ("depth",)


def usable_kinds(gen, model_kinds) -> tuple[str, ...]:
    """The scene's kinds the model has a ControlNet for. Images the model
    ignores are not rendered (nor exported as control/ files: those are what
    the model was given); if none is left, the model's first kind (SD2-depth:
    depth) so there is something to condition on."""
    model_kinds = tuple(model_kinds or ())
    if not model_kinds:
        return scene_control_kinds(gen)
    return tuple(k for k in scene_control_kinds(gen) if k in model_kinds) or model_kinds[:1]


def openpose_parts(gen) -> str:
    """The parts the scene's first openpose control asks for ("body" if none)."""
    return next((getattr(c, "openpose", "body") for c in gen.controls if c.kind == "openpose"), "body")


def control_images(kinds, passes, ann: FrameAnnotations | None, openpose: str = "body"
                   ) -> dict[str, np.ndarray]:
    """kind -> (H, W, 3) uint8 for each requested kind. `passes`: the frame's
    RenderPasses (depth, and normal when asked for); `ann` is needed for
    openpose.

    OpenPose: keypoints hidden by another person are left out (v set to 0),
    those hidden by the person's own body are drawn (see
    conditioning.openpose_image for why)."""
    out = {}
    for kind in kinds:
        check_kind(kind)
        if kind == "depth":
            out[kind] = conditioning.controlnet_depth_image(passes.depth)
        elif kind == "normal":
            out[kind] = conditioning.normal_control_image(passes.normal)
        else:
            vis = ann.coco17[..., 2].astype(np.uint8)
            if ann.coco17_by_other is not None:
                vis = np.where(ann.coco17_by_other, 0, vis)
            H, W = passes.depth.shape
            hands = faces = None
            if openpose != "body" and ann.wholebody133 is not None:
                wb = ann.wholebody133.copy()
                if ann.wholebody_by_other is not None:
                    wb[..., 2] = np.where(ann.wholebody_by_other, 0, wb[..., 2])
                hands = list(wb[:, 91:133])
                faces = list(wb[:, 23:91]) if openpose == "full" else None
            out[kind] = conditioning.openpose_image(ann.coco17[..., :2], vis, (W, H), hands_list=hands,
                                                    faces_list=faces)
    return out
