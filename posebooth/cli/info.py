"""What `posebooth info` reports: GL renderer, torch device, bodies, caches."""
from __future__ import annotations

import os
import platform


def _gl_info() -> dict:
    try:
        from posebooth.viewport.headless import HeadlessRenderer
        renderer = HeadlessRenderer()
        try:
            return dict(renderer.gl_info())
        finally:
            renderer.close()
    except Exception as e:  # report, never fail: info is what users run when things are broken
        return {"error": str(e)}


def _torch_info() -> dict:
    import torch
    info = {"version": torch.__version__, "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["device"] = f"cuda ({torch.cuda.get_device_name(0)})"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        info["device"] = "mps"
    else:
        info["device"] = "cpu (diffusion is slow: ~10 s per step at 512x512 for SD1.5-size models)"
    info["threads"] = torch.get_num_threads()
    return info


def _bodies() -> list:
    try:
        from posebooth.assets.registry import available_bodies
        return [f"{b['name']}: {'available' if b['available'] else 'missing'} ({b['detail']})"
                for b in available_bodies()]
    except Exception as e:
        return [f"error: {e}"]


def _caches() -> dict:
    from posebooth.assets.cache import anny_cache_dir, cache_dir
    return {"posebooth": str(cache_dir()), "anny": str(anny_cache_dir()),
            "huggingface": os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")),
            "hf_offline": os.environ.get("HF_HUB_OFFLINE", "0")}


def collect_info() -> dict:
    from posebooth import __version__
    return {"posebooth": {"version": __version__, "python": platform.python_version(),
                          "platform": platform.platform()},
            "opengl": _gl_info(), "torch": _torch_info(), "bodies": _bodies(), "caches": _caches()}
