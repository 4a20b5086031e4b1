"""GLSL for the one renderer. GLSL 3.30 core so that the same source runs in
a headless EGL context (Mesa: 4.5 core) and in Qt's context (macOS: 4.1 core).

The vertex shader takes world positions, the camera extrinsic (world ->
OpenCV camera) and `Camera.gl_projection()` (camera -> clip): the projection
formula lives only in posebooth.scene.camera.
"""

# Per-vertex work dominates on a software rasteriser, so the vertex stage
# carries the least it can: position, plus the normal and part label only
# when a requested pass needs them. The rgb pass gets the Lambert term
# dot(normal, light), one interpolated value instead of a normal (the
# normal pass keeps per-pixel normals). Colour and instance id are per-draw
# uniforms, and depth comes from gl_FragCoord.w. `program_sources` builds
# the variant for a set of passes (the #if blocks below).
VERTEX = """
uniform mat4 u_view;   // world -> camera, OpenCV axes
uniform mat4 u_proj;   // camera -> clip, Camera.gl_projection()
in vec3 in_pos;        // world, metres
#if NEED_NORMAL || NEED_SHADE
in vec3 in_normal;     // world, area-weighted vertex sum (not unit)
#endif
#if NEED_NORMAL
out vec3 v_normal;     // camera frame, unit at the vertices
#endif
#if NEED_SHADE
uniform vec3 u_light_dir;  // unit, towards the light, camera frame
out float v_lambert;       // dot(normal, light) of the outward normal
#endif
#if NEED_PART
in uint in_part;       // SMPL part label 0..23
flat out uint v_part;
#endif
void main() {
#if NEED_NORMAL || NEED_SHADE
    // The extrinsic is rigid, so its rotation maps normals too.
    vec3 n_cam = normalize(mat3(u_view) * in_normal);
#endif
#if NEED_NORMAL
    v_normal = n_cam;
#endif
#if NEED_SHADE
    v_lambert = dot(n_cam, u_light_dir);
#endif
#if NEED_PART
    v_part = in_part;
#endif
    gl_Position = u_proj * (u_view * vec4(in_pos, 1.0));
}
"""

# The requested passes from one draw (MRT), each output at the location of
# its pass in the requested set. For a caller-provided framebuffer (the Qt
# viewport's default FBO) the set is just rgb, at location 0.
FRAGMENT = """
uniform float u_ambient;
uniform vec3 u_color;      // this person's colour
uniform uint u_instance;   // this person's instance id
uniform mat3 u_ray;        // window (x, y, 1) -> camera ray with z = 1
#if NEED_NORMAL
in vec3 v_normal;
#endif
#if NEED_SHADE
in float v_lambert;
#endif
#if NEED_PART
flat in uint v_part;
#endif
@OUTPUTS@
void main() {
#if NEED_NORMAL
    // Faces are CCW seen from outside; with Camera.gl_projection that is
    // GL's front face, so back faces (seen from inside) flip their normal.
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    // Smooth normals near the silhouette can lean away from the camera:
    // remove the away-facing part (keeps the sideways direction, unlike a
    // flip). `ray` has z = 1, so this is dot(n, point) > -1e-3 * z.
    vec3 ray = u_ray * vec3(gl_FragCoord.xy, 1.0);
    if (dot(n, ray) > -1e-3) {
        vec3 d = normalize(ray);
        n = normalize(n - (dot(n, d) + 1e-3) * d);
    }
#endif
@ASSIGNMENTS@
}
"""

# Pass name -> (output declaration, assignment).
OUTPUTS = {
    "rgb": ("vec4 o_rgb",
            "o_rgb = vec4(u_color * (u_ambient + (1.0 - u_ambient) * max(gl_FrontFacing ? v_lambert : -v_lambert, 0.0)), 1.0);"),
    # Clip w is camera z and GL interpolates 1/w perspective-correctly:
    # exact camera z on a plane, with no interpolated output of our own.
    "depth": ("float o_depth", "o_depth = 1.0 / gl_FragCoord.w;"),
    "normal": ("vec4 o_normal", "o_normal = vec4(n, 0.0);"),
    "parts": ("uint o_part", "o_part = v_part + 1u;"),
    "instance": ("uint o_instance", "o_instance = u_instance;"),
}


def needs_normals(passes) -> bool:
    """Whether the vertex normals are an input (the normal pass, and rgb's
    Lambert term)."""
    return "rgb" in passes or "normal" in passes


def program_sources(passes: tuple[str, ...]) -> tuple[str, str]:
    """(vertex, fragment) GLSL writing `passes` (names of OUTPUTS) to
    locations 0, 1, ... in that order."""
    head = (f"#version 330 core\n#define NEED_NORMAL {int('normal' in passes)}\n"
            f"#define NEED_SHADE {int('rgb' in passes)}\n"
            f"#define NEED_PART {int('parts' in passes)}\n")
    decl = "\n".join(f"layout(location = {k}) out {OUTPUTS[p][0]};" for k, p in enumerate(passes))
    assign = "\n".join(f"    {OUTPUTS[p][1]}" for p in passes)
    return head + VERTEX, head + FRAGMENT.replace("@OUTPUTS@", decl).replace("@ASSIGNMENTS@", assign)
