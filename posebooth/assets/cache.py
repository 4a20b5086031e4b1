"""Where PoseBooth keeps its caches (anny model data, warp kernels).

Tests and `make` set POSEBOOTH_CACHE_DIR to a project-local folder so nothing
lands in the user's home; the app falls back to the platform's cache folder.
A cache folder that cannot be created or written (a read-only HOME, a path
through a file) is one clear CacheDirError naming the folder and
POSEBOOTH_CACHE_DIR, except where PoseBooth can go on without writing there:
a warm anny cache is only read, and warp's kernels go to a temporary folder.
"""
from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from posebooth.assets.body import BodyModelError

ENV_VAR = "POSEBOOTH_CACHE_DIR"
ANNY_COMPACT_DATA = "build_compact_model_data_*"   # what a warm anny cache holds (see anny_body)

logger = logging.getLogger(__name__)
_warp_lock = threading.Lock()
_warp_dir: list[str] = []   # the kernel folder once warp is initialised (it is chosen once)


class CacheDirError(BodyModelError):
    """A cache folder cannot be used; the message names it and POSEBOOTH_CACHE_DIR."""


def cache_dir() -> Path:
    """The PoseBooth cache root: $POSEBOOTH_CACHE_DIR, else the user cache dir."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_cache_dir("posebooth", appauthor=False))


def anny_cache_dir() -> Path:
    return cache_dir() / "anny"


def warp_cache_dir() -> Path:
    return cache_dir() / "warp"


def _problem(path: Path) -> str | None:
    """Why `path` cannot be used as a writable folder (created if missing), or None.
    Writability is tried, not inferred from permission bits (root ignores them)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        return e.strerror or str(e)
    return None


def _error(path: Path, why: str, need: str) -> CacheDirError:
    return CacheDirError(f"{path}: the cache folder cannot be created or written ({why}); {need}. "
                         f"Set {ENV_VAR} to a writable folder")


def prepare_anny_cache() -> Path:
    """anny's cache folder, ready for anny: writable, or at least already holding the
    built model data (a warm cache is only read)."""
    path = anny_cache_dir()
    why = _problem(path)
    if why is None:
        return path
    try:
        warm = path.is_dir() and any(path.rglob(ANNY_COMPACT_DATA))
    except OSError:
        warm = False
    if not warm:
        raise _error(path, why, "the anny body model builds its data there on first use")
    return path


def configure_warp() -> None:
    """Point warp's kernel cache into our cache root, then initialise warp.

    Must run before anything calls warp.init() (anny's warp skinning does it
    on first use), otherwise warp writes its kernels under the home folder.
    If that folder cannot be written, the kernels go to a temporary folder
    (compiled again each run, but the run goes on).
    """
    import warp

    with _warp_lock:
        if not _warp_dir:
            _warp_dir.append(_init_warp(warp))


def _init_warp(warp) -> str:
    path = warp_cache_dir()
    why = _problem(path)
    if why is not None:
        try:
            fallback = Path(tempfile.mkdtemp(prefix="posebooth-warp-"))
        except OSError as e:
            raise _error(path, why, f"nor can a temporary folder be made ({e.strerror or e})") from None
        atexit.register(shutil.rmtree, fallback, ignore_errors=True)
        logger.warning("%s: cannot write warp kernels there (%s); using %s for this run. Set %s to a "
                       "writable folder to keep them", path, why, fallback, ENV_VAR)
        path = fallback
    if warp.config.kernel_cache_dir != str(path):
        warp.config.kernel_cache_dir = str(path)
    # No greeting, module lines or warnings (a stale kernel cache, no CUDA
    # driver): none is the user's business, and a command's error must stay
    # the one line it prints.
    warp.config.log_level = warp.LOG_ERROR
    with _native_stderr_silenced():   # warp's C++ fprintf()s the no-driver warning
        warp.init()
    return str(path)


@contextlib.contextmanager
def _native_stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
