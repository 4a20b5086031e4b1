"""The rotate gizmo, Qt-free: geometry, hit testing and the drag's rotation.

Like Blender's: three rings (X red, Y green, Z blue) around the joint, in
the joint's local axes or the world's, an outer white ring turning about the
view axis, and free trackball rotation when dragging inside. The gizmo keeps
a constant size on screen. Pixel coordinates are framebuffer pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posebooth.scene.camera import Camera
from posebooth.scene.rotation import Rotation

AXIS_COLORS = ((0.95, 0.25, 0.3), (0.45, 0.85, 0.2), (0.25, 0.5, 1.0))
VIEW_RING_COLOR = (0.95, 0.95, 0.95)
VIEW_RING_SCALE = 1.22     # outer ring radius relative to the axis rings
SEGMENTS = 72
HIT_PX = 8.0               # how close to a ring a press must be (pixels, scaled by DPR)
RINGS = ("x", "y", "z")


@dataclass(frozen=True)
class Gizmo:
    center: np.ndarray     # (3,) world
    axes: np.ndarray       # (3, 3) columns: the X, Y, Z ring axes in world
    radius: float          # world radius of the axis rings
    radius_px: float

    @staticmethod
    def at(camera: Camera, center, axes, radius_px: float) -> "Gizmo":
        """A gizmo whose rings measure `radius_px` pixels on screen."""
        center = np.asarray(center, float)
        z = max(float(camera.to_camera(center)[2]), camera.near)
        return Gizmo(center, np.asarray(axes, float), radius_px * z / camera.K[0, 0], radius_px)

    def ring(self, k: int, n: int = SEGMENTS) -> np.ndarray:
        """(n + 1, 3) closed circle around axis k."""
        a = self.axes[:, k]
        u = self.axes[:, (k + 1) % 3]
        v = np.cross(a, u)
        t = np.linspace(0, 2 * np.pi, n + 1)
        return self.center + self.radius * (np.cos(t)[:, None] * u + np.sin(t)[:, None] * v)

    def view_ring(self, camera: Camera, n: int = SEGMENTS) -> np.ndarray:
        R = camera.extrinsic[:3, :3]
        t = np.linspace(0, 2 * np.pi, n + 1)
        r = self.radius * VIEW_RING_SCALE
        return self.center + r * (np.cos(t)[:, None] * R[0] + np.sin(t)[:, None] * R[1])

    def facing(self, camera: Camera, pts: np.ndarray) -> np.ndarray:
        """True for ring points on the half towards the viewer (drawn bright,
        hittable): in front of the plane through the centre facing the view
        axis, as Blender clips its rings, so a ring seen face-on stays whole."""
        back = -camera.extrinsic[2, :3]
        return (pts - self.center) @ back >= -0.02 * self.radius


def _polyline_distance(xy: np.ndarray, p: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Pixel distance from p to a projected polyline (segments whose both ends are masked in)."""
    a, b = xy[:-1], xy[1:]
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    if mask is not None:
        ok &= mask[:-1] & mask[1:]
    if not ok.any():
        return np.inf
    a, b = a[ok], b[ok]
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
    return float(np.min(np.linalg.norm(a + t[:, None] * ab - p, axis=1)))


def hit_test(g: Gizmo, camera: Camera, x: float, y: float, tol: float = HIT_PX) -> str | None:
    """'x' | 'y' | 'z' | 'view' | 'trackball' | None for a press at (x, y)."""
    p = np.array([x, y], float)
    c, _ = camera.project(g.center)
    best, best_d = None, tol
    for k, name in enumerate(RINGS):
        pts = g.ring(k)
        xy, z = camera.project(pts)
        # An edge-on ring is a line through the centre: its inner part is left
        # to the trackball, or that would be unreachable.
        outer = np.linalg.norm(xy - c, axis=1) > 0.4 * g.radius_px
        front = g.facing(camera, pts) & (z > camera.near) & outer
        d = _polyline_distance(xy, p, front)
        if d < best_d:
            best, best_d = name, d
    if best is not None:
        return best
    xy, _ = camera.project(g.view_ring(camera))
    if _polyline_distance(xy, p) < tol:
        return "view"
    if np.hypot(*(p - c)) < g.radius_px:
        return "trackball"
    return None


def _screen_angle(c: np.ndarray, p: np.ndarray) -> float:
    return float(np.arctan2(p[1] - c[1], p[0] - c[0]))


class RotationDrag:
    """World-space rotation for a drag of one gizmo handle, always measured
    from the press (so the result never drifts)."""

    def __init__(self, handle: str, gizmo: Gizmo, camera: Camera, x: float, y: float):
        self.handle, self.gizmo, self.camera = handle, gizmo, camera
        self.press = np.array([x, y], float)
        self.center_px = camera.project(gizmo.center)[0]
        R = camera.extrinsic[:3, :3]
        self.forward = R[2]
        if handle in RINGS:
            self.axis = gizmo.axes[:, RINGS.index(handle)]
        elif handle == "view":
            self.axis = self.forward
        else:
            self.axis = None
        # Rings seen nearly edge-on turn by dragging along the ring's tangent;
        # open rings follow the cursor's angle around the gizmo centre (a dial).
        self.dial = self.axis is not None and (handle == "view" or abs(self.axis @ self.forward) > 0.25)
        self.sign = 1.0 if self.axis is None or self.axis @ self.forward >= 0 else -1.0
        self._last = _screen_angle(self.center_px, self.press)
        self._screen = 0.0       # unwrapped screen angle travelled by a dial
        self.angle = 0.0         # radians about the handle's axis (trackball: about the drag's normal)
        if self.axis is not None and not self.dial:
            self.tangent_px = self._tangent_px()

    def _tangent_px(self) -> np.ndarray:
        """Screen velocity (pixels per radian) of the ring point nearest the
        eye: an edge-on ring turns by dragging across its line, the way that
        point would move, which stays well defined where the ring's own
        tangent points at the camera."""
        c = self.gizmo.center
        to_eye = self.camera.position - c
        perp = to_eye - (to_eye @ self.axis) * self.axis
        p0 = c + self.gizmo.radius * perp / max(np.linalg.norm(perp), 1e-12)
        eps = 1e-3
        p1 = c + Rotation.from_rotvec(self.axis * eps).apply(p0 - c)
        d = (self.camera.project(p1)[0] - self.camera.project(p0)[0]) / eps
        return d if np.linalg.norm(d) > 1e-6 else np.array([1.0, 0.0]) * self.gizmo.radius_px

    def rotation(self, x: float, y: float) -> np.ndarray:
        """(3, 3) world rotation for the cursor at (x, y)."""
        p = np.array([x, y], float)
        if self.axis is None:   # trackball: the front of the ball follows the mouse
            d = p - self.press
            n = np.linalg.norm(d)
            if n < 1e-9:
                return np.eye(3)
            axis_cam = np.array([d[1], -d[0], 0.0]) / n
            axis = self.camera.extrinsic[:3, :3].T @ axis_cam
            self.angle = n / max(self.gizmo.radius_px, 1.0)
            return Rotation.from_rotvec(axis * self.angle).as_matrix()
        if self.dial:
            a = _screen_angle(self.center_px, p)
            self._screen += np.remainder(a - self._last + np.pi, 2 * np.pi) - np.pi  # unwrap past +-180
            self._last = a
            self.angle = self.sign * self._screen
        else:
            t = self.tangent_px
            self.angle = float((p - self.press) @ t / (t @ t))
        return Rotation.from_rotvec(self.axis * self.angle).as_matrix()
