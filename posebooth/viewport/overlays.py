"""Viewport overlays drawn with moderngl, Qt-free: anti-aliased thick lines
(world or screen space), round markers, flat screen quads and an image quad.

Lines and markers are expanded to screen-aligned quads in a geometry shader
because core profiles only promise 1-pixel GL lines; the fragment shader
fades the outermost pixel for anti-aliasing without MSAA. World geometry goes
through the same `Camera.extrinsic` and `Camera.gl_projection()` as the
bodies (DESIGN.md: one projection formula).
"""
from __future__ import annotations

import moderngl
import numpy as np

from posebooth.scene.camera import Camera

def _vertex_shader(uniforms: str, position: str) -> str:
    """The overlays' vertex shader: they differ only in how a point reaches clip space."""
    return f"""
#version 330 core
{uniforms}
in vec3 in_pos;
in vec4 in_color;
in float in_size;
out vec4 g_color;
out vec3 g_world;
out float g_size;
void main() {{
    gl_Position = {position};
    g_color = in_color; g_world = in_pos; g_size = in_size;
}}
"""


_WORLD_VS = _vertex_shader("uniform mat4 u_view;\nuniform mat4 u_proj;", "u_proj * u_view * vec4(in_pos, 1.0)")

# Screen space: pixel coordinates of the framebuffer (x right, y down).
_SCREEN_VS = _vertex_shader(
    "uniform vec2 u_viewport;",
    "vec4(in_pos.x / u_viewport.x * 2.0 - 1.0, 1.0 - in_pos.y / u_viewport.y * 2.0, 0.0, 1.0)")

_LINE_GS = """
#version 330 core
layout(lines) in;
layout(triangle_strip, max_vertices = 4) out;
uniform vec2 u_viewport;
uniform float u_width;
uniform float u_near;     // clip at camera z = near (w = camera z)
in vec4 g_color[];
in vec3 g_world[];
in float g_size[];
out vec4 f_color;
out vec3 f_world;
out float f_edge;
void main() {
    vec4 a = gl_in[0].gl_Position, b = gl_in[1].gl_Position;
    vec4 ca = g_color[0], cb = g_color[1];
    vec3 wa = g_world[0], wb = g_world[1];
    if (a.w < u_near && b.w < u_near) return;
    if (a.w < u_near) { float t = (u_near - a.w) / (b.w - a.w); a = mix(a, b, t); ca = mix(ca, cb, t); wa = mix(wa, wb, t); }
    if (b.w < u_near) { float t = (u_near - b.w) / (a.w - b.w); b = mix(b, a, t); cb = mix(cb, ca, t); wb = mix(wb, wa, t); }
    vec2 half_vp = 0.5 * u_viewport;
    vec2 d = b.xy / b.w * half_vp - a.xy / a.w * half_vp;
    float len = length(d);
    d = len > 1e-6 ? d / len : vec2(1.0, 0.0);
    vec2 n = vec2(-d.y, d.x) * (0.5 * u_width + 1.0) / half_vp;  // NDC offset; +1 px for the AA ramp
    f_color = ca; f_world = wa;
    f_edge = -1.0; gl_Position = vec4(a.xy - n * a.w, a.zw); EmitVertex();
    f_edge = 1.0;  gl_Position = vec4(a.xy + n * a.w, a.zw); EmitVertex();
    f_color = cb; f_world = wb;
    f_edge = -1.0; gl_Position = vec4(b.xy - n * b.w, b.zw); EmitVertex();
    f_edge = 1.0;  gl_Position = vec4(b.xy + n * b.w, b.zw); EmitVertex();
    EndPrimitive();
}
"""

_LINE_FS = """
#version 330 core
uniform float u_width;
uniform vec4 u_fade;      // xyz: centre, w: radius (0 = no distance fade)
in vec4 f_color;
in vec3 f_world;
in float f_edge;
out vec4 o_color;
void main() {
    float px = abs(f_edge) * (0.5 * u_width + 1.0);
    float a = clamp(0.5 * u_width + 0.5 - px, 0.0, 1.0);
    if (u_fade.w > 0.0) a *= clamp(1.0 - distance(f_world, u_fade.xyz) / u_fade.w, 0.0, 1.0);
    o_color = vec4(f_color.rgb, f_color.a * a);
}
"""

_POINT_GS = """
#version 330 core
layout(points) in;
layout(triangle_strip, max_vertices = 4) out;
uniform vec2 u_viewport;
uniform float u_near;
in vec4 g_color[];
in vec3 g_world[];
in float g_size[];
out vec4 f_color;
out vec2 f_uv;
out float f_size;
void main() {
    vec4 p = gl_in[0].gl_Position;
    if (p.w < u_near) return;
    vec2 r = vec2(0.5 * g_size[0] + 1.0) / (0.5 * u_viewport) * p.w;
    f_color = g_color[0]; f_size = g_size[0];
    for (int i = 0; i < 4; i++) {
        vec2 c = vec2(i % 2 == 0 ? -1.0 : 1.0, i < 2 ? -1.0 : 1.0);
        f_uv = c;
        gl_Position = vec4(p.xy + c * r, p.zw);
        EmitVertex();
    }
    EndPrimitive();
}
"""

# A filled disc with a dark rim, like Blender's joint/gizmo handles.
_POINT_FS = """
#version 330 core
in vec4 f_color;
in vec2 f_uv;
in float f_size;
out vec4 o_color;
void main() {
    float r = length(f_uv) * (0.5 * f_size + 1.0);   // pixels from the centre
    float outer = 0.5 * f_size;
    float a = clamp(outer + 0.5 - r, 0.0, 1.0);
    float rim = clamp(r - (outer - 1.5), 0.0, 1.0);
    o_color = vec4(mix(f_color.rgb, vec3(0.05), rim * 0.8), f_color.a * a);
}
"""

_FLAT_FS = """
#version 330 core
in vec4 g_color;
out vec4 o_color;
void main() { o_color = g_color; }
"""

_IMAGE_VS = """
#version 330 core
uniform vec4 u_rect;      // x0, y0, x1, y1 in NDC
in vec2 in_uv;
out vec2 v_uv;
void main() {
    v_uv = in_uv;
    gl_Position = vec4(mix(u_rect.xy, u_rect.zw, in_uv), 0.0, 1.0);
}
"""

_IMAGE_FS = """
#version 330 core
uniform sampler2D u_tex;
in vec2 v_uv;
out vec4 o_color;
void main() { o_color = vec4(texture(u_tex, vec2(v_uv.x, 1.0 - v_uv.y)).rgb, 1.0); }
"""

_VERTEX_DTYPE = np.dtype([("pos", "f4", 3), ("color", "f4", 4), ("size", "f4")])


def vertices(points, colors, sizes=1.0) -> np.ndarray:
    """Pack (N, 3) points, (N, 4) or (4,) RGBA and sizes into the overlay vertex format."""
    pts = np.asarray(points, np.float32).reshape(-1, 3)
    out = np.zeros(len(pts), _VERTEX_DTYPE)
    out["pos"] = pts
    out["color"] = np.broadcast_to(np.asarray(colors, np.float32), (len(pts), 4))
    out["size"] = np.broadcast_to(np.asarray(sizes, np.float32), (len(pts),))
    return out


class Overlays:
    """The GL programs and one streaming buffer; one call per batch."""

    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self.world_lines = ctx.program(vertex_shader=_WORLD_VS, geometry_shader=_LINE_GS, fragment_shader=_LINE_FS)
        self.screen_lines = ctx.program(vertex_shader=_SCREEN_VS, geometry_shader=_LINE_GS,
                                        fragment_shader=_LINE_FS)
        self.world_points = ctx.program(vertex_shader=_WORLD_VS, geometry_shader=_POINT_GS,
                                        fragment_shader=_POINT_FS)
        self.screen_flat = ctx.program(vertex_shader=_SCREEN_VS, fragment_shader=_FLAT_FS)
        self.image_prog = ctx.program(vertex_shader=_IMAGE_VS, fragment_shader=_IMAGE_FS)
        self._buffers, self._vaos = {}, {}
        for name in ("world_lines", "screen_lines", "world_points", "screen_flat"):
            prog = getattr(self, name)
            buf = self._buffers[name] = ctx.buffer(reserve=1 << 16, dynamic=True)
            fmt = [(buf, "3f 4f 1f", "in_pos", "in_color", "in_size")]
            if "in_size" not in prog:  # the flat program drops the unused size input
                fmt = [(buf, "3f 4f 4x", "in_pos", "in_color")]
            self._vaos[name] = ctx.vertex_array(prog, fmt)
        uv = np.array([0, 0, 1, 0, 0, 1, 1, 1], np.float32)
        self._uv = ctx.buffer(uv.tobytes())
        self._image_vao = ctx.vertex_array(self.image_prog, [(self._uv, "2f", "in_uv")])
        self._texture: moderngl.Texture | None = None
        self.camera: Camera | None = None
        self.viewport = (1, 1)

    def begin(self, camera: Camera) -> None:
        """Set the camera and the framebuffer size (camera.width x camera.height)."""
        self.camera = camera
        self.viewport = (camera.width, camera.height)
        view = np.asarray(camera.extrinsic, np.float32).T.tobytes()
        proj = np.asarray(camera.gl_projection(), np.float32).T.tobytes()
        for prog in (self.world_lines, self.world_points):
            prog["u_view"].write(view)
            prog["u_proj"].write(proj)
            prog["u_near"].value = camera.near
        for prog in (self.world_lines, self.screen_lines, self.world_points, self.screen_flat):
            if "u_viewport" in prog:
                prog["u_viewport"].value = self.viewport
        self.screen_lines["u_near"].value = 0.0

    def _state(self, depth_test: bool):
        self.ctx.enable_only(moderngl.BLEND | (moderngl.DEPTH_TEST if depth_test else 0))
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self.ctx.depth_func = "<="

    def _draw(self, name: str, data: np.ndarray, mode: int) -> None:
        if not len(data):
            return
        buf = self._buffers[name]
        buf.orphan(max(data.nbytes, buf.size))
        buf.write(data.tobytes())
        self._vaos[name].render(mode, vertices=len(data))

    def lines(self, segs: np.ndarray, width: float = 1.0, depth_test: bool = False,
              fade: tuple | None = None, screen: bool = False) -> None:
        """Segments as consecutive vertex pairs (see `vertices`)."""
        prog = self.screen_lines if screen else self.world_lines
        prog["u_width"].value = float(width)
        prog["u_fade"].value = tuple(fade) if fade is not None else (0.0, 0.0, 0.0, 0.0)
        self._state(depth_test)
        self._draw("screen_lines" if screen else "world_lines", segs, moderngl.LINES)

    def points(self, pts: np.ndarray, depth_test: bool = False) -> None:
        """Round markers; the vertex size is the diameter in pixels."""
        self._state(depth_test)
        self._draw("world_points", pts, moderngl.POINTS)

    def screen_triangles(self, tris: np.ndarray) -> None:
        self._state(False)
        self._draw("screen_flat", tris, moderngl.TRIANGLES)

    def image(self, rgb: np.ndarray, rect_px: tuple[float, float, float, float]) -> None:
        """An (H, W, 3) uint8 image (rows top-down) filling a framebuffer
        pixel rectangle (x0, y0, x1, y1), nearest-neighbour so labels stay crisp."""
        h, w = rgb.shape[:2]
        if self._texture is None or self._texture.size != (w, h):
            if self._texture is not None:
                self._texture.release()
            self._texture = self.ctx.texture((w, h), 3, dtype="f1")
            self._texture.filter = moderngl.NEAREST, moderngl.NEAREST
        self._texture.write(np.ascontiguousarray(rgb[..., :3], np.uint8).tobytes(), alignment=1)
        W, H = self.viewport
        x0, y0, x1, y1 = rect_px
        self.image_prog["u_rect"].value = (x0 / W * 2 - 1, 1 - y1 / H * 2, x1 / W * 2 - 1, 1 - y0 / H * 2)
        self._texture.use(0)
        self.image_prog["u_tex"].value = 0
        self.ctx.enable_only(0)
        self._image_vao.render(moderngl.TRIANGLE_STRIP)

    def release(self) -> None:
        for obj in [*self._vaos.values(), *self._buffers.values(), self._image_vao, self._uv, self.world_lines,
                    self.screen_lines, self.world_points, self.screen_flat, self.image_prog]:
            obj.release()
        if self._texture is not None:
            self._texture.release()
