"""The reference image behind the bodies in the camera view: where it goes
in the output frame (fit: all of it inside, letterboxed; fill: the frame
covered, the overflow cropped) and a blended textured quad drawing it.
Outside the camera view it hangs in the render camera's frustum
(`draw_in_frustum`), as Blender shows a camera's background image.
Qt-free; the Qt viewport calls these between its background and the bodies.
"""
from __future__ import annotations

import moderngl
import numpy as np

_VS = """
#version 330 core
uniform vec4 u_rect;   // left, top, right, bottom in clip space
uniform vec4 u_uv;     // u0, v0, u1, v1 (v down the image)
in vec2 in_uv;
out vec2 v_uv;
void main() {
    v_uv = mix(u_uv.xy, u_uv.zw, in_uv);
    gl_Position = vec4(mix(u_rect.x, u_rect.z, in_uv.x), mix(u_rect.y, u_rect.w, in_uv.y), 0.0, 1.0);
}
"""
_WORLD_VS = """
#version 330 core
uniform mat4 u_view;
uniform mat4 u_proj;
in vec3 in_pos;
in vec2 in_uv;
out vec2 v_uv;
void main() {
    v_uv = in_uv;
    gl_Position = u_proj * (u_view * vec4(in_pos, 1.0));
}
"""
_FS = """
#version 330 core
uniform sampler2D u_tex;
uniform float u_opacity;
in vec2 v_uv;
out vec4 o_rgb;
void main() { o_rgb = vec4(texture(u_tex, v_uv).rgb, u_opacity); }
"""


def placement(frame_rect, image_size, fit: str) -> tuple[tuple, tuple]:
    """(screen rect (x0, y0, x1, y1), texture rect (u0, v0, u1, v1)) of an
    image of `image_size` (w, h) in `frame_rect`, aspect kept."""
    x0, y0, x1, y1 = (float(v) for v in frame_rect)
    fw, fh = x1 - x0, y1 - y0
    w, h = image_size
    if fit == "fit":
        s = min(fw / w, fh / h)
        dw, dh = w * s, h * s
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return (cx - dw / 2, cy - dh / 2, cx + dw / 2, cy + dh / 2), (0.0, 0.0, 1.0, 1.0)
    s = max(fw / w, fh / h)
    cu, cv = (fw / s) / w, (fh / s) / h          # the part of the image seen
    return (x0, y0, x1, y1), ((1 - cu) / 2, (1 - cv) / 2, (1 + cu) / 2, (1 + cv) / 2)


class ReferenceLayer:
    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self.prog = ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        self._uv = ctx.buffer(np.array([0, 0, 1, 0, 0, 1, 1, 1], np.float32).tobytes())
        self._vao = ctx.vertex_array(self.prog, [(self._uv, "2f", "in_uv")])
        self._texture: moderngl.Texture | None = None
        self._key = None
        self.world_prog = ctx.program(vertex_shader=_WORLD_VS, fragment_shader=_FS)
        self._quad = ctx.buffer(reserve=4 * 5 * 4, dynamic=True)
        self._world_vao = ctx.vertex_array(self.world_prog, [(self._quad, "3f 2f", "in_pos", "in_uv")])

    def _use_texture(self, rgb: np.ndarray, prog) -> None:
        h, w = rgb.shape[:2]
        if self._key is not rgb:
            if self._texture is not None:
                self._texture.release()
            self._texture = self.ctx.texture((w, h), 3, np.ascontiguousarray(rgb).tobytes(), alignment=1)
            self._texture.filter = moderngl.LINEAR, moderngl.LINEAR
            self._texture.repeat_x = self._texture.repeat_y = False
            self._key = rgb
        self._texture.use(0)
        prog["u_tex"].value = 0

    def draw(self, rgb: np.ndarray, frame_rect, viewport_size, opacity: float, fit: str) -> None:
        """Blend `rgb` ((H, W, 3) uint8, rows top-down) over the bound
        framebuffer at `opacity`, placed in `frame_rect` (framebuffer pixels)."""
        h, w = rgb.shape[:2]
        self._use_texture(rgb, self.prog)
        (x0, y0, x1, y1), uv = placement(frame_rect, (w, h), fit)
        W, H = viewport_size
        self.prog["u_rect"].value = (x0 / W * 2 - 1, 1 - y0 / H * 2, x1 / W * 2 - 1, 1 - y1 / H * 2)
        # Texture row 0 is the image's top row: v grows down the image.
        self.prog["u_uv"].value = uv
        self.prog["u_opacity"].value = float(opacity)
        self.ctx.enable_only(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self._vao.render(moderngl.TRIANGLE_STRIP)
        self.ctx.enable_only(0)

    def draw_in_frustum(self, rgb: np.ndarray, render, view, depth: float, opacity: float, fit: str) -> None:
        """Blend `rgb` on the plane `depth` metres in front of the `render`
        camera (scene.camera.Camera), seen by the `view` camera: where the
        output frame is at that depth, placed by `fit` as in the camera view."""
        h, w = rgb.shape[:2]
        self._use_texture(rgb, self.world_prog)
        (x0, y0, x1, y1), (u0, v0, u1, v1) = placement((0, 0, render.width, render.height), (w, h), fit)
        px = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], float)
        cam = px @ np.linalg.inv(render.K).T * depth            # z = depth
        R, t = render.extrinsic[:3, :3], render.extrinsic[:3, 3]
        world = (cam - t) @ R                                    # R^T (x - t)
        uv = np.array([[u0, v0], [u1, v0], [u0, v1], [u1, v1]], float)
        self._quad.write(np.hstack([world, uv]).astype(np.float32).tobytes())
        self.world_prog["u_view"].write(np.asarray(view.extrinsic, np.float32).T.tobytes())
        self.world_prog["u_proj"].write(np.asarray(view.gl_projection(), np.float32).T.tobytes())
        self.world_prog["u_opacity"].value = float(opacity)
        self.ctx.enable_only(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self._world_vao.render(moderngl.TRIANGLE_STRIP)
        self.ctx.enable_only(0)

    def release(self) -> None:
        for obj in (self._vao, self._uv, self.prog, self._world_vao, self._quad, self.world_prog, self._texture):
            if obj is not None:
                obj.release()
        self._texture = self._key = None
