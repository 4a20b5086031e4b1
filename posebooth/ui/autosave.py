"""Autosave and crash recovery.

Each running window writes its modified scene every N seconds into the
autosave folder as `<session>.scene.json` plus `<session>.info.json` (the
original path, the time). A QLockFile `<session>.lock` marks the session as
alive; a clean close deletes all three. At the next start, files whose lock
can be taken belong to a session that died (Qt checks the PID), so they are
offered for recovery. Several windows or instances never clobber each other.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer, Signal

from posebooth.files.atomic import atomic_write_bytes
from posebooth.scene.io import scene_to_json

ENV_DIR = "POSEBOOTH_AUTOSAVE_DIR"


def autosave_dir() -> Path:
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".posebooth") / "autosave"


def _lock(path: Path) -> QLockFile:
    lock = QLockFile(str(path))
    lock.setStaleLockTime(0)  # stale only when its process is gone, never by age
    return lock


@dataclass
class Orphan:
    """An autosave left behind by a session that did not close cleanly."""

    session: str
    scene_path: Path
    info_path: Path
    original_path: str | None
    saved_at: float
    lock: QLockFile  # held by us while the orphan is being handled

    def describe(self) -> str:
        name = Path(self.original_path).name if self.original_path else "an untitled scene"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        return (f"PoseBooth did not close properly. An autosave of {name} from {when} was found.\n\n"
                f"Recover it?")

    def discard(self) -> None:
        self.scene_path.unlink(missing_ok=True)
        self.info_path.unlink(missing_ok=True)
        self.lock.unlock()


def find_orphans(directory: Path | None = None) -> list[Orphan]:
    """Autosaves of dead sessions, newest first."""
    directory = Path(directory or autosave_dir())
    if not directory.is_dir():
        return []
    found = []
    for info_path in directory.glob("*.info.json"):
        session = info_path.name[: -len(".info.json")]
        scene_path = directory / f"{session}.scene.json"
        lock = _lock(directory / f"{session}.lock")
        if not lock.tryLock(0):
            continue  # its session is still running
        try:
            info = json.loads(info_path.read_text("utf-8"))
            original, saved_at = info.get("original_path"), float(info.get("saved_at", 0))
        except (OSError, ValueError, AttributeError):
            original, saved_at = None, info_path.stat().st_mtime
        if not scene_path.is_file():
            Orphan(session, scene_path, info_path, None, 0, lock).discard()
            continue
        found.append(Orphan(session, scene_path, info_path, original, saved_at, lock))
    return sorted(found, key=lambda o: o.saved_at, reverse=True)


class Autosaver(QObject):
    saved = Signal(str)    # path written
    failed = Signal(str)   # message

    def __init__(self, doc, interval_s: int = 60, directory: Path | None = None, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.directory = Path(directory or autosave_dir())
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock: QLockFile | None = None
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.save_now)
        doc.undo_stack.indexChanged.connect(self._mark_dirty)
        doc.undo_stack.cleanChanged.connect(self._on_clean_changed)
        doc.sceneReplaced.connect(self._mark_dirty)
        self.set_interval(interval_s)

    @property
    def scene_path(self) -> Path:
        return self.directory / f"{self.session}.scene.json"

    @property
    def info_path(self) -> Path:
        return self.directory / f"{self.session}.info.json"

    def set_interval(self, seconds: float) -> None:
        self._timer.stop()
        if seconds > 0:
            self._timer.start(int(seconds * 1000))

    def _mark_dirty(self, *args) -> None:
        self._dirty = True

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:  # saved (or undone back to the saved state): nothing to recover
            self.discard()

    def save_now(self, force: bool = False) -> Path | None:
        """Write the scene if it has unsaved changes not yet autosaved."""
        if not self.doc.is_modified() or not (self._dirty or force):
            return None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self._lock is None:
                self._lock = _lock(self.directory / f"{self.session}.lock")
                if not self._lock.tryLock(0):
                    raise OSError("cannot lock the autosave file")
            atomic_write_bytes(self.scene_path, scene_to_json(self.doc.scene).encode("utf-8"))
            info = {"original_path": str(self.doc.path) if self.doc.path else None, "saved_at": time.time(),
                    "session": self.session}
            atomic_write_bytes(self.info_path, json.dumps(info).encode("utf-8"))
        except OSError as e:
            self.failed.emit(f"Autosave failed: {e}")
            return None
        self._dirty = False
        self.saved.emit(str(self.scene_path))
        return self.scene_path

    def discard(self) -> None:
        """Remove this session's autosave (after a save or a clean close)."""
        self.scene_path.unlink(missing_ok=True)
        self.info_path.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def stop(self) -> None:
        self._timer.stop()

    def abandon(self) -> None:
        """Drop the lock but keep the files, as a crash would (used by tests)."""
        self._timer.stop()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None
