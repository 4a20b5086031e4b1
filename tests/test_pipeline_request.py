"""GenerationRequest / GenerationResult: immutable, validated, safe to share between threads."""

import dataclasses

import numpy as np
import pytest

from posebooth.frame.request import Control, GenerationRequest, GenerationResult


def _img(w=16, h=8):
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)


def test_request_arrays_are_read_only_copies():
    src = _img()
    req = GenerationRequest("p", (Control("depth", src),), width=16, height=8, init_image=src)
    src[:] = 0
    assert req.controls[0].image.any() and req.init_image.any()  # copies, not views
    for arr in (req.controls[0].image, req.init_image):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.seed = 3


def test_request_validation():
    with pytest.raises(ValueError, match="render it at the request size"):
        GenerationRequest("p", (Control("depth", _img(16, 8)),), width=24, height=8)
    with pytest.raises(ValueError, match="multiples of 8"):
        GenerationRequest("p", width=20, height=8)
    with pytest.raises(ValueError, match="control kind"):
        Control("canny", _img())
    with pytest.raises(ValueError, match="HxWx3"):
        Control("depth", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="start/end"):
        Control("depth", _img(), start=0.5, end=0.2)
    with pytest.raises(ValueError, match="strength"):
        GenerationRequest("p", width=16, height=8, strength=0.0)


def test_request_ids_unique_and_settings_plain():
    a = GenerationRequest("p", (Control("openpose", _img(), scale=0.5, end=0.8),), width=16, height=8, seed=7)
    b = GenerationRequest("p", width=16, height=8)
    assert a.request_id != b.request_id
    s = a.settings()
    assert s["seed"] == 7 and s["controls"] == [{"kind": "openpose", "scale": 0.5, "start": 0.0, "end": 0.8}]
    assert a.control("openpose") is a.controls[0] and a.control("depth") is None


def test_result_is_read_only():
    r = GenerationResult("id", _img(), 3, {"a": 1}, {"total": 0.5})
    assert not r.image.flags.writeable
    with pytest.raises(TypeError):
        r.settings["a"] = 2
    with pytest.raises(TypeError):
        r.timings["total"] = 1.0
