"""The one OpenGL renderer: the viewport image, the conditioning images and
the exported passes all come from `Renderer._draw` (DESIGN.md: one renderer).

It takes a `moderngl.Context` made by its host: the Qt viewport passes
`moderngl.create_context()` inside its GL widget, headless code goes through
`posebooth.viewport.headless.HeadlessRenderer` (EGL on its own thread).

Passes come from ONE draw into several render targets with a real depth
buffer, so they agree pixel for pixel. No MSAA: labels must be exact.
Every array returned has rows top-down (row 0 = image top), pixel (i, j)
sampled at its centre (j + 0.5, i + 0.5), as GL rasterisation does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import moderngl
import numpy as np
from scipy import sparse

from posebooth.scene.camera import Camera
from posebooth.viewport import shaders

ALL_PASSES = ("rgb", "depth", "normal", "parts", "instance")
BACKGROUND_RGB = (64, 64, 64)   # neutral mid-dark gray behind the bodies
DEFAULT_COLOR = (0.80, 0.72, 0.64)
AMBIENT = 0.25                  # the rest of the light is Lambert from the light
# A directional light at the camera, a little up and to the left (camera frame,
# pointing towards the light; OpenCV axes: -y is up, -z is back to the camera).
LIGHT_DIR = tuple(np.array([-0.3, -0.4, -1.0]) / np.linalg.norm([-0.3, -0.4, -1.0]))


class RenderError(RuntimeError):
    """Rendering cannot run here; the message says what to install or change."""


@dataclass(frozen=True)
class RenderMesh:
    """One person's posed mesh. `faces` and `part_labels` are topology: the
    renderer re-uploads them only when a different array object is passed,
    so do not modify them in place between frames."""

    vertices: np.ndarray      # (V, 3) float32, world, metres
    faces: np.ndarray         # (F, 3) int32, CCW seen from outside
    part_labels: np.ndarray   # (V,) uint8, SMPL part 0..23
    instance_id: int = 1      # 1..255, written to the instance pass
    color: tuple[float, float, float] = DEFAULT_COLOR

    def __post_init__(self):
        # asarray keeps the same object when the dtype is already right, so the
        # topology cache (by identity) still hits frame after frame.
        object.__setattr__(self, "vertices", np.ascontiguousarray(self.vertices, np.float32))
        object.__setattr__(self, "faces", np.ascontiguousarray(self.faces, np.int32))
        object.__setattr__(self, "part_labels", np.ascontiguousarray(self.part_labels, np.uint8))
        object.__setattr__(self, "color", tuple(float(c) for c in self.color))
        if not 1 <= int(self.instance_id) <= 255:
            raise ValueError(f"instance_id must be in 1..255, got {self.instance_id}")
        if self.part_labels.shape != (len(self.vertices),):
            raise ValueError("part_labels must have one label per vertex")
        # An out-of-range index makes GL read outside the buffer (undefined,
        # a crash on some drivers): refuse it here.
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or (
                self.faces.size and not 0 <= self.faces.min() <= self.faces.max() < len(self.vertices)):
            raise ValueError("faces must be (F, 3) indices into vertices")


@dataclass(frozen=True)
class RenderPasses:
    """What `Renderer.render` returns; a pass not requested is None."""

    rgb: np.ndarray | None = None       # (H, W, 3) uint8
    depth: np.ndarray | None = None     # (H, W) float32 camera z, metres, 0 = background
    normal: np.ndarray | None = None    # (H, W, 3) float32 unit, camera frame, facing the camera
    # (H, W) uint8, 0 = background, 1..24 = SMPL part + 1 of the visible
    # triangle, taken from its last vertex (GL's flat provoking vertex)
    parts: np.ndarray | None = None
    instance: np.ndarray | None = None  # (H, W) uint8, 0 = background, k = instance id
    size: tuple[int, int] = field(default=(0, 0))  # (W, H)


class _VertexNormals:
    """Area-weighted vertex normals for one topology, NOT normalised (the
    vertex shader does it): the cross product of two edges is twice the face
    area times its normal. The incidence matrix and scratch arrays are built
    once, so a frame costs ~1 ms per 14k-vertex body instead of ~4 ms."""

    def __init__(self, faces: np.ndarray, n_vertices: int):
        F = len(faces)
        self.faces_t = np.ascontiguousarray(faces.T)
        self.incidence = sparse.csr_matrix(
            (np.ones(3 * F, np.float32), (faces.ravel(), np.repeat(np.arange(F), 3))),
            shape=(n_vertices, F))
        self._corners = np.empty((3, 3, F), np.float32)  # xyz, corner, face
        self._edges = np.empty((2, 3, F), np.float32)
        self._fn = np.empty((F, 3), np.float32)
        self._tmp = np.empty(F, np.float32)

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        vt = np.ascontiguousarray(vertices.T, np.float32)
        for k in range(3):
            np.take(vt[k], self.faces_t, out=self._corners[k])
        c, e, fn, t = self._corners, self._edges, self._fn.T, self._tmp
        np.subtract(c[:, 1], c[:, 0], out=e[0])
        np.subtract(c[:, 2], c[:, 0], out=e[1])
        (x1, y1, z1), (x2, y2, z2) = e
        for k, (a, b, p, q) in enumerate(((y1, z2, z1, y2), (z1, x2, x1, z2), (x1, y2, y1, x2))):
            np.multiply(a, b, out=fn[k])
            np.multiply(p, q, out=t)
            fn[k] -= t
        return self.incidence @ self._fn


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted, unnormalised vertex normals (one-off helper)."""
    return _VertexNormals(np.asarray(faces), len(vertices))(np.asarray(vertices))


class _Stream:
    """A vertex/index buffer re-used across frames: orphaned and written in
    place, only re-allocated (still the same GL object) when it must grow."""

    def __init__(self, ctx: moderngl.Context, reserve: int = 1 << 16):
        self.buffer = ctx.buffer(reserve=reserve, dynamic=True)

    def write(self, parts) -> None:
        """Write arrays back to back (no concatenated copy)."""
        nbytes = sum(p.nbytes for p in parts)
        if nbytes > self.buffer.size:
            self.buffer.orphan(max(nbytes, 2 * self.buffer.size))
        else:
            self.buffer.orphan()
        offset = 0
        for p in parts:
            self.buffer.write(p, offset=offset)
            offset += p.nbytes


class _Targets:
    """The off-screen framebuffers for one image size."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int]):
        self.size = size
        self.rgb = ctx.texture(size, 4, dtype="f1")
        self.depth = ctx.texture(size, 1, dtype="f4")
        self.normal = ctx.texture(size, 3, dtype="f4")
        self.part = ctx.texture(size, 1, dtype="u1")     # R8UI: part + 1
        self.instance = ctx.texture(size, 1, dtype="u1")
        # moderngl only attaches its own 24-bit depth format; with near = 5 cm
        # that resolves ~0.03 mm at 5 m, plenty for the z-test. Depth values
        # themselves come from the R32F target, not from this buffer.
        self.zbuf = ctx.depth_renderbuffer(size)
        try:
            self.fbo = ctx.framebuffer(self._colors(), self.zbuf)
        except moderngl.Error:  # RGB32F need not be renderable: RGBA32F always is
            self.normal.release()
            self.normal = ctx.texture(size, 4, dtype="f4")
            self.fbo = ctx.framebuffer(self._colors(), self.zbuf)
        # Views of the same attachments: clear the colour image to the
        # background, and draw the depth-only baseline.
        self.fbo_rgb = ctx.framebuffer([self.rgb])
        self.fbo_depth = ctx.framebuffer([self.depth], self.zbuf)
        # Read-back scratch, re-used every frame; GL packs RGBA to RGB itself
        # (numpy's strided copy is several times slower). Rows are bottom-up.
        W, H = size
        self._formats = [(3, "f1"), (1, "f4"), (3, "f4"), (1, "u1"), (1, "u1")]
        self._scratch = [np.empty((H, W, 3), np.uint8), np.empty((H, W), np.float32),
                         np.empty((H, W, 3), np.float32), np.empty((H, W), np.uint8),
                         np.empty((H, W), np.uint8)]

    def read(self, attachment: int, fbo: moderngl.Framebuffer | None = None) -> np.ndarray:
        """One attachment, rows top-down, in a new contiguous array."""
        components, dtype = self._formats[attachment]
        scratch = self._scratch[attachment]
        (fbo or self.fbo).read_into(scratch, components=components,
                                    attachment=0 if fbo is not None else attachment, dtype=dtype)
        return scratch[::-1].copy()   # GL rows are bottom-up; whole-row copies are fast

    def _colors(self) -> list:
        return [self.rgb, self.depth, self.normal, self.part, self.instance]

    def release(self) -> None:
        for obj in (self.fbo, self.fbo_rgb, self.fbo_depth, self.rgb, self.depth,
                    self.normal, self.part, self.instance, self.zbuf):
            obj.release()


class Renderer:
    """Draws `RenderMesh`es seen by a `Camera`. Not thread-safe: call it only
    on the thread where `ctx` is current."""

    def __init__(self, ctx: moderngl.Context):
        if ctx.version_code < 330:
            raise RenderError(f"OpenGL 3.3 or newer is needed, this context has {ctx.version_code}")
        self.ctx = ctx
        self._prog = ctx.program(vertex_shader=shaders.VERTEX, fragment_shader=shaders.FRAGMENT)
        self._prog_depth = ctx.program(vertex_shader=shaders.DEPTH_VERTEX,
                                       fragment_shader=shaders.DEPTH_FRAGMENT)
        self._pos, self._nrm, self._attr, self._idx = (_Stream(ctx) for _ in range(4))
        self._vao = ctx.vertex_array(self._prog, [
            (self._pos.buffer, "3f", "in_pos"),
            (self._nrm.buffer, "3f", "in_normal"),
            (self._attr.buffer, "u 4f1", "in_id", "in_color"),
        ], index_buffer=self._idx.buffer, index_element_size=4)
        self._vao_depth = ctx.vertex_array(self._prog_depth, [(self._pos.buffer, "3f", "in_pos")],
                                           index_buffer=self._idx.buffer, index_element_size=4)
        self._targets: _Targets | None = None
        self._topology: list = []   # the arrays last uploaded, held so identity stays valid
        self._normals: list[_VertexNormals] = []
        self._n_indices = 0

    # -- uploads -----------------------------------------------------------
    def _upload(self, meshes: list[RenderMesh], normals: bool) -> None:
        key = [(m.faces, m.part_labels, m.instance_id, m.color, len(m.vertices)) for m in meshes]
        same = len(key) == len(self._topology) and all(
            a[0] is b[0] and a[1] is b[1] and a[2:] == b[2:] for a, b in zip(key, self._topology))
        if not same:
            offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
            idx = [m.faces.astype(np.uint32) + np.uint32(o) for m, o in zip(meshes, offsets)]
            attr = np.zeros(offsets[-1], dtype=[("id", "<u4"), ("color", "u1", 4)])
            for m, o in zip(meshes, offsets):
                sl = slice(o, o + len(m.vertices))
                attr["id"][sl] = m.part_labels.astype(np.uint32) | (np.uint32(m.instance_id) << 8)
                attr["color"][sl] = np.round(np.clip(list(m.color) + [1.0], 0, 1) * 255)
            self._idx.write(idx)
            self._attr.write([attr])
            self._n_indices = sum(m.faces.size for m in meshes)
            self._topology = key
            self._normals = [None] * len(meshes)   # built on first use
        self._pos.write([m.vertices for m in meshes])
        if normals:
            for k, m in enumerate(meshes):
                if self._normals[k] is None:
                    self._normals[k] = _VertexNormals(m.faces, len(m.vertices))
            self._nrm.write([nf(m.vertices) for nf, m in zip(self._normals, meshes)])

    def _targets_for(self, camera: Camera) -> _Targets:
        size = (int(camera.width), int(camera.height))
        if self._targets is None or self._targets.size != size:
            if self._targets is not None:
                self._targets.release()
            self._targets = _Targets(self.ctx, size)
        return self._targets

    def _set_camera(self, prog: moderngl.Program, camera: Camera) -> None:
        # moderngl takes matrices column-major: pass the transposes.
        prog["u_view"].write(np.asarray(camera.extrinsic, np.float32).T.tobytes())
        prog["u_proj"].write(np.asarray(camera.gl_projection(), np.float32).T.tobytes())

    # -- drawing (shared by the off-screen passes and the on-screen view) ---
    def _draw(self, meshes: list[RenderMesh], camera: Camera) -> None:
        self._upload(meshes, normals=True)
        self._set_camera(self._prog, camera)
        self._prog["u_light_dir"].value = LIGHT_DIR
        self._prog["u_ambient"].value = AMBIENT
        self.ctx.enable_only(moderngl.DEPTH_TEST)   # no culling, no blending
        self.ctx.depth_func = "<"
        self.ctx.front_face = "ccw"
        if self._n_indices:
            self._vao.render(moderngl.TRIANGLES, vertices=self._n_indices)

    def draw_into(self, fbo: moderngl.Framebuffer, meshes: list[RenderMesh], camera: Camera,
                  clear: bool = True) -> None:
        """Draw the shaded image into a caller's framebuffer (e.g. the Qt
        widget's default FBO, via ctx.detect_framebuffer()). The camera should
        have the framebuffer's pixel size; the image fills its viewport."""
        fbo.use()
        if clear:
            fbo.clear(*(c / 255.0 for c in BACKGROUND_RGB), 1.0, depth=1.0)
        self._draw(meshes, camera)

    # -- off-screen passes --------------------------------------------------
    def render(self, meshes: list[RenderMesh], camera: Camera,
               passes: tuple[str, ...] | list[str] = ALL_PASSES) -> RenderPasses:
        """Render the requested passes (see ALL_PASSES); others are None and
        are not read back."""
        unknown = set(passes) - set(ALL_PASSES)
        if unknown:
            raise ValueError(f"unknown passes {sorted(unknown)}; choose from {ALL_PASSES}")
        t = self._targets_for(camera)
        t.fbo.use()
        t.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)   # zero every target (ids too)
        t.fbo_rgb.clear(*(c / 255.0 for c in BACKGROUND_RGB), 1.0)
        t.fbo.use()
        self._draw(meshes, camera)
        names = ("rgb", "depth", "normal", "parts", "instance")  # attachment order
        out = {name: t.read(i) for i, name in enumerate(names) if name in passes}
        W, H = t.size
        return RenderPasses(size=(W, H), **out)

    def render_depth_only(self, meshes: list[RenderMesh], camera: Camera) -> np.ndarray:
        """Minimal pass (the benchmark baseline): (H, W) float32 camera z, 0 = background."""
        t = self._targets_for(camera)
        t.fbo_depth.use()
        t.fbo_depth.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self._upload(meshes, normals=False)
        self._set_camera(self._prog_depth, camera)
        self.ctx.enable_only(moderngl.DEPTH_TEST)
        self.ctx.depth_func = "<"
        if self._n_indices:
            self._vao_depth.render(moderngl.TRIANGLES, vertices=self._n_indices)
        return t.read(1, t.fbo_depth)

    def release(self) -> None:
        """Free the GL objects (the context stays the host's)."""
        if self._targets is not None:
            self._targets.release()
            self._targets = None
        for obj in (self._vao, self._vao_depth, self._prog, self._prog_depth,
                    self._pos.buffer, self._nrm.buffer, self._attr.buffer, self._idx.buffer):
            obj.release()
        self._topology, self._normals = [], []
