"""The estimators behind the fidelity score (frame.fidelity): a 2D pose model
and a monocular depth model, loaded like the diffusion models.

- Pose: ViTPose through transformers (VitPoseForPoseEstimation and its image
  processor), top-down on the ground truth's person boxes, 17 COCO keypoints.
  ViTPose++ checkpoints (several expert heads) use their COCO head.
- Depth: Depth Anything V2 (or any AutoModelForDepthEstimation) with its
  image processor; relative models give inverse depth already, metric ones
  (depth_estimation_type "metric") are inverted.

A source is a Hugging Face id (cached, or downloaded when online) or a local
folder holding config.json, model.safetensors and preprocessor_config.json,
as `hf download` leaves it. Every file is checked before a weight is read,
so a missing model fails at once with ModelNotFoundError naming what to
download. Like the diffusion backend, an estimator runs on the thread that
owns the model (the export thread headless, the generation worker in the
app), never on the GUI thread. Image processors use their PIL backend
(PoseBooth never installs torchvision).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from posebooth.pipeline import hub
from posebooth.pipeline.errors import ModelNotFoundError

DEFAULT_POSE_MODEL = "usyd-community/vitpose-base-simple"
DEFAULT_DEPTH_MODEL = "depth-anything/Depth-Anything-V2-Small-hf"
POSE_WHAT = "Pose model (ViTPose)"
DEPTH_WHAT = "Depth model (Depth Anything)"
_NEEDED = ("config.json", "preprocessor_config.json")
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
COCO_EXPERT = 0   # ViTPose++'s dataset index of COCO


def _download_hint(repo: str) -> str:
    return (f"hf download {repo} --include '*.json' '*.safetensors'; or pass a local folder with "
            f"{', '.join(_NEEDED)} and {_WEIGHTS[0]}")


def _missing_in(source: str) -> str | None:
    """The first file a folder or cached repo lacks, or None."""
    for name in _NEEDED:
        if not hub._exists(source, name):
            return name
    return None if any(hub._exists(source, w) for w in _WEIGHTS) else _WEIGHTS[0]


def check_source(source: str, what: str) -> dict[str, Any]:
    """from_pretrained flags for `source`, or ModelNotFoundError (one line) when
    its files are not here and cannot be downloaded now."""
    source = str(source)
    if not source.strip():
        raise ModelNotFoundError(f"{what}: no model given (a Hugging Face id or a folder)")
    kind = hub.path_kind(source)
    if kind == "folder":
        missing = _missing_in(source)
        if missing:
            raise ModelNotFoundError(f"{what} folder {source} has no {missing} (it needs {', '.join(_NEEDED)} "
                                     f"and {_WEIGHTS[0]}, as `hf download` leaves them)")
        return {}
    if kind != "missing":
        raise ModelNotFoundError(f"{what} {source}: not a folder; give the folder holding {', '.join(_NEEDED)} "
                                 f"and {_WEIGHTS[0]}, or a Hugging Face id")
    if not hub.looks_like_repo_id(source):
        raise ModelNotFoundError(f"{what} '{source}': no such folder, and not a Hugging Face id")
    if _missing_in(source) is None:
        return {"local_files_only": True}
    if hub.is_offline():
        why = "HF_HUB_OFFLINE is set, so nothing is downloaded."
    elif not hub.network_reachable():
        why = "The Hugging Face Hub cannot be reached from here."
    else:
        return {}
    raise ModelNotFoundError(f"{what} {source} is not in the Hugging Face cache ({hub.cache_dir()}). {why} "
                             f"Download it while online with: {_download_hint(source)}")


def _config_type(source: str) -> str | None:
    config = hub.read_config(source)
    return None if config is None else str(config.get("model_type"))


def _load(what: str, source: str, load):
    """Run `load()` (transformers' from_pretrained calls); a broken folder or an
    unusable config becomes one ModelNotFoundError line naming the source."""
    from transformers.utils import logging as tlogging

    tlogging.disable_progress_bar()
    tlogging.set_verbosity_error()
    try:
        return load()
    except ModelNotFoundError:
        raise
    except Exception as e:   # transformers' own message, on one line
        text = " ".join(f"{type(e).__name__}: {e}".split())[:400]
        raise ModelNotFoundError(f"cannot load the {what} from {source}: {text}") from None


def _place(model, device: str, dtype: str):
    from posebooth.pipeline.devices import pick_device, pick_dtype

    dev, _ = pick_device(device)
    dt = pick_dtype(dev, dtype)
    return model.to(device=dev, dtype=dt).eval(), dev, dt


class PoseEstimator:
    """ViTPose: `estimator(image, boxes)` -> (N, 17, 2) keypoints in pixels for
    the N person boxes (x, y, w, h) of one (H, W, 3) uint8 image."""

    def __init__(self, source: str, device: str = "auto", dtype: str = "auto"):
        flags = check_source(source, POSE_WHAT)
        self.source = str(source)
        kind = _config_type(source)
        if kind is not None and kind != "vitpose":
            raise ModelNotFoundError(f"{POSE_WHAT} {source}: config.json says model_type '{kind}', "
                                     f"expected 'vitpose' (e.g. {DEFAULT_POSE_MODEL})")

        def load():
            from transformers import VitPoseForPoseEstimation
            from transformers.models.vitpose.image_processing_pil_vitpose import VitPoseImageProcessorPil

            return (VitPoseForPoseEstimation.from_pretrained(source, **flags),
                    VitPoseImageProcessorPil.from_pretrained(source, **flags))

        model, self.processor = _load(POSE_WHAT, source, load)
        self.model, self.device, self.dtype = _place(model, device, dtype)
        self.experts = int(getattr(self.model.config.backbone_config, "num_experts", 1) or 1)

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        import torch

        boxes = [[list(map(float, b)) for b in np.asarray(boxes, np.float64).reshape(-1, 4)]]
        if not boxes[0]:
            return np.zeros((0, 17, 2), np.float32)
        inputs = self.processor(images=[np.asarray(image)], boxes=boxes, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        extra = {}
        if self.experts > 1:
            extra["dataset_index"] = torch.full((pixels.shape[0],), COCO_EXPERT, device=self.device)
        with torch.inference_mode():
            out = self.model(pixel_values=pixels, **extra)
        out.heatmaps = out.heatmaps.float()
        result = self.processor.post_process_pose_estimation(out, boxes=boxes)[0]
        return np.stack([r["keypoints"].numpy() for r in result]).astype(np.float32)


class DepthEstimator:
    """Depth Anything: `estimator(image)` -> (H, W) relative inverse depth
    (larger = nearer) at the image's own size."""

    def __init__(self, source: str, device: str = "auto", dtype: str = "auto"):
        flags = check_source(source, DEPTH_WHAT)
        self.source = str(source)

        def load():
            from transformers import AutoImageProcessor, AutoModelForDepthEstimation

            return (AutoModelForDepthEstimation.from_pretrained(source, **flags),
                    AutoImageProcessor.from_pretrained(source, backend="pil", **flags))

        model, self.processor = _load(DEPTH_WHAT, source, load)
        self.model, self.device, self.dtype = _place(model, device, dtype)
        self.metric = getattr(self.model.config, "depth_estimation_type", "relative") == "metric"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        import torch

        image = np.asarray(image)
        inputs = self.processor(images=image, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(pixel_values=inputs["pixel_values"].to(self.device, self.dtype))
        out.predicted_depth = out.predicted_depth.float().cpu()
        size = [tuple(image.shape[:2])]
        pred = self.processor.post_process_depth_estimation(out, target_sizes=size)[0]["predicted_depth"]
        pred = pred.numpy().astype(np.float64)
        if self.metric:   # metres -> inverse depth, as the relative models give it
            pred = 1.0 / np.maximum(pred, 1e-3)
        return pred.astype(np.float32)


@dataclass
class Estimators:
    """Both estimators and what dataset.json records of them."""

    pose: PoseEstimator | None
    depth: DepthEstimator | None

    def settings(self) -> dict:
        return {"pose_model": None if self.pose is None else self.pose.source,
                "depth_model": None if self.depth is None else self.depth.source}


def check_sources(pose: str | None, depth: str | None) -> None:
    """Both estimators' files present (None: not asked for); every missing one in one message."""
    problems = []
    for src, what in ((pose, POSE_WHAT), (depth, DEPTH_WHAT)):
        if src is not None:
            try:
                check_source(src, what)
            except ModelNotFoundError as e:
                problems.append(str(e))
    if problems:
        raise ModelNotFoundError(" ".join(problems))


def load_estimators(pose: str | None = DEFAULT_POSE_MODEL, depth: str | None = DEFAULT_DEPTH_MODEL, *,
                    device: str = "auto", dtype: str = "auto") -> Estimators:
    """Load both (None: that score is not computed). Both sources are checked
    before either loads, so two missing downloads are told together."""
    check_sources(pose, depth)
    return Estimators(None if pose is None else PoseEstimator(pose, device, dtype),
                      None if depth is None else DepthEstimator(depth, device, dtype))
