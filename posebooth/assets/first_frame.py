"""The start scene's first frame, posed, kept on disk so that a warm start can
draw it before the body model is built.

Building the body (importing torch, loading anny) is about half of a warm
start. The app's start scene is usually the same from one start to the next
(a new scene, or the file named on the command line), so once its first frame
has been posed, the meshes are kept here and the next start shows them at
once while the body builds behind the drawn window. The camera, the prompt,
the props and the generation settings are not part of a posed person, so a
start scene whose prompt or camera changed still starts on its kept frame.

A kept frame is used only when it is exactly what posing would give now: its
key covers the scene's people (their whole JSON: bodies, keys, grounding,
names, colours), the frame, PoseBooth's posing and scene
code, the installed anny, torch, warp and numpy, and anny's model data. Only
anny bodies are kept (the SMPL family reads the user's own model files). A
kept file is a plain .npz (no pickle), read with a size bound and checked
array by array; anything unexpected is a miss, never an error. The few newest
files are kept, the rest deleted; a cache folder that cannot be written just
means no file is kept.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posebooth.assets.cache import ANNY_COMPACT_DATA, anny_cache_dir, cache_dir
from posebooth.assets.posing import PosedPerson, grounded_pose
from posebooth.files.atomic import atomic_write_bytes
from posebooth.files.safe_read import UserFileError, read_user_file
from posebooth.scene.model import Scene
from posebooth.scene.tracks import pose_at

FOLDER = "first_frame"
FORMAT = 1
KEEP = 4                       # newest files kept (several start scenes in turn)
MAX_PEOPLE = 16
MAX_BYTES = 64 << 20           # 16 people of anny at float32 are ~10 MB
_PACKAGES = ("anny", "torch", "warp", "numpy")
_CODE = (Path(__file__).parent, Path(__file__).parents[1] / "scene")   # what a posed mesh comes from

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class KeptBody:
    """What drawing a posed person reads of its body, kept with the frame.
    Anything else (posing, rest joints) is asked of the real body, which
    waits for it to be built."""

    spec: object               # scene.model.BodySpec, to find the real body
    name: str
    version: str
    faces: np.ndarray
    part_labels: np.ndarray
    shape_names: tuple[str, ...]
    default_shape: np.ndarray
    expression_names: tuple[str, ...]

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        from posebooth.assets.registry import get_body
        return getattr(get_body(self.spec), attr)


def _stat_text(path: Path) -> str:
    try:
        st = path.stat()
        return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return f"{path.name}:missing"


def _environment() -> list[str]:
    """What a posed mesh depends on besides the scene (cheap: stats, no imports)."""
    from posebooth import __version__
    parts = [f"format {FORMAT}", f"posebooth {__version__}"]
    for name in _PACKAGES:
        spec = importlib.util.find_spec(name)
        parts.append(f"{name} " + (_stat_text(Path(spec.origin)) if spec and spec.origin else "missing"))
    for folder in _CODE:
        parts += [_stat_text(p) for p in sorted(folder.glob("*.py"))]
    try:
        parts += [_stat_text(p) for p in sorted(anny_cache_dir().rglob(ANNY_COMPACT_DATA))]
    except OSError:
        parts.append("anny cache unreadable")
    return parts


def people_json(scene: Scene) -> str:
    """What of a scene its posed people come from: the people, whole."""
    return scene.model_dump_json(include={"people"})


def frame_key(scene: Scene, frame: float) -> str | None:
    """The key of `scene` posed at `frame`, or None when such a frame is not
    kept (no people, too many, or a body other than anny)."""
    people = scene.people
    if not people or len(people) > MAX_PEOPLE or any(p.body.model != "anny" for p in people):
        return None
    digest = hashlib.sha256()
    for part in (*_environment(), f"frame {float(frame)!r}", people_json(scene)):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / FOLDER / f"{key[:40]}.npz"


def save(scene: Scene, frame: float, posed) -> Path | None:
    """Keep `posed` (pose_people(scene, frame)) for the next start. Never
    raises: a frame that cannot be kept is only logged."""
    key = frame_key(scene, frame)
    if key is None or len(posed) != len(scene.people):
        return None
    body = posed[0].body
    if any(p.body is not body for p in posed):
        return None
    arrays = {"key": np.array(key), "faces": body.faces, "part_labels": body.part_labels,
              "default_shape": body.default_shape,
              "meta": np.array(json.dumps({"name": body.name, "version": body.version,
                                           "shape_names": list(body.shape_names),
                                           "expression_names": list(getattr(body, "expression_names", ()))}))}
    for p in posed:
        arrays[f"vertices{p.index}"], arrays[f"joints{p.index}"] = p.vertices, p.joints
        arrays[f"coco17{p.index}"], arrays[f"shape{p.index}"] = p.coco17, p.shape
        arrays[f"ground{p.index}"] = np.float64(p.ground_offset)
        if p.hand21 is not None:
            arrays[f"hand21{p.index}"] = p.hand21
    path = _path(key)
    try:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getbuffer(), fsync=False)
        _prune(path.parent)
    except (OSError, ValueError) as e:
        logger.info("the first frame is not kept for the next start: %s", e)
        return None
    return path


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)


def load(scene: Scene, frame: float) -> list[PosedPerson] | None:
    """The kept posed people of `scene` at `frame`, or None (never raises)."""
    key = frame_key(scene, frame)
    if key is None:
        return None
    path = _path(key)
    try:
        data = read_user_file(path, "kept first frame", MAX_BYTES)
    except UserFileError:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            people = _unpack(dict(npz.items()), key, scene, frame)
    except Exception as e:  # noqa: BLE001 - any damage to a cache file is a miss
        logger.info("%s: not used (%s)", path, e)
        return None
    try:
        os.utime(path)   # the newest are the ones kept
    except OSError:
        pass
    return people


def _array(arrays: dict, name: str, dtype, shape: tuple) -> np.ndarray:
    a = arrays[name]
    if a.dtype != dtype or len(a.shape) != len(shape) or any(s not in (-1, n) for s, n in zip(shape, a.shape)):
        raise ValueError(f"{name}: {a.dtype}{a.shape}, expected {np.dtype(dtype)}{shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name}: not finite")
    return a


def _unpack(arrays: dict, key: str, scene: Scene, frame: float) -> list[PosedPerson]:
    if str(arrays["key"]) != key:
        raise ValueError("another frame's file")
    meta = json.loads(str(arrays["meta"]))
    faces = _array(arrays, "faces", np.int32, (-1, 3))
    labels = _array(arrays, "part_labels", np.uint8, (-1,))
    n_vertices = len(labels)
    if faces.size and not 0 <= faces.min() <= faces.max() < n_vertices:
        raise ValueError("faces index past the vertices")
    names = tuple(str(n) for n in meta["shape_names"])
    body = KeptBody(spec=scene.people[0].body, name=str(meta["name"]), version=str(meta["version"]),
                    faces=faces, part_labels=labels, shape_names=names,
                    default_shape=_array(arrays, "default_shape", np.float32, (len(names),)),
                    expression_names=tuple(str(n) for n in meta["expression_names"]))
    people = []
    for i, person in enumerate(scene.people):
        dy = float(_array(arrays, f"ground{i}", np.float64, ()))
        hand = f"hand21{i}"
        people.append(PosedPerson(
            index=i, pose=grounded_pose(pose_at(person, frame), dy), body=body,
            shape=_array(arrays, f"shape{i}", np.float32, (len(names),)),
            vertices=_array(arrays, f"vertices{i}", np.float32, (n_vertices, 3)),
            joints=_array(arrays, f"joints{i}", np.float32, (24, 3)),
            coco17=_array(arrays, f"coco17{i}", np.float32, (17, 3)),
            color=tuple(person.color), ground_offset=dy,
            hand21=_array(arrays, hand, np.float32, (2, 21, 3)) if hand in arrays else None))
    return people
