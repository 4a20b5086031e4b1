"""Scene files: versioned JSON that round-trips exactly, and a loader that turns
every bad file into one clear SceneError (never a half-loaded scene).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from posebooth.scene.model import SCENE_FORMAT, SCENE_VERSION, Scene

MAX_SCENE_BYTES = 64 * 1024 * 1024


class SceneError(ValueError):
    """A scene file or text is unusable; the message names what is wrong."""


def _reject_constant(name: str):
    raise SceneError(f"the file contains {name}, which is not a number JSON allows")


def _no_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise SceneError(f"the key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors()[:8]:
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {where}: {e['msg']}")
    more = err.error_count() - len(lines)
    if more > 0:
        lines.append(f"  ... and {more} more problem(s)")
    return "\n".join(lines)


def scene_from_json(text: str, source: str = "scene") -> Scene:
    """Parse and validate scene JSON text; raises SceneError."""
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)
    except SceneError as e:
        raise SceneError(f"{source}: {e}") from None
    except json.JSONDecodeError as e:
        hint = " (the file looks truncated)" if e.pos >= len(text.rstrip()) else ""
        raise SceneError(f"{source}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}{hint}") from None
    except RecursionError:
        raise SceneError(f"{source}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise SceneError(f"{source}: a scene is a JSON object, found {type(data).__name__}")
    if data.get("format") != SCENE_FORMAT:
        raise SceneError(f"{source}: not a PoseBooth scene (expected \"format\": \"{SCENE_FORMAT}\")")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SceneError(f"{source}: the scene has no valid \"version\" number")
    if version > SCENE_VERSION:
        raise SceneError(f"{source}: scene version {version} was written by a newer PoseBooth; "
                         f"this one reads version {SCENE_VERSION}. Update PoseBooth.")
    if version < 1:
        raise SceneError(f"{source}: unknown scene version {version}")
    try:
        return Scene.model_validate(data)
    except ValidationError as e:
        raise SceneError(f"{source}: invalid scene:\n{_describe(e)}") from None
    except RecursionError:
        raise SceneError(f"{source}: JSON nested too deeply") from None


def load_scene(path: str | os.PathLike) -> Scene:
    path = Path(path)
    try:
        if path.is_dir():
            raise SceneError(f"{path}: is a folder, not a scene file")
        size = path.stat().st_size
        if size > MAX_SCENE_BYTES:
            raise SceneError(f"{path}: {size} bytes is too large for a scene file")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SceneError(f"{path}: no such file") from None
    except PermissionError:
        raise SceneError(f"{path}: permission denied") from None
    except OSError as e:
        raise SceneError(f"{path}: cannot read ({e.strerror or e})") from None
    if not raw.strip():
        raise SceneError(f"{path}: the file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SceneError(f"{path}: not a text (UTF-8) file") from None
    return scene_from_json(text, source=str(path))


def scene_to_json(scene: Scene) -> str:
    return json.dumps(scene.model_dump(mode="json"), indent=1, allow_nan=False) + "\n"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_scene(scene: Scene, path: str | os.PathLike) -> None:
    atomic_write_bytes(path, scene_to_json(scene).encode("utf-8"))


def scene_schema() -> dict:
    return Scene.model_json_schema()
