"""Persistent user settings: preferences and recent files, in one QSettings.

Always an INI file (same format on every platform, easy to inspect); tests
redirect it with `QSettings.setPath(IniFormat, UserScope, tmp_path)` so the
real user's settings are never touched.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QSettings

ORG = APP = "PoseBooth"
MAX_RECENT = 10
THEMES = ("system", "dark", "light")


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP)


@dataclass
class Preferences:
    theme: str = "system"          # "system" follows the platform's colour scheme
    autosave_seconds: int = 60     # 0 turns autosave off
    auto_key: bool = True          # edits key the current frame (Blender's auto-keying)

    @classmethod
    def load(cls, settings: QSettings) -> "Preferences":
        prefs = cls()
        for f in fields(cls):
            raw = settings.value(f"preferences/{f.name}", getattr(prefs, f.name))
            try:
                if f.type in ("bool", bool):
                    value = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
                elif f.type in ("int", int):
                    value = int(raw)
                else:
                    value = str(raw)
            except (TypeError, ValueError):
                continue  # a hand-edited bad value keeps the default
            setattr(prefs, f.name, value)
        if prefs.theme not in THEMES:
            prefs.theme = "system"
        prefs.autosave_seconds = max(0, min(prefs.autosave_seconds, 24 * 3600))
        return prefs

    def save(self, settings: QSettings) -> None:
        for f in fields(self):
            settings.setValue(f"preferences/{f.name}", getattr(self, f.name))
        settings.sync()


class RecentFiles:
    """Most recent first, at most MAX_RECENT, no duplicates (by resolved path)."""

    KEY = "files/recent"

    def __init__(self, settings: QSettings):
        self._settings = settings

    def paths(self) -> list[str]:
        raw = self._settings.value(self.KEY, [])
        if isinstance(raw, str):  # QSettings returns a bare string for a one-item list
            raw = [raw]
        return [str(p) for p in (raw or []) if p][:MAX_RECENT]

    def _store(self, paths: list[str]) -> None:
        self._settings.setValue(self.KEY, paths[:MAX_RECENT])
        self._settings.sync()

    def add(self, path) -> None:
        path = str(Path(path).resolve())
        self._store([path, *[p for p in self.paths() if p != path]])

    def remove(self, path) -> None:
        path = str(path)
        self._store([p for p in self.paths() if p != path])

    def clear(self) -> None:
        self._store([])
