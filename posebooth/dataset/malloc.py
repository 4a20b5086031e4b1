"""Sample makers keep freed memory instead of handing it back to the kernel.

A sample allocates tens of MB of short-lived buffers (pass images, PNG
rows, skinning temporaries). glibc returns large blocks to the kernel on
free (mmap'd blocks, and a trimmed heap top), so every sample pays page
faults to get zeroed pages again. Raising glibc's thresholds keeps those
pages in the process: an A/B of whole bench_dataset.py runs gave a median
CPU ratio of 0.93 (with a wide spread; system time varies with the file
system's state as much). Elsewhere than glibc this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD = 32 << 20   # glibc's largest allowed value on 64-bit
_TRIM_THRESHOLD = 512 << 20
_TOP_PAD = 64 << 20

_done = False


def keep_freed_memory() -> bool:
    """Once per process; True when glibc took the settings."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = all(mallopt(k, v) == 1 for k, v in ((_M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
                                                 (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD), (_M_TOP_PAD, _TOP_PAD)))
    return _done
