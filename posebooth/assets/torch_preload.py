"""Load torch's main shared library without holding the GIL.

`import torch` spends about a quarter of a second in the dynamic loader
mapping, relocating and initialising libtorch_cpu, all of it while holding
the GIL; the app imports torch on a worker thread, and that quarter second
froze the GUI thread (a 0.25 s gap in its event loop, measured). A foreign
call through ctypes releases the GIL, so calling the C library's dlopen()
here lets the loader do that work while the GUI thread runs; the import that
follows finds the libraries loaded. The libraries get the same flags as
torch's own import gives them (libtorch_global_deps global, libtorch_cpu
local, both resolved now), so nothing changes but when they are loaded.
Linux only (elsewhere, and on any failure, it does nothing).
"""
from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import sys

logger = logging.getLogger(__name__)
_LIBRARIES = (("libtorch_global_deps.so", os.RTLD_GLOBAL), ("libtorch_cpu.so", 0))


def preload_torch_libraries() -> bool:
    """True when torch's libraries are now loaded (or torch already was)."""
    if "torch" in sys.modules:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        spec = importlib.util.find_spec("torch")
        if spec is None or not spec.origin:
            return False
        folder = os.path.join(os.path.dirname(spec.origin), "lib")
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
        dlopen.argtypes, dlopen.restype = (ctypes.c_char_p, ctypes.c_int), ctypes.c_void_p
        for name, flags in _LIBRARIES:
            path = os.path.join(folder, name)
            if not os.path.isfile(path) or not dlopen(os.fsencode(path), os.RTLD_NOW | flags):
                return False
    except (OSError, AttributeError, ValueError) as e:
        logger.debug("torch's libraries were not preloaded: %s", e)
        return False
    return True
