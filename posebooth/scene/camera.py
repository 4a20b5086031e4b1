"""The one pinhole camera model (FORMAT.md): OpenCV axes, K in pixels,
pixel (row i, col j) covering [j, j+1) x [i, i+1) with its centre at
(j + 0.5, i + 0.5). Rendering, joint projection and annotation all use
`Camera.project` / `Camera.gl_projection` from here: no second formula.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORLD_UP = np.array([0.0, 1.0, 0.0])


def focal_px(focal_mm: float, sensor_width_mm: float, width: int) -> float:
    """Focal length in pixels; the sensor width spans the image width."""
    return focal_mm / sensor_width_mm * width


def look_at(position, target, roll: float = 0.0) -> np.ndarray:
    """World -> camera 4x4 (OpenCV axes: x right, y down, z towards target).

    `roll` (radians) turns the camera about its viewing axis, clockwise in the
    image for positive values. Looking straight up or down falls back to +Z as
    the reference 'up' so the matrix stays defined.
    """
    position = np.asarray(position, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - position
    norm = np.linalg.norm(forward)
    if norm < 1e-12:
        raise ValueError("camera position and target coincide")
    forward /= norm
    up = WORLD_UP if abs(forward @ WORLD_UP) < 0.999 else np.array([0.0, 0.0, 1.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    c, s = np.cos(roll), np.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    R = np.stack([right, down, forward])  # rows: camera axes in world coordinates
    ext = np.eye(4)
    ext[:3, :3] = R
    ext[:3, 3] = -R @ position
    return ext


@dataclass(frozen=True)
class Camera:
    """An evaluated camera at one frame: what renderers and annotators take."""

    K: np.ndarray          # (3, 3) float64, pixels
    extrinsic: np.ndarray  # (4, 4) float64, world -> camera
    width: int
    height: int
    near: float = 0.05
    far: float = 100.0

    @staticmethod
    def from_look_at(position, target, roll: float, width: int, height: int,
                     focal_mm: float = 50.0, sensor_width_mm: float = 36.0) -> "Camera":
        f = focal_px(focal_mm, sensor_width_mm, width)
        K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
        return Camera(K=K, extrinsic=look_at(position, target, roll), width=width, height=height)

    @property
    def position(self) -> np.ndarray:
        R, t = self.extrinsic[:3, :3], self.extrinsic[:3, 3]
        return -R.T @ t

    def to_camera(self, points_world: np.ndarray, dtype=np.float64) -> np.ndarray:
        """(..., 3) world points -> camera frame (z = depth, metres), computed
        in `dtype` (float32 for mesh vertices, where float64 would only cost)."""
        p = np.asarray(points_world, dtype=dtype)
        flat = p.reshape(-1, 3)
        # R @ P^T: numpy's (N, 3) @ (3, 3) is ~3x slower for the same sums.
        out = (self.extrinsic[:3, :3].astype(dtype) @ flat.T).T + self.extrinsic[:3, 3].astype(dtype)
        return out.reshape(p.shape)

    def depth_of(self, points_world: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Camera z of (..., 3) world points (to_camera's last column, alone)."""
        p = np.asarray(points_world, dtype=dtype)
        return p @ self.extrinsic[2, :3].astype(dtype) + self.extrinsic[2, 3].astype(dtype)

    def project_camera(self, points_cam: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points -> (..., 2) pixel coordinates (x, y)."""
        p = np.asarray(points_cam, dtype=np.float64)
        z = p[..., 2:3]
        uvw = p @ self.K.T
        with np.errstate(divide="ignore", invalid="ignore"):
            return uvw[..., :2] / z

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points -> (pixel xy (..., 2), camera z (...))."""
        cam = self.to_camera(points_world)
        return self.project_camera(cam), cam[..., 2]

    def inside_image(self, xy: np.ndarray, z: np.ndarray) -> np.ndarray:
        """In front of the camera and within [0, W) x [0, H)."""
        return (z > 0) & (xy[..., 0] >= 0) & (xy[..., 0] < self.width) & \
            (xy[..., 1] >= 0) & (xy[..., 1] < self.height)

    def gl_projection(self) -> np.ndarray:
        """The single conversion to GL clip space (4x4, applied to camera-frame
        points, column vectors). NDC x = -1 is pixel x = 0, NDC y = +1 is image
        row 0, so a framebuffer read bottom-up must be flipped to rows-down.
        Clip w = camera z, so interpolated 1/w gives perspective-correct depth.
        """
        W, H, n, f = self.width, self.height, self.near, self.far
        fx, fy, cx, cy, s = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2], self.K[0, 1]
        return np.array([
            [2 * fx / W, 2 * s / W, 2 * cx / W - 1, 0.0],
            [0.0, -2 * fy / H, -(2 * cy / H - 1), 0.0],
            [0.0, 0.0, (f + n) / (f - n), -2 * f * n / (f - n)],
            [0.0, 0.0, 1.0, 0.0],
        ])
