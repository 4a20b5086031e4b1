"""The same view at another image size. K is scaled per axis, which maps
the continuous pixel rectangle [0, W) x [0, H) onto [0, w) x [0, h)
(FORMAT.md's pixel convention), so it holds for explicit intrinsics too."""
from __future__ import annotations

import numpy as np

from posebooth.scene.camera import Camera

STRIDE = 8  # width and height of a generation request must be multiples of the VAE's stride


def generation_size(width: int, height: int, scale: float = 1.0) -> tuple[int, int]:
    """(W, H) scaled, rounded down to multiples of 8 (at least 8): what the model can take."""
    snap = lambda v: max(STRIDE, int(v * scale) // STRIDE * STRIDE)  # noqa: E731
    return snap(width), snap(height)


def camera_at_size(camera: Camera, width: int, height: int) -> Camera:
    """`camera` seeing the same view on a width x height image."""
    if (width, height) == (camera.width, camera.height):
        return camera
    K = np.diag([width / camera.width, height / camera.height, 1.0]) @ camera.K
    return Camera(K=K, extrinsic=camera.extrinsic, width=int(width), height=int(height), near=camera.near,
                  far=camera.far)


def with_size(scene, size: tuple[int, int] | None):
    """A copy of the scene rendered at size (W, H). A lens camera keeps its
    focal length in mm (the sensor spans the width, so the horizontal field
    of view is kept); explicit intrinsics are scaled per axis, as above."""
    if size is None:
        return scene
    scene = scene.model_copy(deep=True)
    cam = scene.camera
    W, H = int(size[0]), int(size[1])
    if cam.intrinsics is not None:
        sx, sy = W / cam.width, H / cam.height
        i = cam.intrinsics
        cam.intrinsics = type(i)(fx=i.fx * sx, fy=i.fy * sy, cx=i.cx * sx, cy=i.cy * sy)
    cam.width, cam.height = W, H
    return scene
