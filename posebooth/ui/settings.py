"""Persistent user settings: preferences, recent files and the window layout,
in one QSettings INI file.

Always an INI file (same format on every platform, easy to inspect); tests
redirect it with `QSettings.setPath(IniFormat, UserScope, tmp_path)` so the
real user's settings are never touched.

The file is the user's to edit (or to find corrupted), so nothing read from
it is trusted: every value is type-checked and bounded, and a bad value is
dropped with a note (logged, and shown in the window's status bar by
`take_notes`), never fatal. The window layout is the dangerous one: Qt's
QMainWindow::restoreState aborts or hangs the process on a corrupted state,
so a state is passed to Qt only when it carries our digest, its own header
and the dock names and layout version of this build.
"""
from __future__ import annotations

import hashlib
import logging
import struct
from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger(__name__)

ORG = APP = "PoseBooth"
MAX_RECENT = 10
MAX_PATH_CHARS = 4096
MAX_SETTINGS_BYTES = 1 << 20     # ours is a few KB; a bigger file is not one we wrote
MAX_LAYOUT_BYTES = 64 * 1024     # a saved geometry + state is ~2 KB
LAYOUT_SCHEMA = 2                # format of the "window/" group; 1 was the unchecked state and geometry
THEMES = ("system", "dark", "light")

_notes: list[str] = []


def note(settings: QSettings, key: str, problem: str) -> None:
    """Record a dropped value: one line naming the file, the key and the rule."""
    line = f"{settings.fileName()}: [{key}] {problem}; the value was dropped"
    log.warning("%s", line)
    _notes.append(line)


def take_notes() -> list[str]:
    """Notes recorded since the last call (the window shows them once)."""
    taken = list(_notes)
    _notes.clear()
    return taken


def settings_path() -> Path:
    """Our INI file, wherever QSettings.setPath (or the platform) puts the user scope."""
    # The organisation-wide file is <dir>/PoseBooth.ini, ours <dir>/PoseBooth/PoseBooth.ini.
    org_file = Path(QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG).fileName())
    return org_file.with_suffix("") / f"{APP}.ini"


def app_settings() -> QSettings:
    path = settings_path()
    try:
        size = path.stat().st_size if path.is_file() else 0
    except OSError:
        size = 0
    if size > MAX_SETTINGS_BYTES:   # QSettings would read it all: keep it for the user, start afresh
        aside = path.with_name(path.name + ".bad")
        try:
            path.replace(aside)
            kept = f"moved to {aside}"
        except OSError as e:
            kept = f"could not be moved aside ({e.strerror or e}); it is ignored"
            path = path.with_name(path.name + ".fresh")
        line = (f"{path}: the settings file is {size:,} bytes, over the {MAX_SETTINGS_BYTES:,} allowed; "
                f"it was {kept} and the defaults are used")
        log.warning("%s", line)
        _notes.append(line)
    # An explicit file (no organisation-wide or system fallbacks): one file to trust or drop.
    return QSettings(str(path), QSettings.Format.IniFormat)


def _read(settings: QSettings, key: str, default=None):
    """settings.value() that cannot raise; a stored value Qt cannot decode (None:
    we never store None, an empty list is stored by removing the key) is dropped."""
    try:
        value = settings.value(key)
    except Exception as e:  # noqa: BLE001 - a variant PySide cannot convert
        value, why = None, f"unreadable ({type(e).__name__})"
    else:
        why = "unreadable (not a value Qt can decode)"
    if value is None:
        if settings.contains(key):
            note(settings, key, why)
            settings.remove(key)
        return default
    return value


@dataclass
class Preferences:
    theme: str = "system"          # "system" follows the platform's colour scheme
    autosave_seconds: int = 60     # 0 turns autosave off
    auto_key: bool = True          # edits key the current frame (Blender's auto-keying)

    @classmethod
    def load(cls, settings: QSettings) -> "Preferences":
        prefs = cls()
        for f in fields(cls):
            key = f"preferences/{f.name}"
            raw = _read(settings, key)
            if raw is None:
                continue
            value = _preference(f.type, raw)
            allowed = {"theme": f"one of {', '.join(THEMES)}", "autosave_seconds": "whole seconds, 0 to 86400",
                       "auto_key": "true or false"}[f.name]
            if value is None or (f.name == "theme" and value not in THEMES) \
                    or (f.name == "autosave_seconds" and not 0 <= value <= 24 * 3600):
                note(settings, key, f"must be {allowed}, found {_show(raw)}")
                settings.remove(key)
                continue
            setattr(prefs, f.name, value)
        return prefs

    def save(self, settings: QSettings) -> None:
        for f in fields(self):
            settings.setValue(f"preferences/{f.name}", getattr(self, f.name))
        settings.sync()


def _preference(kind, raw):
    """The stored text as bool / int / str (INI values come back as text), or None."""
    if not isinstance(raw, (str, bool, int)) or isinstance(raw, str) and len(raw) > 100:
        return None
    text = str(raw).strip().lower()
    if kind in ("bool", bool):
        return {"true": True, "1": True, "false": False, "0": False}.get(text)
    if kind in ("int", int):
        return int(text) if text.lstrip("-").isdigit() and len(text) < 10 else None
    return text


def _show(raw) -> str:
    text = repr(raw)
    return f"{type(raw).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"


class RecentFiles:
    """Most recent first, at most MAX_RECENT, no duplicates (by resolved path)."""

    KEY = "files/recent"

    def __init__(self, settings: QSettings):
        self._settings = settings

    def paths(self) -> list[str]:
        raw = _read(self._settings, self.KEY, [])
        if raw is None or raw == "":
            return []
        if isinstance(raw, str):  # QSettings returns a bare string for a one-item list
            raw = [raw]
        if not isinstance(raw, list):
            note(self._settings, self.KEY, f"must be a list of file paths, found {_show(raw)}")
            self._store([])
            return []
        good = [p for p in raw if isinstance(p, str) and 0 < len(p) <= MAX_PATH_CHARS and "\0" not in p]
        if len(good) != len(raw) or len(good) > MAX_RECENT:
            note(self._settings, self.KEY,
                 f"must be at most {MAX_RECENT} file paths of up to {MAX_PATH_CHARS} characters; "
                 f"found {len(raw)} entries, {len(raw) - len(good)} of them not paths")
            self._store(good)
        return good[:MAX_RECENT]

    def _store(self, paths: list[str]) -> None:
        if paths:
            self._settings.setValue(self.KEY, paths[:MAX_RECENT])
        else:
            self._settings.remove(self.KEY)   # QSettings writes [] as @Invalid(), read back as None
        self._settings.sync()

    def add(self, path) -> None:
        path = str(Path(path).resolve())
        self._store([path, *[p for p in self.paths() if p != path]])

    def remove(self, path) -> None:
        path = str(path)
        self._store([p for p in self.paths() if p != path])

    def clear(self) -> None:
        self._store([])


# ---- window layout ------------------------------------------------------------------------
LAYOUT_GROUP = "window"
QT_STATE_MARKER = 0xFF          # QMainWindow::saveState writes this int32, then the version it is given
QT_GEOMETRY_MAGIC = 0x1D9D0CB   # QWidget::saveGeometry's leading int32


def _digest(geometry: bytes, state: bytes) -> str:
    h = hashlib.sha256()
    h.update(struct.pack(">I", len(geometry)))
    h.update(geometry)
    h.update(state)
    return h.hexdigest()


def save_layout(settings: QSettings, geometry: QByteArray, state: QByteArray, objects: list[str],
                state_version: int, app_version: str) -> None:
    g, s = bytes(geometry), bytes(state)
    settings.remove(LAYOUT_GROUP)
    for key, value in (("schema", LAYOUT_SCHEMA), ("state_version", state_version), ("app_version", app_version),
                       ("objects", " ".join(sorted(objects))), ("geometry", QByteArray(g)),
                       ("state", QByteArray(s)), ("digest", _digest(g, s))):
        settings.setValue(f"{LAYOUT_GROUP}/{key}", value)
    settings.sync()


def load_layout(settings: QSettings, objects: list[str], state_version: int) -> tuple[bytes, bytes] | None:
    """(geometry, state) safe to give Qt, or None (nothing saved, or dropped with a note).

    `objects` are the object names of the docks and toolbars saveState records;
    a layout saved with other names (a renamed dock) is dropped, not guessed at."""
    keys = ("schema", "state_version", "objects", "geometry", "state", "digest")
    raw = {k: _read(settings, f"{LAYOUT_GROUP}/{k}") for k in keys}
    if all(v is None for v in raw.values()):
        return None
    problem = _layout_problem(raw, objects, state_version)
    if problem is None:
        return bytes(raw["geometry"]), bytes(raw["state"])
    note(settings, LAYOUT_GROUP, f"the saved window layout {problem}")
    settings.remove(LAYOUT_GROUP)
    settings.sync()
    return None


def _layout_problem(raw: dict, objects: list[str], state_version: int) -> str | None:
    if raw["schema"] is None:
        return "has no layout schema (saved by an older PoseBooth, or edited)"
    if str(raw["schema"]) != str(LAYOUT_SCHEMA):
        return f"is not layout schema {LAYOUT_SCHEMA} (found {_show(raw['schema'])})"
    if str(raw["state_version"]) != str(state_version):
        return f"is for layout version {_show(raw['state_version'])}, this build uses {state_version}"
    if raw["objects"] != " ".join(sorted(objects)):
        return f"names other panels ({_show(raw['objects'])})"
    for key in ("geometry", "state"):
        value = raw[key]
        if not isinstance(value, (QByteArray, bytes)) or not 8 <= len(bytes(value)) <= MAX_LAYOUT_BYTES:
            return f"{key} must be 8 to {MAX_LAYOUT_BYTES} bytes, found {_show(value)}"
    geometry, state = bytes(raw["geometry"]), bytes(raw["state"])
    if raw["digest"] != _digest(geometry, state):
        return "does not match its digest (the file was edited or damaged)"
    if struct.unpack(">iI", state[:8]) != (QT_STATE_MARKER, state_version):
        return f"state lacks Qt's header for version {state_version}"
    if struct.unpack(">I", geometry[:4])[0] != QT_GEOMETRY_MAGIC:
        return "geometry lacks Qt's header"
    return None
