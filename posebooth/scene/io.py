"""Scene files: versioned JSON that round-trips exactly, and a loader that turns
every bad file into one clear SceneError (never a half-loaded scene).
"""
from __future__ import annotations

import json
import os

from pydantic import ValidationError

from posebooth.files.json_model import parse_json
from posebooth.files.safe_read import UserFileError, read_user_file
from posebooth.scene.model import SCENE_FORMAT, SCENE_VERSION, Scene, number_text

MAX_SCENE_BYTES = 64 * 1024 * 1024


class SceneError(ValueError):
    """A scene file or text is unusable; the message names what is wrong."""


def _shown(value) -> str:
    text = number_text(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(err: ValidationError) -> str:
    """The first problem as `field.path: what is allowed (got ...)`, and how
    many more there are: one line, so the CLI and dialogs stay readable."""
    first = err.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")   # our validators say what they got
    elif first["type"] == "extra_forbidden":
        msg = "is not a scene field"
    elif not isinstance(first.get("input"), (dict, list)):
        msg = f"{msg} (got {_shown(first.get('input'))})"
    line = f"{where}: {msg}"
    more = err.error_count() - 1
    return line + (f"; and {more} more problem{'s' if more > 1 else ''}" if more else "")


def scene_from_json(text: str, source: str = "scene") -> Scene:
    """Parse and validate scene JSON text; raises SceneError."""
    # Strict JSON (the one parser of users' JSON files); an overflowing number
    # reaches validation, which names its field.
    data = parse_json(text, source, SceneError, overflow_to_inf=True)
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
        raise SceneError(f"{source}: {_describe(e)}") from None
    except RecursionError:
        raise SceneError(f"{source}: JSON nested too deeply") from None


def load_scene(path: str | os.PathLike) -> Scene:
    """Read (bounded: regular files only, at most MAX_SCENE_BYTES) and validate."""
    try:
        raw = read_user_file(path, "scene file", MAX_SCENE_BYTES)
    except UserFileError as e:
        raise SceneError(str(e)) from None
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
    """Write to a temporary file beside `path`, fsync, then rename into place
    (mode 0o666 less the umask: posebooth.files.atomic)."""
    from posebooth.files.atomic import atomic_write_bytes as write

    write(path, data)


def save_scene(scene: Scene, path: str | os.PathLike) -> None:
    atomic_write_bytes(path, scene_to_json(scene).encode("utf-8"))


def scene_schema() -> dict:
    return Scene.model_json_schema()
