"""Headless rendering: the same `Renderer` in a standalone context (EGL on Linux).

The context lives on its own single worker thread and never becomes current
on the caller's thread: on Mesa an EGL context left current on the GUI thread
breaks Qt's GLX context (DESIGN.md). Every call is a blocking hop to that
thread, so this class can be used from any thread, the GUI's included.
"""
from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from posebooth.scene.camera import Camera
from posebooth.viewport.renderer import ALL_PASSES, Renderer, RenderError, RenderMesh, RenderPasses

EGL_HINT = ("Install the system packages libegl1 and libgl1-mesa-dri "
            "(Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri).")


def _create_context():
    """EGL on Linux (no display needed); elsewhere a hidden native context
    (WGL on Windows, CGL on macOS), which moderngl makes by default. Only the
    Linux path is tested: the others are this one call."""
    import moderngl  # imported here so a broken install is reported as a RenderError

    if sys.platform.startswith("linux"):
        return moderngl.create_standalone_context(backend="egl", require=330)
    return moderngl.create_standalone_context(require=330)


class HeadlessRenderer:
    """`render` / `render_depth_only` / `gl_info` like `Renderer`, on a
    dedicated EGL thread. Use as a context manager or call `close()`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posebooth-egl")
        self._ctx = None
        self._renderer: Renderer | None = None
        self._worker = None   # ident of the EGL thread
        try:
            self._executor.submit(self._start).result()
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise

    def _start(self) -> None:
        self._worker = threading.get_ident()
        try:
            self._ctx = _create_context()
        except Exception as exc:  # moderngl/glcontext raise several types
            raise RenderError(f"Cannot create a headless OpenGL context (EGL): {exc}. "
                              f"{EGL_HINT}") from exc
        self._renderer = Renderer(self._ctx)

    def _call(self, fn, *args):
        with self._lock:  # the lock only guards against a concurrent close()
            if self._executor is None:
                raise RenderError("HeadlessRenderer is closed")
            future = self._executor.submit(fn, *args)
        return future.result()

    def render(self, meshes: list[RenderMesh], camera: Camera,
               passes: tuple[str, ...] | list[str] = ALL_PASSES) -> RenderPasses:
        return self._call(lambda: self._renderer.render(meshes, camera, passes))

    def render_depth_only(self, meshes: list[RenderMesh], camera: Camera) -> np.ndarray:
        return self._call(lambda: self._renderer.render_depth_only(meshes, camera))

    def gl_info(self) -> dict[str, str]:
        """Renderer, vendor and version strings of the GL implementation."""
        def info():
            i = self._ctx.info
            return {"renderer": i["GL_RENDERER"], "vendor": i["GL_VENDOR"],
                    "version": i["GL_VERSION"]}
        return self._call(info)

    def close(self) -> None:
        """Release the GL objects and the context on their thread; idempotent."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        if threading.get_ident() == self._worker:
            # Called on the EGL thread itself (e.g. the last reference dropped
            # there): waiting for our own queue would deadlock.
            self._release()
            executor.shutdown(wait=False)
            return
        try:
            executor.submit(self._release).result()
        finally:
            executor.shutdown(wait=True)

    def _release(self) -> None:
        if self._renderer is not None:
            self._renderer.release()
        if self._ctx is not None:
            self._ctx.release()
        self._renderer = self._ctx = None

    def __enter__(self) -> "HeadlessRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
