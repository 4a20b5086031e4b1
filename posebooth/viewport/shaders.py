"""GLSL for the one renderer. GLSL 3.30 core so that the same source runs in
a headless EGL context (Mesa: 4.5 core) and in Qt's context (macOS: 4.1 core).

The vertex shader takes world positions, the camera extrinsic (world ->
OpenCV camera) and `Camera.gl_projection()` (camera -> clip): the projection
formula lives only in posebooth.scene.camera.
"""

VERTEX = """
#version 330 core
uniform mat4 u_view;   // world -> camera, OpenCV axes
uniform mat4 u_proj;   // camera -> clip, Camera.gl_projection()
in vec3 in_pos;        // world, metres
in vec3 in_normal;     // world, area-weighted vertex sum (not unit)
in uint in_id;         // part label (bits 0-7) | instance id (bits 8-15)
in vec4 in_color;      // per-person colour
out vec3 v_pos;        // camera frame
out vec3 v_normal;     // camera frame
flat out uint v_id;
flat out vec3 v_color;
void main() {
    vec4 p = u_view * vec4(in_pos, 1.0);
    v_pos = p.xyz;
    // The extrinsic is rigid, so its rotation maps normals too.
    v_normal = normalize(mat3(u_view) * in_normal);
    v_id = in_id;
    v_color = in_color.rgb;
    gl_Position = u_proj * p;
}
"""

# All passes from one draw (MRT). Location 0 is also what a caller-provided
# framebuffer (the Qt viewport's default FBO) receives; the other outputs are
# dropped there.
FRAGMENT = """
#version 330 core
uniform vec3 u_light_dir;  // unit, towards the light, camera frame
uniform float u_ambient;
in vec3 v_pos;
in vec3 v_normal;
flat in uint v_id;
flat in vec3 v_color;
layout(location = 0) out vec4 o_rgb;
layout(location = 1) out float o_depth;
layout(location = 2) out vec4 o_normal;
layout(location = 3) out uint o_part;
layout(location = 4) out uint o_instance;
void main() {
    // Faces are CCW seen from outside; with Camera.gl_projection that is
    // GL's front face, so back faces (seen from inside) flip their normal.
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    // Smooth normals near the silhouette can lean away from the camera:
    // remove the away-facing part (keeps the sideways direction, unlike a
    // flip). Rare, so the normalisation of the ray stays in the branch.
    if (dot(n, v_pos) > -1e-3 * v_pos.z) {
        vec3 ray = normalize(v_pos);
        n = normalize(n - (dot(n, ray) + 1e-3) * ray);
    }
    o_rgb = vec4(v_color * (u_ambient + (1.0 - u_ambient) * max(dot(n, u_light_dir), 0.0)), 1.0);
    o_depth = v_pos.z;   // perspective-correct: exact camera z on a plane
    o_normal = vec4(n, 0.0);
    o_part = (v_id & 255u) + 1u;
    o_instance = v_id >> 8;
}
"""

DEPTH_VERTEX = """
#version 330 core
uniform mat4 u_view;
uniform mat4 u_proj;
in vec3 in_pos;
out float v_z;
void main() {
    vec4 p = u_view * vec4(in_pos, 1.0);
    v_z = p.z;
    gl_Position = u_proj * p;
}
"""

DEPTH_FRAGMENT = """
#version 330 core
in float v_z;
layout(location = 0) out float o_depth;
void main() { o_depth = v_z; }
"""
