"""Blender-like turntable navigation, Qt-free: an `OrbitView` state that
produces the same `Camera` class the renderer and the export use.

The view orbits a target point: yaw about world Y, pitch above the ground
plane, a distance and a lens. Rotation matrices are built directly from the
two angles (not through `look_at`), so top and bottom views stay well
defined with Blender's orientation (top view: screen up = -Z, the body's back).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from posebooth.scene.camera import Camera

SENSOR_MM = 36.0        # the view lens spans the larger widget side (Blender's "auto" fit)
MIN_DISTANCE = 0.05
MAX_DISTANCE = 500.0
ORBIT_RAD_PER_PX = 0.006
ZOOM_STEP = 1.2         # one wheel notch (120 units) divides/multiplies the distance by this

# name -> (yaw, pitch): numpad 1 / ctrl+1 / 3 / ctrl+3 / 7 / ctrl+7
VIEWS = {
    "front": (0.0, 0.0), "back": (math.pi, 0.0),
    "right": (math.pi / 2, 0.0), "left": (-math.pi / 2, 0.0),
    "top": (0.0, math.pi / 2), "bottom": (0.0, -math.pi / 2),
}


def _axes(yaw: float, pitch: float) -> np.ndarray:
    """Rows: camera right, down, forward in world coordinates (OpenCV axes)."""
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    back = np.array([cp * sy, sp, cp * cy])          # from the target towards the eye
    right = np.array([cy, 0.0, -sy])
    forward = -back
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


@dataclass
class OrbitView:
    target: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.9, 0.0]))
    distance: float = 4.0
    yaw: float = 0.35
    pitch: float = 0.2
    focal_mm: float = 50.0

    # -- the camera ---------------------------------------------------------
    def rotation(self) -> np.ndarray:
        return _axes(self.yaw, self.pitch)

    @property
    def position(self) -> np.ndarray:
        return np.asarray(self.target, float) - self.distance * self.rotation()[2]

    def camera(self, width: int, height: int) -> Camera:
        """The view camera for a framebuffer of width x height pixels."""
        width, height = max(int(width), 1), max(int(height), 1)
        f = self.focal_mm / SENSOR_MM * max(width, height)
        K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
        R = self.rotation()
        ext = np.eye(4)
        ext[:3, :3] = R
        ext[:3, 3] = -R @ self.position
        near = max(1e-3, self.distance * 0.005)
        return Camera(K=K, extrinsic=ext, width=width, height=height, near=near, far=max(100.0, self.distance * 50))

    def copy(self) -> "OrbitView":
        return replace(self, target=np.array(self.target, float))

    # -- navigation ---------------------------------------------------------
    def orbit(self, dx_px: float, dy_px: float) -> None:
        """Turntable: dragging right turns the view to the left around the
        target (the scene follows the mouse), dragging down looks from above."""
        self.yaw -= dx_px * ORBIT_RAD_PER_PX
        self.yaw = math.remainder(self.yaw, 2 * math.pi)
        self.pitch = float(np.clip(self.pitch + dy_px * ORBIT_RAD_PER_PX, -math.pi / 2, math.pi / 2))

    def pan(self, dx_px: float, dy_px: float, width: int, height: int) -> None:
        """Move the target so the point under the cursor follows the mouse
        (exact at the target's depth)."""
        f = self.focal_mm / SENSOR_MM * max(width, height, 1)
        R = self.rotation()
        scale = self.distance / f
        self.target = np.asarray(self.target, float) - scale * (dx_px * R[0] + dy_px * R[1])

    def zoom(self, steps: float) -> None:
        """Positive steps (wheel forward) move closer."""
        self.distance = float(np.clip(self.distance / ZOOM_STEP ** steps, MIN_DISTANCE, MAX_DISTANCE))

    def set_view(self, name: str) -> None:
        self.yaw, self.pitch = VIEWS[name]

    def frame_points(self, points, width: int, height: int, margin: float = 1.15) -> None:
        """Centre the target on the points' bounding sphere and back off so
        the sphere fits the narrower field of view."""
        pts = np.asarray(points, float).reshape(-1, 3)
        if not len(pts):
            return
        lo, hi = pts.min(0), pts.max(0)
        centre = (lo + hi) / 2
        radius = max(float(np.linalg.norm(pts - centre, axis=1).max()), 0.05)
        f = self.focal_mm / SENSOR_MM * max(width, height, 1)
        half_fov = math.atan(min(width, height) / 2 / f)
        self.target = centre
        self.distance = float(np.clip(radius * margin / math.sin(half_fov), MIN_DISTANCE, MAX_DISTANCE))

    @staticmethod
    def from_camera(camera: Camera, distance: float = 4.0) -> "OrbitView":
        """The orbit state seeing from `camera`'s position along its direction
        (roll dropped), orbiting a point `distance` ahead."""
        fwd = camera.extrinsic[2, :3]
        yaw = math.atan2(-fwd[0], -fwd[2])
        pitch = math.asin(float(np.clip(-fwd[1], -1.0, 1.0)))
        return OrbitView(target=camera.position + distance * fwd, distance=float(distance), yaw=yaw, pitch=pitch)


def fit_camera(render: Camera, width: int, height: int, fill: float = 0.9) -> tuple[Camera, tuple]:
    """Look-through-render-camera: the render camera scaled and centred in a
    width x height framebuffer. Returns the camera and the output frame's
    rectangle (x0, y0, x1, y1) in framebuffer pixels. Projection through it
    is the render camera's projection, scaled by s and offset."""
    s = fill * min(width / render.width, height / render.height)
    ox = (width - s * render.width) / 2
    oy = (height - s * render.height) / 2
    K = np.array(render.K, float) * s
    K[2, 2] = 1.0
    K[0, 2] += ox
    K[1, 2] += oy
    cam = Camera(K=K, extrinsic=np.array(render.extrinsic, float), width=int(width), height=int(height),
                 near=render.near, far=render.far)
    return cam, (ox, oy, ox + s * render.width, oy + s * render.height)
