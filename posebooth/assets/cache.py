"""Where PoseBooth keeps its caches (anny model data, warp kernels).

Tests and `make` set POSEBOOTH_CACHE_DIR to a project-local folder so nothing
lands in the user's home; the app falls back to the platform's cache folder.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The PoseBooth cache root: $POSEBOOTH_CACHE_DIR, else the user cache dir."""
    env = os.environ.get("POSEBOOTH_CACHE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_cache_dir("posebooth", appauthor=False))


def anny_cache_dir() -> Path:
    return cache_dir() / "anny"


def warp_cache_dir() -> Path:
    return cache_dir() / "warp"


def configure_warp() -> None:
    """Point warp's kernel cache into our cache root, then initialise warp.

    Must run before anything calls warp.init() (anny's warp skinning does it
    on first use), otherwise warp writes its kernels under the home folder.
    """
    import warp

    path = warp_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    if warp.config.kernel_cache_dir != str(path):
        warp.config.kernel_cache_dir = str(path)
    warp.config.log_level = warp.LOG_WARNING   # no greeting or per-module load lines
    warp.init()
