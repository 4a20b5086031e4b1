"""One identity: a reference image of the character through an IP-Adapter (diffusers'
load_ip_adapter), for the UNet backends (SD1.5, SDXL, SDXL Union).

A request that carries an Identity (frame.request) is generated with that image as
the IP-Adapter's image prompt at its scale, so every frame of a clip, and every
sample of a dataset that names one, shows the same person (MIMO's idea: one image
anchors the character). It combines with the clip strategies: the adapter acts on
the cross-attention layers, cross-frame attention on the self-attention ones.

The adapter is loaded on the worker thread the first time a request carries an
identity (nothing is read before). Once loaded, a request without an identity
runs with scale 0 and a black image: IPAdapterAttnProcessor adds
scale * (image attention), so the output is the plain model's.

Files: h94/IP-Adapter (Apache-2.0) as published, `models/ip-adapter_sd15.safetensors`
and `sdxl_models/ip-adapter_sdxl_vit-h.safetensors`, both with the ViT-H image
encoder `models/image_encoder`. LoadOptions.ip_adapter names another folder or repo
of the same layout.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from posebooth.pipeline import hub
from posebooth.pipeline.errors import GenerationError, ModelNotFoundError

DEFAULT_REPO = "h94/IP-Adapter"
IMAGE_ENCODER = "models/image_encoder"
# pipeline kind -> (subfolder, weight file) in the IP-Adapter repo
WEIGHTS = {
    "sd15-controlnet": ("models", "ip-adapter_sd15.safetensors"),
    "sdxl-controlnet": ("sdxl_models", "ip-adapter_sdxl_vit-h.safetensors"),
    "sdxl-union": ("sdxl_models", "ip-adapter_sdxl_vit-h.safetensors"),
}


@dataclass
class IdentityAdapter:
    source: str  # repo id or folder
    subfolder: str
    weight_name: str
    loaded: bool = False
    scale: float | None = None

    def files(self) -> list[str]:
        return [f"{self.subfolder}/{self.weight_name}", f"{IMAGE_ENCODER}/config.json"]

    def check(self) -> dict:
        """from_pretrained flags, or ModelNotFoundError naming what to get (before any weight is read)."""
        if hub.path_kind(self.source) == "folder":
            missing = [f for f in self.files() if hub.path_kind(str(hub.expand(self.source) / f)) != "file"]
            if missing:
                raise ModelNotFoundError(f"IP-Adapter folder {self.source} has no {missing[0]} "
                                         f"(the layout of {DEFAULT_REPO})")
            return {}
        if not hub.looks_like_repo_id(self.source):
            raise ModelNotFoundError(f"IP-Adapter '{self.source}': no such folder, and not a Hugging Face id")
        if all(hub._cached(self.source, f) for f in self.files()):
            return {"local_files_only": True}
        hub.ensure_downloadable(self.source, f"IP-Adapter ({self.subfolder}/{self.weight_name} and {IMAGE_ENCODER})")
        return {}


def adapter_for(pipeline_kind: str, source: str | None = None) -> IdentityAdapter | None:
    """The identity adapter of a pipeline kind (None: that model takes no IP-Adapter here)."""
    if pipeline_kind not in WEIGHTS:
        return None
    sub, name = WEIGHTS[pipeline_kind]
    return IdentityAdapter(source or DEFAULT_REPO, sub, name)


def ensure_adapter(backend) -> IdentityAdapter:
    """Load the backend's IP-Adapter now (worker thread) if it is not yet loaded."""
    adapter = getattr(backend, "identity_adapter", None)
    if adapter is None:
        raise GenerationError(f"{backend.label or backend.pipeline_kind}: this model takes no identity reference "
                              f"(IP-Adapter); SD1.5 and SDXL models do ({', '.join(WEIGHTS)})")
    if adapter.loaded:
        return adapter
    flags = adapter.check()
    pipe = backend.pipe
    pipe.load_ip_adapter(adapter.source, subfolder=adapter.subfolder, weight_name=adapter.weight_name,
                         image_encoder_folder=IMAGE_ENCODER, **flags)
    if pipe.image_encoder.dtype != backend.dtype:
        pipe.image_encoder.to(dtype=backend.dtype)
    if getattr(backend, "offload", False):  # put the new image encoder under the offload hooks too
        pipe.enable_model_cpu_offload(device=backend.device)
    img2img = getattr(backend, "_img2img", None)
    if img2img is not None and img2img is not pipe:  # made before: give it the encoder too (the UNet is shared)
        img2img.register_modules(image_encoder=pipe.image_encoder, feature_extractor=pipe.feature_extractor)
    adapter.loaded = True
    return adapter


def identity_kwargs(backend, requests, kwargs: dict) -> dict:
    """The pipeline call's arguments with the requests' identity (one per call)."""
    ids = [r.identity for r in requests]
    if all(i is None for i in ids):
        adapter = getattr(backend, "identity_adapter", None)
        if adapter is None or not adapter.loaded:
            return kwargs
        _set_scale(backend, adapter, 0.0)  # no identity: the adapter adds nothing
        side = 64
        return dict(kwargs, ip_adapter_image=Image.new("RGB", (side, side)))
    if any(i is None for i in ids) or len({(i.sha256, i.scale, i.image.shape) for i in ids}) > 1:
        raise GenerationError("a batch must share its identity reference (or have none)")
    adapter = ensure_adapter(backend)
    _set_scale(backend, adapter, ids[0].scale)
    return dict(kwargs, ip_adapter_image=Image.fromarray(np.asarray(ids[0].image)))


def _set_scale(backend, adapter: IdentityAdapter, scale: float) -> None:
    if adapter.scale != scale:
        backend.pipe.set_ip_adapter_scale(scale)
        adapter.scale = scale
