"""Picking, Qt-free: rays through pixels, joint markers under the cursor,
ray-mesh hits on the posed bodies (the same vertices the renderer draws).

Positions are framebuffer pixels in the camera model's convention (pixel
(i, j) covers [j, j+1) x [i, i+1)); the widget maps a Qt cursor position p
(logical) to (p + 0.5) * devicePixelRatio, the centre of the pixel under it.
"""
from __future__ import annotations

import numpy as np

from posebooth.scene.camera import Camera


def pixel_ray(camera: Camera, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """World-space ray (origin, unit direction) through pixel point (x, y)."""
    d_cam = np.linalg.solve(camera.K, np.array([x, y, 1.0]))
    R = camera.extrinsic[:3, :3]
    d = R.T @ d_cam
    return camera.position, d / np.linalg.norm(d)


def ray_plane(origin, direction, point, normal) -> np.ndarray | None:
    """Intersection of a ray with the plane through `point` with `normal`
    (None when parallel or behind the origin)."""
    denom = float(np.dot(direction, normal))
    if abs(denom) < 1e-9:
        return None
    t = float(np.dot(np.asarray(point) - origin, normal)) / denom
    return None if t < 0 else origin + t * np.asarray(direction)


def view_plane_point(camera: Camera, x: float, y: float, through) -> np.ndarray:
    """Where the ray through (x, y) meets the plane through `through` parallel
    to the image plane: the IK / move-drag target."""
    o, d = pixel_ray(camera, x, y)
    hit = ray_plane(o, d, through, camera.extrinsic[2, :3])
    return np.asarray(through, float) if hit is None else hit


def pick_joint(camera: Camera, joints: np.ndarray, x: float, y: float, radius: float = 12.0,
               slack: float = 4.0) -> int | None:
    """Index of the joint marker under (x, y), or None.

    Candidates lie within `radius` pixels and in front of the camera. Among
    those within `slack` pixels of the best screen distance the one nearest
    to the camera wins: it is the marker drawn on top, while a click right
    on a joint is never stolen by a neighbour several pixels away.
    """
    xy, z = camera.project(np.asarray(joints, float))
    dist = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
    ok = (z > camera.near) & (dist <= radius)
    if not ok.any():
        return None
    near = ok & (dist <= dist[ok].min() + slack)
    idx = np.flatnonzero(near)
    return int(idx[np.argmin(z[idx])])


def ray_mesh(origin, direction, vertices: np.ndarray, faces: np.ndarray) -> tuple[float, int] | None:
    """(distance along the ray, face index) of the nearest triangle hit
    (Moller-Trumbore, both sides), or None."""
    v = np.asarray(vertices, np.float64)
    o = np.asarray(origin, np.float64)
    d = np.asarray(direction, np.float64)
    # Cheap reject: the ray must pass within the mesh's bounding sphere.
    c = v.mean(0)
    r = np.linalg.norm(v - c, axis=1).max()
    oc = c - o
    if np.linalg.norm(oc - (oc @ d) * d) > r:
        return None
    v0, v1, v2 = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    e1, e2 = v1 - v0, v2 - v0
    p = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = o - v0
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    w = (q @ d) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    hit = ok & (u >= 0) & (w >= 0) & (u + w <= 1) & (t > 1e-6)
    if not hit.any():
        return None
    i = int(np.flatnonzero(hit)[np.argmin(t[hit])])
    return float(t[i]), i


def pick_person(camera: Camera, meshes, x: float, y: float) -> tuple[int, int] | None:
    """(index into `meshes`, face index) of the nearest body hit by the ray
    through (x, y) (each mesh with .vertices and .faces), or None."""
    o, d = pixel_ray(camera, x, y)
    best, best_t = None, np.inf
    for i, m in enumerate(meshes):
        hit = ray_mesh(o, d, m.vertices, m.faces)
        if hit is not None and hit[0] < best_t:
            best, best_t = (i, hit[1]), hit[0]
    return best
