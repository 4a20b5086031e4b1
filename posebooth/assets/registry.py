"""Which body model a person uses: build (and cache) it from its BodySpec, and
report what is available for `posebooth info`.

anny is the free default; the SMPL family needs the optional smplx package
and the user's licensed model files (see smpl_body).
"""
from __future__ import annotations

import importlib.util
import os
import threading

from posebooth.assets import smpl_body
from posebooth.assets.body import BodyModel, BodyModelError

_cache: dict[tuple, BodyModel] = {}
_lock = threading.Lock()


def get_body(spec, model_dir: str | os.PathLike | None = None) -> BodyModel:
    """The body model for a BodySpec (shape values are applied per forward call)."""
    if spec.model == "anny":
        from posebooth.assets.anny_body import get_anny_body  # heavy: import only when asked
        return get_anny_body()
    if spec.model not in smpl_body.KINDS:
        raise BodyModelError(f"unknown body model {spec.model!r}")
    root = smpl_body.resolve_model_dir(model_dir)
    key = (spec.model, spec.gender, None if root is None else str(root.resolve()))
    with _lock:  # one build per key even when two threads ask at once
        body = _cache.get(key)
        if body is None:
            body = _cache[key] = smpl_body.SmplBody(spec.model, spec.gender, root)
    return body


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _anny_status() -> dict:
    # find_spec, not import: importing anny (torch, warp) costs seconds; building it, a minute.
    if importlib.util.find_spec("anny") is None:
        return {"name": "anny", "available": False, "detail": "the anny package is not installed"}
    try:
        from importlib.metadata import version
        detail = f"anny {version('anny')}"
    except Exception:
        detail = "anny (version unknown)"
    return {"name": "anny", "available": True, "detail": detail}


def available_bodies(model_dir: str | os.PathLike | None = None) -> list[dict]:
    """[{name, available, detail}] for anny and each SMPL-family model."""
    out = [_anny_status()]
    root = smpl_body.resolve_model_dir(model_dir)
    has_smplx = smpl_body.smplx_installed()
    for kind in smpl_body.KINDS:
        found = {g: smpl_body.find_model_file(kind, g, root) for g in smpl_body.GENDERS} if root else {}
        found = {g: p for g, p in found.items() if p is not None}
        if not has_smplx:
            detail = f"needs the smplx package: {smpl_body.INSTALL_HINT}"
        elif root is None:
            detail = (f"no model folder: set ${smpl_body.ENV_DIR} to a folder holding "
                      f"{smpl_body.expected_files(kind, 'neutral')[0]}")
        elif not found:
            detail = f"no model files in {root}: expected {' or '.join(smpl_body.expected_files(kind, 'neutral'))}"
        else:
            detail = ", ".join(f"{g}: {p}" for g, p in found.items())
        out.append({"name": kind, "available": bool(has_smplx and found), "detail": detail})
    return out
