"""Prop geometry: a scene.props.Prop -> its triangle mesh in world
coordinates, as the renderer, picking and the annotations use it.

Primitives come from trimesh.creation; mesh files (OBJ, GLB, PLY) are read
with the one bounded reader (files.safe_read) and parsed by trimesh from
those bytes. Any bad file is one PropMeshError line naming the file and
what is wrong. Local geometry is cached by (kind, size) or (path, sha256),
and so are the world meshes by placement: the renderer re-uploads topology
only when it gets a new faces array, so an unchanged prop keeps its arrays.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

import numpy as np

from posebooth.files.safe_read import UserFileError, read_user_file
from posebooth.scene.props import FileRef, Prop
from posebooth.scene.rotation import Rotation

MAX_MESH_BYTES = 256 * 1024 * 1024
MAX_MESH_FACES = 2_000_000
MAX_MESH_COORD = 10_000.0         # metres, as the scene's coordinates
MESH_TYPES = {".obj": "obj", ".glb": "glb", ".ply": "ply"}
PROP_PART = 24                    # part label of prop vertices: the parts pass shows 25 (FORMAT.md)
_CACHE_SIZE = 64


class PropMeshError(ValueError):
    """A prop's mesh file cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class PropMesh:
    """One prop, placed: what render_meshes draws after the people."""

    index: int                 # position in scene.props
    name: str
    instance_id: int           # number of people + index + 1 (FORMAT.md)
    vertices: np.ndarray       # (V, 3) float32 world, metres
    faces: np.ndarray          # (F, 3) int32
    part_labels: np.ndarray    # (V,) uint8, all PROP_PART
    color: tuple[float, float, float]
    in_depth: bool


def prop_transform(prop: Prop) -> np.ndarray:
    """4x4 local -> world: translate(position) . rotate(rotation) . scale(scale)."""
    m = np.eye(4)
    m[:3, :3] = Rotation.from_rotvec(prop.rotation).as_matrix() * np.asarray(prop.scale, float)
    m[:3, 3] = prop.position
    return m


def _primitive(kind: str, size) -> tuple[np.ndarray, np.ndarray]:
    """Local geometry of a primitive: base centred on the origin, on y = 0."""
    import trimesh

    w, h, d = (float(s) for s in size)
    if kind == "cylinder":
        mesh = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=48)   # axis z, centred
        mesh.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
        mesh.apply_scale([w, h, d])
    else:   # box, plane (a thin upright wall), seat block
        mesh = trimesh.creation.box(extents=(w, h, d))
    v = np.asarray(mesh.vertices, np.float64) + [0.0, h / 2, 0.0]
    return v, np.asarray(mesh.faces, np.int64)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mesh_type(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in MESH_TYPES:
        raise PropMeshError(f"{path}: not a mesh file PoseBooth reads (use {', '.join(MESH_TYPES)})")
    return MESH_TYPES[ext]


def parse_mesh(data: bytes, path: str) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) of an OBJ/GLB/PLY file's bytes (a GLB scene is
    flattened with its node transforms). Bad content: PropMeshError."""
    import trimesh

    kind = _mesh_type(path)
    try:
        mesh = trimesh.load(io.BytesIO(data), file_type=kind, force="mesh", process=False)
    except Exception as exc:  # trimesh and its parsers raise anything on garbage
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise PropMeshError(f"{path}: not a readable {kind.upper()} mesh ({reason})") from None
    if not isinstance(mesh, trimesh.Trimesh):
        raise PropMeshError(f"{path}: holds no triangle mesh")
    v = np.asarray(mesh.vertices, np.float64)
    f = np.asarray(mesh.faces, np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or not len(f):
        raise PropMeshError(f"{path}: holds no triangles")
    if len(f) > MAX_MESH_FACES:
        raise PropMeshError(f"{path}: {len(f)} triangles is more than the {MAX_MESH_FACES} a prop may have")
    if v.ndim != 2 or v.shape[1] != 3 or not np.isfinite(v).all():
        raise PropMeshError(f"{path}: vertex coordinates must be finite numbers")
    if np.abs(v).max() > MAX_MESH_COORD:
        raise PropMeshError(f"{path}: a vertex lies {np.abs(v).max():.3g} m out; at most "
                            f"{MAX_MESH_COORD:g} m is allowed")
    if f.min() < 0 or f.max() >= len(v):
        raise PropMeshError(f"{path}: a face refers to a vertex that does not exist")
    return v, f


def read_mesh_file(path: str | os.PathLike) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The file's bytes and its (vertices, faces), bounded; PropMeshError."""
    shown = os.fsdecode(path)
    _mesh_type(shown)
    try:
        data = read_user_file(path, "mesh file", MAX_MESH_BYTES)
    except UserFileError as e:
        raise PropMeshError(str(e)) from None
    return (data, *parse_mesh(data, shown))


def import_mesh_prop(path: str | os.PathLike, name: str | None = None) -> Prop:
    """A mesh prop for a file (checked now, stored as absolute path + sha256)."""
    data, _, _ = read_mesh_file(path)
    full = os.path.abspath(os.fsdecode(path))
    return Prop(name=name or os.path.splitext(os.path.basename(full))[0][:200] or "Mesh", kind="mesh",
                mesh=FileRef(path=full, sha256=sha256_of(data)), size=[1.0, 1.0, 1.0])


_LOCAL: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_WORLD: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _remember(cache: dict, key, value):
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def local_geometry(prop: Prop) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices float64, faces int32, part labels uint8) in the prop's own frame."""
    if prop.kind == "mesh":
        key = ("mesh", prop.mesh.path, prop.mesh.sha256)
    else:
        key = (prop.kind, tuple(prop.size))
    hit = _LOCAL.get(key)
    if hit is not None:
        return hit
    if prop.kind == "mesh":
        data, v, f = read_mesh_file(prop.mesh.path)
        if sha256_of(data) != prop.mesh.sha256:
            raise PropMeshError(f"{prop.mesh.path}: the file changed since it was added to the scene "
                                f"(its sha256 differs); import it again")
    else:
        v, f = _primitive(prop.kind, prop.size)
    labels = np.full(len(v), PROP_PART, np.uint8)
    return _remember(_LOCAL, key, (v, np.ascontiguousarray(f, np.int32), labels))


def place_prop(prop: Prop, index: int, instance_id: int) -> PropMesh:
    """The prop's world mesh (PropMeshError for a bad mesh file)."""
    v, f, labels = local_geometry(prop)
    key = (id(f), tuple(prop.position), tuple(prop.rotation), tuple(prop.scale))
    hit = _WORLD.get(key)
    if hit is None or hit[1] is not f:
        m = prop_transform(prop)
        hit = _remember(_WORLD, key, ((v @ m[:3, :3].T + m[:3, 3]).astype(np.float32), f))
    return PropMesh(index, prop.name, instance_id, hit[0], f, labels, tuple(prop.color), prop.in_depth)


def scene_props(scene, on_error=None) -> list[PropMesh]:
    """Every prop of `scene` placed, instance ids after the people's. A bad
    mesh file raises PropMeshError, or, with `on_error`, is reported to it
    (the message) and left out (the viewport keeps drawing the rest)."""
    out = []
    first = len(scene.people) + 1
    for i, prop in enumerate(scene.props):
        try:
            out.append(place_prop(prop, i, first + i))
        except PropMeshError as exc:
            if on_error is None:
                raise
            on_error(str(exc))
    return out


def prop_records(scene) -> list[dict]:
    """dataset.json's `props` (FORMAT.md): one entry per prop, in scene order."""
    out = []
    for q, prop in zip(scene_props(scene), scene.props):
        out.append({
            "index": q.index, "name": q.name, "kind": prop.kind, "instance_id": q.instance_id,
            "in_depth": q.in_depth, "size": list(prop.size),
            "world_from_prop": prop_transform(prop).round(9).tolist(),
            "bounds": [q.vertices.min(0).astype(float).round(6).tolist(),
                       q.vertices.max(0).astype(float).round(6).tolist()],
            "mesh": None if prop.mesh is None else {"file": os.path.basename(prop.mesh.path),
                                                    "sha256": prop.mesh.sha256},
        })
    return out
