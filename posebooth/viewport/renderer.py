"""The one OpenGL renderer: the viewport image, the conditioning images and
the exported passes all come from `Renderer._draw` (DESIGN.md: one renderer).

It takes a `moderngl.Context` made by its host: the Qt viewport passes
`moderngl.create_context()` inside its GL widget, headless code goes through
`posebooth.viewport.headless.HeadlessRenderer` (EGL on its own thread).

The requested passes come from one drawing of the scene (a draw call per
person) into several render targets with a real depth buffer, so they
agree pixel for pixel; DESIGN.md ("session 2") says what keeps it cheap.
No MSAA: labels must be exact.
Every array returned has rows top-down (row 0 = image top), pixel (i, j)
sampled at its centre (j + 0.5, i + 0.5), as GL rasterisation does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import moderngl
import numpy as np

from posebooth.scene.camera import Camera
from posebooth.viewport import native_gl, shaders
from posebooth.viewport.normals import VertexNormals

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


_CLOSED: dict[bytes, bool] = {}   # faces digest -> is_closed_outward, per topology


def closed_outward_cached(faces: np.ndarray, vertices: np.ndarray) -> bool:
    """is_closed_outward, once per topology for the whole process (a body's
    loader can call it off the GUI thread, so the first draw does not)."""
    import hashlib

    key = hashlib.blake2b(np.ascontiguousarray(faces).tobytes(), digest_size=16).digest()
    if key not in _CLOSED:
        _CLOSED[key] = is_closed_outward(faces, vertices)
    return _CLOSED[key]


def is_closed_outward(faces: np.ndarray, vertices: np.ndarray) -> bool:
    """True when the mesh is a closed, consistently wound surface facing
    outwards: every directed edge appears once and its reverse once, and the
    signed volume is positive (CCW seen from outside)."""
    if not len(faces):
        return False
    f = faces.astype(np.int64)
    n = int(f.max()) + 1
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    code = directed[:, 0] * n + directed[:, 1]
    if len(np.unique(code)) != len(code):
        return False
    reverse = directed[:, 1] * n + directed[:, 0]
    if not np.isin(reverse, code).all():
        return False
    v = vertices.astype(np.float64)
    volume = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum()
    return volume > 0


class _Stream:
    """A vertex/index buffer re-used across frames: orphaned and written in
    place, only re-allocated (still the same GL object) when it must grow."""

    def __init__(self, ctx: moderngl.Context, reserve: int = 1 << 16):
        self.buffer = ctx.buffer(reserve=reserve, dynamic=True)

    def write(self, parts) -> None:
        """Write arrays back to back (no concatenated copy). Written in place:
        orphaning would make the driver allocate (and page-fault) a fresh
        store every frame, and every off-screen frame ends in a read-back,
        so the previous draw is done with the data anyway."""
        nbytes = sum(p.nbytes for p in parts)
        if nbytes > self.buffer.size:
            self.buffer.orphan(max(nbytes, 2 * self.buffer.size))
        offset = 0
        for p in parts:
            self.buffer.write(p, offset=offset)
            offset += p.nbytes


class _Targets:
    """The off-screen textures for one image size, and a framebuffer per
    set of passes drawn into them."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int]):
        self.ctx, self.size = ctx, size
        self.textures = {
            "rgb": ctx.texture(size, 4, dtype="f1"),
            "depth": ctx.texture(size, 1, dtype="f4"),
            "normal": ctx.texture(size, 3, dtype="f4"),
            "parts": ctx.texture(size, 1, dtype="u1"),      # R8UI: part + 1
            "instance": ctx.texture(size, 1, dtype="u1"),
        }
        # moderngl only attaches its own 24-bit depth format; with near = 5 cm
        # that resolves ~0.03 mm at 5 m, plenty for the z-test. Depth values
        # themselves come from the R32F target, not from this buffer.
        self.zbuf = ctx.depth_renderbuffer(size)
        try:
            ctx.framebuffer([self.textures["normal"]]).release()
        except moderngl.Error:  # RGB32F need not be renderable: RGBA32F always is
            self.textures["normal"].release()
            self.textures["normal"] = ctx.texture(size, 4, dtype="f4")
        # Clears the colour image to the background.
        self.fbo_rgb = ctx.framebuffer([self.textures["rgb"]])
        self._fbos: dict[tuple[str, ...], moderngl.Framebuffer] = {}
        # Read-back scratch, re-used every frame; GL packs RGBA to RGB itself
        # (numpy's strided copy is several times slower). Rows are bottom-up.
        W, H = size
        self._formats = {"rgb": (3, "f1", np.uint8), "depth": (1, "f4", np.float32),
                         "normal": (3, "f4", np.float32), "parts": (1, "u1", np.uint8),
                         "instance": (1, "u1", np.uint8)}
        self._scratch = {name: np.empty((H, W, c) if c > 1 else (H, W), t)
                         for name, (c, _, t) in self._formats.items()}

    def fbo(self, passes: tuple[str, ...]) -> moderngl.Framebuffer:
        """The framebuffer with `passes`' textures attached in that order."""
        if passes not in self._fbos:
            self._fbos[passes] = self.ctx.framebuffer([self.textures[p] for p in passes], self.zbuf)
        return self._fbos[passes]

    def read(self, passes: tuple[str, ...], name: str) -> np.ndarray:
        """Pass `name` of the last draw into fbo(passes), rows top-down, in a
        new contiguous array."""
        components, dtype, _ = self._formats[name]
        scratch = self._scratch[name]
        self.fbo(passes).read_into(scratch, components=components,
                                   attachment=passes.index(name), dtype=dtype)
        return scratch[::-1].copy()   # GL rows are bottom-up; whole-row copies are fast

    def release(self) -> None:
        for obj in (*self._fbos.values(), self.fbo_rgb, *self.textures.values(), self.zbuf):
            obj.release()
        self._fbos = {}


def _pixel_to_ray(camera: Camera) -> np.ndarray:
    """3x3 map from a window position (gl_FragCoord.x, .y, 1), rows bottom-up,
    to the camera-frame ray through it with z = 1: K^-1 after the row flip
    y_image = H - y_window (pixel centres at +0.5 on both, FORMAT.md)."""
    flip = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, camera.height], [0.0, 0.0, 1.0]])
    return np.linalg.inv(camera.K) @ flip


class Renderer:
    """Draws `RenderMesh`es seen by a `Camera`. Not thread-safe: call it only
    on the thread where `ctx` is current."""

    def __init__(self, ctx: moderngl.Context):
        if ctx.version_code < 330:
            raise RenderError(f"OpenGL 3.3 or newer is needed, this context has {ctx.version_code}")
        self.ctx = ctx
        self._pos, self._nrm, self._part, self._idx = (_Stream(ctx) for _ in range(4))
        # The draw and the wait for the rasteriser without holding the GIL
        # (native_gl says why); None: moderngl's own calls.
        self._native = native_gl.load()
        # One program per set of passes, built on first use.
        self._variants: dict[tuple[str, ...], tuple[moderngl.Program, moderngl.VertexArray]] = {}
        self._targets: _Targets | None = None
        self._topology: list = []   # the arrays last uploaded, held so identity stays valid
        self._normals: list[VertexNormals | None] = []
        self._closed: list[bool] = []   # per mesh of the topology: may cull back faces
        self._draws: list[tuple[int, RenderMesh]] = []  # first index, mesh
        self._n_indices = 0

    # -- uploads -----------------------------------------------------------
    def _upload(self, meshes: list[RenderMesh], normals: bool) -> None:
        key = [(m.faces, m.part_labels, len(m.vertices)) for m in meshes]
        same = len(key) == len(self._topology) and all(
            a[0] is b[0] and a[1] is b[1] and a[2] == b[2] for a, b in zip(key, self._topology))
        if not same:
            offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
            self._idx.write([m.faces.astype(np.uint32) + np.uint32(o) for m, o in zip(meshes, offsets)])
            self._part.write([m.part_labels.astype(np.uint32) for m in meshes])
            self._n_indices = sum(m.faces.size for m in meshes)
            self._topology = key
            self._normals = [None] * len(meshes)   # built on first use
            self._closed = [closed_outward_cached(m.faces, m.vertices) for m in meshes]
        first = np.cumsum([0] + [m.faces.size for m in meshes])
        self._draws = [(int(first[k]), m) for k, m in enumerate(meshes)]
        self._pos.write([m.vertices for m in meshes])
        if normals:
            for k, m in enumerate(meshes):
                if self._normals[k] is None:
                    self._normals[k] = VertexNormals(m.faces, len(m.vertices))
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

    def _may_cull(self, k: int, mesh: RenderMesh, camera: Camera) -> bool:
        """Whether back faces of mesh k can be skipped without changing a
        pixel: the surface is closed and wound outwards, and lies wholly
        between the near and far planes, so neither plane cuts it open and
        the camera is outside it (a closed surface around the camera would
        have points behind it). Then the first surface along every ray is a
        front face. Halves the triangles a software rasteriser sets up and
        shades; an open or cut mesh is drawn two-sided as before."""
        if not self._closed[k]:
            return False
        z = camera.depth_of(mesh.vertices, np.float32)
        return camera.near < z.min() and z.max() < camera.far

    def _variant(self, passes: tuple[str, ...]) -> tuple[moderngl.Program, moderngl.VertexArray]:
        if passes not in self._variants:
            vs, fs = shaders.program_sources(passes)
            prog = self.ctx.program(vertex_shader=vs, fragment_shader=fs)
            attrs = [(buf, fmt, name) for buf, fmt, name in (
                (self._pos.buffer, "3f", "in_pos"), (self._nrm.buffer, "3f", "in_normal"),
                (self._part.buffer, "u", "in_part")) if name in prog]
            vao = self.ctx.vertex_array(prog, attrs, index_buffer=self._idx.buffer,
                                        index_element_size=4)
            self._variants[passes] = (prog, vao)
        return self._variants[passes]

    # -- drawing (shared by the off-screen passes and the on-screen view) ---
    def _draw(self, meshes: list[RenderMesh], camera: Camera, passes: tuple[str, ...]) -> None:
        """Draw `passes` (canonical order) into the bound framebuffer."""
        self._upload(meshes, normals=shaders.needs_normals(passes))
        prog, vao = self._variant(passes)
        self._set_camera(prog, camera)
        for name, value in (("u_light_dir", LIGHT_DIR), ("u_ambient", AMBIENT)):
            if name in prog:
                prog[name].value = value
        if "u_ray" in prog:
            prog["u_ray"].write(_pixel_to_ray(camera).astype(np.float32).T.tobytes())
        self.ctx.depth_func = "<"
        self.ctx.front_face = "ccw"
        self.ctx.cull_face = "back"
        # One draw per person: colour and instance id are uniforms, which
        # keeps per-vertex data (the cost that dominates on a software
        # rasteriser) small.
        for k, (first, mesh) in enumerate(self._draws):
            cull = moderngl.CULL_FACE if self._may_cull(k, mesh, camera) else 0
            self.ctx.enable_only(moderngl.DEPTH_TEST | cull)   # no blending
            if "u_color" in prog:
                prog["u_color"].value = mesh.color
            if "u_instance" in prog:
                prog["u_instance"].value = mesh.instance_id
            count = mesh.faces.size
            if self._native is not None:
                self._native.draw_triangles(prog, vao, count, first)
                if k + 1 < len(self._draws):
                    # Hand this person to the rasteriser threads while the
                    # next one's vertices are shaded (llvmpipe works a
                    # flushed scene while the next one is being binned).
                    self._native.flush()
            else:
                vao.render(moderngl.TRIANGLES, vertices=count, first=first)

    def draw_into(self, fbo: moderngl.Framebuffer, meshes: list[RenderMesh], camera: Camera,
                  clear: bool = True) -> None:
        """Draw the shaded image into a caller's framebuffer (e.g. the Qt
        widget's default FBO, via ctx.detect_framebuffer()). The camera should
        have the framebuffer's pixel size; the image fills its viewport."""
        fbo.use()
        if clear:
            fbo.clear(*(c / 255.0 for c in BACKGROUND_RGB), 1.0, depth=1.0)
        self._draw(meshes, camera, ("rgb",))

    # -- off-screen passes --------------------------------------------------
    def render(self, meshes: list[RenderMesh], camera: Camera,
               passes: tuple[str, ...] | list[str] = ALL_PASSES) -> RenderPasses:
        """Render the requested passes (see ALL_PASSES) in one draw; others
        are None, cost nothing and are not read back."""
        unknown = set(passes) - set(ALL_PASSES)
        if unknown:
            raise ValueError(f"unknown passes {sorted(unknown)}; choose from {ALL_PASSES}")
        wanted = tuple(p for p in ALL_PASSES if p in passes)
        t = self._targets_for(camera)
        W, H = t.size
        if not wanted:
            return RenderPasses(size=(W, H))
        fbo = t.fbo(wanted)
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)   # zero every target (ids too)
        if "rgb" in wanted:
            t.fbo_rgb.clear(*(c / 255.0 for c in BACKGROUND_RGB), 1.0)
            fbo.use()
        self._draw(meshes, camera, wanted)
        self._finish()
        return RenderPasses(size=(W, H), **{name: t.read(wanted, name) for name in wanted})

    def render_depth_only(self, meshes: list[RenderMesh], camera: Camera) -> np.ndarray:
        """The bare depth pass (the benchmark's baseline: one plain draw, no
        culling): (H, W) float32 camera z, 0 = background."""
        t = self._targets_for(camera)
        fbo = t.fbo(("depth",))
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self._upload(meshes, normals=False)
        prog, vao = self._variant(("depth",))   # the depth pass's own shaders, drawn plainly
        self._set_camera(prog, camera)
        self.ctx.enable_only(moderngl.DEPTH_TEST)
        self.ctx.depth_func = "<"
        if self._n_indices:
            vao.render(moderngl.TRIANGLES, vertices=self._n_indices)
        self._finish()
        return t.read(("depth",), "depth")

    def _finish(self) -> None:
        """Wait for the GPU (or the software rasteriser's threads) before
        the read-backs, with the GIL released where possible."""
        if self._native is not None:
            self._native.finish()
        else:
            self.ctx.finish()

    def release(self) -> None:
        """Free the GL objects (the context stays the host's)."""
        if self._targets is not None:
            self._targets.release()
            self._targets = None
        for prog, vao in self._variants.values():
            vao.release()
            prog.release()
        self._variants = {}
        for obj in (self._pos.buffer, self._nrm.buffer, self._part.buffer, self._idx.buffer):
            obj.release()
        self._topology, self._normals = [], []
