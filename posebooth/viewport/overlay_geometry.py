"""What the viewport draws on top of the bodies, as overlay vertex arrays
(Qt-free): ground grid, skeleton, gizmo, render-camera frustum, the output
frame with its passepartout. `Overlays` in overlays.py draws them."""
from __future__ import annotations

import numpy as np

from posebooth.assets.smpl_skeleton import BONES
from posebooth.scene.camera import Camera
from posebooth.viewport.gizmo import AXIS_COLORS, VIEW_RING_COLOR, VIEW_RING_SCALE, Gizmo
from posebooth.viewport.overlays import Overlays, vertices

GRID_HALF = 10.0          # metres: the grid's radius around the view target
GRID_STEP = 0.5
BONE_COLOR = (0.55, 0.75, 1.0, 0.9)
JOINT_COLOR = (0.85, 0.92, 1.0, 1.0)
SELECTED_COLOR = (1.0, 0.6, 0.1, 1.0)
FRUSTUM_COLOR = (0.1, 0.1, 0.1, 0.9)


def _segments(a: np.ndarray, b: np.ndarray, colors_a, colors_b=None) -> np.ndarray:
    """Interleave segment ends a[i] - b[i] into consecutive vertex pairs."""
    n = len(a)
    pts = np.empty((2 * n, 3))
    pts[0::2], pts[1::2] = a, b
    ca = np.broadcast_to(np.asarray(colors_a, np.float32), (n, 4))
    cb = ca if colors_b is None else np.broadcast_to(np.asarray(colors_b, np.float32), (n, 4))
    cols = np.empty((2 * n, 4), np.float32)
    cols[0::2], cols[1::2] = ca, cb
    return vertices(pts, cols)


def polyline(pts: np.ndarray, colors) -> np.ndarray:
    cols = np.broadcast_to(np.asarray(colors, np.float32), (len(pts), 4))
    return _segments(pts[:-1], pts[1:], cols[:-1], cols[1:])


def draw_grid(ov: Overlays, fade_center) -> None:
    """Ground plane (y = 0) lines every 0.5 m, metre lines stronger, the X
    axis red and the Z axis blue, fading out with distance from the view
    target. Lines stop at the fade circle: a software rasteriser pays for
    every pixel covered, invisible ones too."""
    c = np.round(np.asarray(fade_center, float) / GRID_STEP) * GRID_STEP   # snapped: lines do not swim
    ticks = np.arange(-GRID_HALF, GRID_HALF + 1e-9, GRID_STEP)[1:-1]
    half = np.sqrt(GRID_HALF ** 2 - ticks ** 2)
    runs = []
    for axis, axis_color in ((0, (0.3, 0.5, 1.0, 0.85)), (2, (0.9, 0.3, 0.35, 0.85))):
        other = 2 - axis                      # lines of constant x (along Z), then constant z (along X)
        at = c[axis] + ticks
        a, b = np.zeros((len(ticks), 3)), np.zeros((len(ticks), 3))
        a[:, axis] = b[:, axis] = at
        a[:, other], b[:, other] = c[other] - half, c[other] + half
        alpha = np.where(np.isclose(np.round(at), at), 0.32, 0.16)
        colors = np.concatenate([np.full((len(ticks), 3), 0.75), alpha[:, None]], 1)
        colors[np.isclose(at, 0.0)] = axis_color
        runs.append(_segments(a, b, colors))
    ov.lines(np.concatenate(runs), width=1.0, fade=(c[0], 0.0, c[2], GRID_HALF))


def draw_skeleton(ov: Overlays, joints: np.ndarray, selected: int | None, marker_px: float,
                  scale: float = 1.0) -> None:
    """Bones and joint markers on top of the mesh (like Blender's in-front bones)."""
    j = np.asarray(joints, float)
    par = np.array([p for p, _ in BONES])
    chi = np.array([c for _, c in BONES])
    cols = np.tile(np.asarray(BONE_COLOR, np.float32), (len(BONES), 1))
    if selected is not None:
        cols[par == selected] = SELECTED_COLOR   # the bones the selected joint turns (to its children)
    ov.lines(_segments(j[par], j[chi], cols), width=2.5 * scale)
    sizes = np.full(len(j), marker_px)
    colors = np.tile(np.asarray(JOINT_COLOR, np.float32), (len(j), 1))
    if selected is not None:
        sizes[selected] *= 1.4
        colors[selected] = SELECTED_COLOR
    order = np.argsort([i == selected for i in range(len(j))], kind="stable")  # selected drawn last
    ov.points(vertices(j[order], colors[order], sizes[order]))


def draw_gizmo(ov: Overlays, g: Gizmo, camera: Camera, hover: str | None, active: str | None,
               scale: float = 1.0) -> None:
    """Rings: the half facing the camera bright, the back half faint; the
    handle under the cursor or being dragged drawn thicker."""
    for k, name in enumerate(("x", "y", "z")):
        if active is not None and active != name:
            continue
        pts = g.ring(k)
        front = g.facing(camera, pts)
        alpha = np.where(front, 1.0, 0.22)
        cols = np.concatenate([np.tile(AXIS_COLORS[k], (len(pts), 1)), alpha[:, None]], 1)
        ov.lines(polyline(pts, cols), width=(3.5 if name in (hover, active) else 2.2) * scale)
    if active in (None, "view"):
        ring = g.view_ring(camera)
        ov.lines(polyline(ring, (*VIEW_RING_COLOR, 0.85)), width=(3.0 if "view" in (hover, active) else 1.6) * scale)
    if active in (None, "trackball"):
        # A faint disc rim marks the trackball area.
        ring = g.center + (g.view_ring(camera) - g.center) / VIEW_RING_SCALE
        a = 0.35 if "trackball" in (hover, active) else 0.12
        ov.lines(polyline(ring, (1.0, 1.0, 1.0, a)), width=1.0 * scale)


def frustum_segments(render: Camera, depth: float) -> np.ndarray:
    """The render camera drawn as a pyramid reaching `depth` metres, with
    Blender's triangle over the top edge saying which way is up."""
    W, H = render.width, render.height
    corners_px = np.array([[0, 0], [W, 0], [W, H], [0, H]], float)
    Kinv = np.linalg.inv(render.K)
    R = render.extrinsic[:3, :3]
    eye = render.position

    def world(px):
        d = Kinv @ np.array([px[0], px[1], 1.0])
        return eye + R.T @ (d * depth)
    c = np.array([world(p) for p in corners_px])
    tri = np.array([world(p) for p in ([W * 0.3, 0], [W * 0.7, 0])])
    apex = world([W * 0.5, -0.25 * W])
    a = np.concatenate([np.repeat(eye[None], 4, 0), c, tri, tri[:1]])
    b = np.concatenate([c, np.roll(c, -1, 0), [apex, apex], tri[1:]])
    return _segments(a, b, FRUSTUM_COLOR)


def draw_frame(ov: Overlays, rect, size, scale: float = 1.0) -> None:
    """Look-through mode: darken outside the output frame, outline it."""
    x0, y0, x1, y1 = rect
    W, H = size
    shade = (0.0, 0.0, 0.0, 0.45)
    quads = [(0, 0, W, y0), (0, y1, W, H), (0, y0, x0, y1), (x1, y0, W, y1)]
    tris = []
    for a0, b0, a1, b1 in quads:
        tris += [[a0, b0, 0], [a1, b0, 0], [a1, b1, 0], [a0, b0, 0], [a1, b1, 0], [a0, b1, 0]]
    ov.screen_triangles(vertices(np.array(tris, float), shade))
    box = np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0], [x0, y0, 0]], float)
    ov.lines(polyline(box, (0.95, 0.95, 0.95, 0.9)), width=1.5 * scale, screen=True)


def draw_box(ov: Overlays, lo, hi, width: float = 1.5) -> None:
    """The 12 edges of an axis-aligned box (a selected prop's bounds)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    c = np.array([[hi[0] if i & 1 else lo[0], hi[1] if i & 2 else lo[1], hi[2] if i & 4 else lo[2]]
                  for i in range(8)])
    edges = [(i, i | b) for i in range(8) for b in (1, 2, 4) if not i & b]
    ov.lines(_segments(c[[a for a, _ in edges]], c[[b for _, b in edges]], SELECTED_COLOR), width=width)
