"""Distances from points to a triangle mesh, batched in torch (CPU or GPU).

For each point, the triangles tried are those around its k nearest mesh
vertices, and the nearest vertex itself counts as a surface point. The
result is the exact distance to the nearest of those triangles: it never
under-states the true point-to-surface distance, and equals it unless the
closest triangle touches none of the k nearest vertices (a sliver far from
every vertex, which a body mesh does not have).
"""
from __future__ import annotations

import torch

MAX_PAIRS = 1 << 24   # point-vertex distances held at once (64 MB of float32)


def vertex_faces(faces: torch.Tensor, n_vertices: int) -> torch.Tensor:
    """(V, K) long: the faces around each vertex, padded with -1."""
    faces = faces.long()
    vert = faces.reshape(-1)
    face = torch.arange(len(faces), device=faces.device).repeat_interleave(3)
    order = torch.argsort(vert, stable=True)
    vert, face = vert[order], face[order]
    count = torch.bincount(vert, minlength=n_vertices)
    width = max(1, int(count.max()) if len(vert) else 1)
    start = torch.cumsum(count, 0) - count
    slot = torch.arange(len(vert), device=faces.device) - start[vert]
    table = torch.full((n_vertices, width), -1, dtype=torch.long, device=faces.device)
    table[vert, slot] = face
    return table


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1)


def point_triangle_distance(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Distance from p to triangle abc (broadcast over leading dims): the closest
    point by Voronoi region (Ericson, Real-Time Collision Detection, 5.1.5).
    A degenerate triangle gives inf or its edges' answer, never a smaller one."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    total = va + vb + vc
    v, w = vb / total, vc / total
    q = a + ab * v[..., None] + ac * w[..., None]          # inside the face
    regions = (   # applied last-first, so the first that holds wins, as in Ericson's order
        (d1 <= 0) & (d2 <= 0), (d3 >= 0) & (d4 <= d3), (vc <= 0) & (d1 >= 0) & (d3 <= 0),
        (d6 >= 0) & (d5 <= d6), (vb <= 0) & (d2 >= 0) & (d6 <= 0),
        (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),
    )
    points = (
        lambda: a, lambda: b, lambda: a + ab * (d1 / (d1 - d3))[..., None],
        lambda: c, lambda: a + ac * (d2 / (d2 - d6))[..., None],
        lambda: b + (c - b) * ((d4 - d3) / ((d4 - d3) + (d5 - d6)))[..., None],
    )
    for mask, point in reversed(list(zip(regions, points))):
        q = torch.where(mask[..., None], point(), q)
    d = (p - q).norm(dim=-1)
    return torch.nan_to_num(d, nan=float("inf"))


def point_to_mesh_distance(points: torch.Tensor, vertices: torch.Tensor, faces: torch.Tensor,
                           table: torch.Tensor | None = None, k: int = 8) -> torch.Tensor:
    """(B, N) distances from points (B, N, 3) to the meshes (vertices (B, V, 3), shared faces (F, 3))."""
    faces = faces.long().to(vertices.device)
    table = vertex_faces(faces, vertices.shape[1]) if table is None else table.to(vertices.device)
    k = min(k, vertices.shape[1])
    out = torch.empty(points.shape[:2], dtype=points.dtype, device=points.device)
    step = max(1, MAX_PAIRS // max(1, vertices.shape[1]))
    with torch.no_grad():
        for b in range(points.shape[0]):
            verts = vertices[b]
            for lo in range(0, points.shape[1], step):
                p = points[b, lo:lo + step]
                near = torch.cdist(p, verts).topk(k, largest=False).indices            # (n, k)
                nearest = (p - verts[near[:, 0]]).norm(dim=-1)                        # exact, not cdist's
                cand = table[near].reshape(len(p), -1)                                # (n, k * K)
                tri = verts[faces[cand.clamp(min=0)]]                                 # (n, C, 3, 3)
                d = point_triangle_distance(p[:, None], tri[..., 0, :], tri[..., 1, :], tri[..., 2, :])
                d = torch.where(cand >= 0, d, torch.inf)
                out[b, lo:lo + step] = torch.minimum(d.min(dim=1).values, nearest)
    return out
