"""The export's own PNG encoder against independent decoders (PIL, cv2)."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from posebooth.export.png import encode_png


def _images():
    rng = np.random.default_rng(7)
    yield "rgb", rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    yield "rgba", rng.integers(0, 256, (5, 9, 4), dtype=np.uint8)
    yield "gray", rng.integers(0, 256, (64, 1), dtype=np.uint8)
    yield "gray_alpha", rng.integers(0, 256, (3, 4, 2), dtype=np.uint8)
    yield "gray16", rng.integers(0, 65536, (21, 17), dtype=np.uint16)
    yield "rgb16", rng.integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    yield "one_row", rng.integers(0, 256, (1, 300, 3), dtype=np.uint8)
    # A render-like image: flat background and smooth content (the "up"
    # filter's wrap-around differences both ways).
    ramp = np.tile(np.linspace(0, 255, 128).astype(np.uint8)[None, :, None], (96, 1, 3))
    ramp[20:70, 30:90] = 64
    yield "ramp", ramp
    yield "strided", rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)[::-1, ::2]


@pytest.mark.parametrize("name,img", list(_images()), ids=[n for n, _ in _images()])
def test_png_roundtrips_exactly(name, img):
    data = encode_png(img)
    pil = np.asarray(Image.open(io.BytesIO(data)))
    assert pil.shape == (img.shape if not (img.ndim == 3 and img.shape[2] == 1) else img.shape[:2])
    if img.dtype == np.uint8:      # PIL reads 16-bit colour as 8 bits: cv2 checks those
        assert np.array_equal(pil, img)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if back.ndim == 3:             # cv2 gives BGR(A)
        back = back[..., [2, 1, 0, 3][:back.shape[2]]] if back.shape[2] >= 3 else back
    if img.ndim == 3 and img.shape[2] == 2:
        return                     # cv2 expands gray+alpha; PIL checked it
    assert back.dtype == img.dtype and np.array_equal(back, img)


def test_png_refuses_what_it_cannot_write():
    for bad in (np.zeros((4, 4), np.float32), np.zeros((4, 4, 5), np.uint8), np.zeros((0, 3), np.uint8),
                np.zeros(7, np.uint8)):
        with pytest.raises(ValueError):
            encode_png(bad)
