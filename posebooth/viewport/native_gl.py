"""The two long GL calls, made through ctypes so they release the GIL.

moderngl holds the GIL inside every GL call. On a software rasteriser the
draw (vertex shading and binning) and the wait for the rasteriser threads
take most of a frame, so while the export renders, its writer and posing
threads could not run Python at all. ctypes releases the GIL for the
duration of a foreign call. Everything else stays with moderngl.

Used only when the GL library can be loaded (`load()` returns None
otherwise, and callers fall back to moderngl's own calls). Setting
POSEBOOTH_NATIVE_GL=0 forces that fallback (for a driver where the GL
library found here is not the one the context came from).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

GL_TRIANGLES = 0x0004
GL_UNSIGNED_INT = 0x1405


class NativeGL:
    def __init__(self, lib: ctypes.CDLL):
        self._use = lib.glUseProgram
        self._use.argtypes, self._use.restype = [ctypes.c_uint], None
        self._bind = lib.glBindVertexArray
        self._bind.argtypes, self._bind.restype = [ctypes.c_uint], None
        self._draw = lib.glDrawElements
        self._draw.argtypes = [ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
        self._draw.restype = None
        self.finish = lib.glFinish
        self.finish.argtypes, self.finish.restype = [], None
        self.flush = lib.glFlush
        self.flush.argtypes, self.flush.restype = [], None

    def draw_triangles(self, program, vertex_array, count: int, first: int) -> None:
        """What `vertex_array.render(TRIANGLES, vertices=count, first=first)`
        does for a VAO with a 32-bit index buffer (the index buffer is part
        of the VAO's state)."""
        self._use(program.glo)
        self._bind(vertex_array.glo)
        self._draw(GL_TRIANGLES, count, GL_UNSIGNED_INT, ctypes.c_void_p(4 * first))


def _library() -> ctypes.CDLL | None:
    names = {"darwin": ["/System/Library/Frameworks/OpenGL.framework/OpenGL"],
             "win32": ["opengl32"]}.get(sys.platform, ["libOpenGL.so.0", "libGL.so.1"])
    found = ctypes.util.find_library("OpenGL") or ctypes.util.find_library("GL")
    for name in names + ([found] if found else []):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def load() -> NativeGL | None:
    if os.environ.get("POSEBOOTH_NATIVE_GL", "1") == "0":
        return None
    lib = _library()
    if lib is None:
        return None
    try:
        return NativeGL(lib)
    except AttributeError:   # a library without the core entry points
        return None
