"""The camera's reference image: read with the one bounded reader, decoded
by Pillow, checked against the sha256 the scene stored. A missing, changed
or unreadable file is one ReferenceImageError line naming it: the scene
itself still opens, the image is simply not drawn."""
from __future__ import annotations

import io
import os

import numpy as np

from posebooth.assets.props import sha256_of
from posebooth.files.safe_read import UserFileError, read_user_file
from posebooth.scene.props import FileRef, ImageReference

MAX_IMAGE_BYTES = 128 * 1024 * 1024
MAX_IMAGE_SIDE = 8192


class ReferenceImageError(ValueError):
    """The reference image cannot be shown; the message is one line naming it."""


def decode_image(data: bytes, path: str) -> np.ndarray:
    """(H, W, 3) uint8 of PNG/JPEG/... bytes; ReferenceImageError."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if max(im.size) > MAX_IMAGE_SIDE:
                raise ReferenceImageError(f"{path}: {im.size[0]} x {im.size[1]} pixels is more than the "
                                          f"{MAX_IMAGE_SIDE} per side a reference image may have")
            return np.asarray(im.convert("RGB"), np.uint8).copy()
    except ReferenceImageError:
        raise
    except Exception as exc:  # Pillow raises many kinds on garbage
        raise ReferenceImageError(f"{path}: not a readable image ({type(exc).__name__})") from None


def read_image_file(path) -> tuple[bytes, np.ndarray]:
    shown = os.fsdecode(path)
    try:
        data = read_user_file(path, "reference image", MAX_IMAGE_BYTES)
    except UserFileError as e:
        raise ReferenceImageError(f"reference image {e}") from None
    return data, decode_image(data, shown)


def make_reference(path, opacity: float = 0.5, fit: str = "fit") -> ImageReference:
    """A reference for a file (read and checked now; stored as absolute path + sha256)."""
    data, _ = read_image_file(path)
    full = os.path.abspath(os.fsdecode(path))
    return ImageReference(image=FileRef(path=full, sha256=sha256_of(data)), opacity=opacity, fit=fit)


_CACHE: dict[tuple[str, str], np.ndarray] = {}


def load_reference(ref: ImageReference) -> np.ndarray:
    """The reference's pixels, (H, W, 3) uint8 (cached by path and hash)."""
    key = (ref.image.path, ref.image.sha256)
    if key not in _CACHE:
        data, rgb = read_image_file(ref.image.path)
        if sha256_of(data) != ref.image.sha256:
            raise ReferenceImageError(f"{ref.image.path}: the reference image changed since it was set "
                                      f"(its sha256 differs); set it again")
        if len(_CACHE) > 4:
            _CACHE.clear()
        _CACHE[key] = rgb
    return _CACHE[key]


def reference_init_image(ref: ImageReference, width: int, height: int) -> np.ndarray:
    """The reference as an img2img init image of the request's size, placed
    as in the camera view: fill crops the overflow, fit pads with black."""
    from PIL import Image, ImageOps

    im = Image.fromarray(load_reference(ref))
    if ref.fit == "fill":
        out = ImageOps.fit(im, (width, height), Image.Resampling.LANCZOS)
    else:
        out = ImageOps.pad(im, (width, height), Image.Resampling.LANCZOS, color=(0, 0, 0))
    return np.asarray(out.convert("RGB"), np.uint8).copy()
