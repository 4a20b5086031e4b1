"""The user's own pose presets: <user data dir>/pose_presets.json (platformdirs'
user_data_dir, or $POSEBOOTH_DATA_DIR), in the format of the shipped
resources/pose_presets.json and validated by the same parser (assets.presets).

They are listed after the shipped presets. A user file that cannot be used
is one line naming it (`user_presets_problem`); the app goes on with the
shipped presets, and saving refuses to overwrite that file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from posebooth.assets.smpl_skeleton import JOINT_NAMES
from posebooth.files.atomic import atomic_write_bytes
from posebooth.files.safe_read import read_user_file
from posebooth.scene.tracks import PoseState

MAX_USER_FILE = 4 << 20
_cache: dict = {}   # (path, mtime_ns, size) -> (library, problem)


def user_presets_path() -> Path:
    env = os.environ.get("POSEBOOTH_DATA_DIR")
    if env:
        base = Path(env).expanduser()
    else:
        from platformdirs import user_data_dir
        base = Path(user_data_dir("posebooth", appauthor=False))
    return base / "pose_presets.json"


def _load(path: Path) -> tuple[dict, str | None]:
    from posebooth.assets.presets import PresetFileError, parse_presets
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}, None
    except OSError as e:
        return {}, f"{path}: cannot read the user pose presets ({e.strerror or e})"
    stamp = (str(path), st.st_mtime_ns, st.st_size)
    if stamp not in _cache:
        try:
            lib, problem = parse_presets(read_user_file(path, "pose preset file", MAX_USER_FILE), str(path)), None
        except PresetFileError as e:
            lib, problem = {}, str(e)
        except ValueError as e:   # UserFileError: already one line naming the file
            lib, problem = {}, str(e)
        _cache.clear()
        _cache[stamp] = (lib, problem)
    return _cache[stamp]


def user_library(path: Path | None = None) -> dict:
    """name -> (PresetInfo, PoseState) of the user's presets ({} when none or unusable)."""
    return _load(path or user_presets_path())[0]


def user_presets_problem(path: Path | None = None) -> str | None:
    """One line naming the user file and what is wrong with it, or None."""
    return _load(path or user_presets_path())[1]


def _entry(name: str, label: str, pose: PoseState, contact: str) -> dict:
    body = {JOINT_NAMES[j + 1]: [float(v) for v in pose.body_pose[j]]
            for j in range(23) if np.any(pose.body_pose[j] != 0)}
    # Where the person stands is not part of a pose: x and z are left out, the height kept.
    return {"name": name, "label": label, "contact": contact, "description": "Saved by you",
            "global_orient": [float(v) for v in pose.global_orient], "body_pose": body,
            "transl": [0.0, float(pose.transl[1]), 0.0]}


def save_user_preset(label: str, pose: PoseState, path: Path | None = None, contact: str = "feet") -> str:
    """Add (or replace) a user preset named after `label`; returns its name.
    Raises PresetFileError when the label is unusable or the user file is
    broken (it is never overwritten then)."""
    from posebooth.assets.presets import PresetFileError, builtin_names, parse_presets
    path = path or user_presets_path()
    label = " ".join(str(label).split())
    if not label:
        raise PresetFileError(f"{path}: a preset needs a name")
    name = "user:" + label.lower().replace(" ", "_")
    if name in builtin_names():
        raise PresetFileError(f"{path}: {label!r} is the name of a shipped preset")
    problem = user_presets_problem(path)
    if problem:
        raise PresetFileError(f"{problem} (fix or remove it before saving a preset)")
    entries = []
    if path.exists():
        entries = [e for e in json.loads(read_user_file(path, "pose preset file", MAX_USER_FILE))["presets"] if e["name"] != name]
    entries.append(_entry(name, label, pose, contact))
    text = json.dumps({"format": "posebooth-pose-presets", "version": 1, "presets": entries}, indent=1)
    parse_presets(text, str(path))   # what is written must load again
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"), fsync=False)
    return name
