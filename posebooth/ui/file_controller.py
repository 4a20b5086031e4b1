"""File menu behaviour: new, open, save, save as, recent files, motion import,
and the unsaved-changes prompt. All dialogs go through `dialogs`."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from posebooth.scene.io import SceneError
from posebooth.assets.starter import starter_scene
from posebooth.ui import dialogs
from posebooth.ui.settings import RecentFiles

log = logging.getLogger(__name__)


class FileController(QObject):
    recentChanged = Signal()
    message = Signal(str)  # for the status bar

    def __init__(self, window, doc, recent: RecentFiles, before_write=None):
        super().__init__(window)
        self.window, self.doc, self.recent = window, doc, recent
        self._before_write = before_write or (lambda: None)  # flush pending typing into the doc

    def display_name(self) -> str:
        return self.doc.path.name if self.doc.path else "Untitled"

    def _start_dir(self) -> str:
        if self.doc.path:
            return str(self.doc.path.parent)
        recent = self.recent.paths()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    # ---- unsaved changes ----------------------------------------------------------
    def maybe_save(self) -> bool:
        """True when it is fine to drop the current scene (saved, discarded or clean)."""
        self._before_write()
        if not self.doc.is_modified():
            return True
        answer = dialogs.ask_save_changes(self.window, self.display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    # ---- commands -----------------------------------------------------------------
    def new(self) -> bool:
        if not self.maybe_save():
            return False
        self.doc.replace_scene(starter_scene(), None)
        self.message.emit("New scene")
        return True

    def open(self, path=None) -> bool:
        if path is None:
            if not self.maybe_save():
                return False
            path = dialogs.get_open_path(self.window, "Open scene", self._start_dir(), dialogs.SCENE_FILTER)
            if not path:
                return False
        elif not self.maybe_save():
            return False
        return self.open_path(path)

    def open_path(self, path) -> bool:
        """Open without asking about unsaved changes (the caller did)."""
        error = self._load(path)
        if error is not None:
            dialogs.show_error(self.window, "Cannot open scene", error)
            return False
        return True

    def open_start_scene(self, path) -> str | None:
        """Open the scene named on the command line, before the window is shown:
        None, or why it could not be opened (the caller shows that once the
        window is up; the new scene stays)."""
        return self._load(path)

    def _load(self, path) -> str | None:
        """Open `path` into the document; None, or the message saying why not.
        Never raises: a file the loader did not foresee still leaves a usable window."""
        before = self.doc.scene
        try:
            self.doc.open(path)
        except SceneError as e:
            return str(e)
        except Exception as e:  # noqa: BLE001 - the loader raises SceneError; anything else is our bug
            log.exception("opening %s failed", path)
            if self.doc.scene is not before:  # failed half-way through replacing: start clean, not half-loaded
                self.doc.replace_scene(starter_scene(), None)
            detail = (str(e).splitlines() or [""])[0][:200]
            return f"{path}: could not be opened ({type(e).__name__}: {detail})"
        self.recent.add(path)
        self.recentChanged.emit()
        self.message.emit(f"Opened {Path(path).name}")
        return None

    def open_recent(self, path: str) -> bool:
        if not Path(path).is_file():
            self.recent.remove(path)
            self.recentChanged.emit()
            dialogs.show_error(self.window, "File not found",
                               f"{path} no longer exists; it was removed from the recent files.")
            return False
        return self.open(path)

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self._write(self.doc.path)

    def save_as(self) -> bool:
        start = str(self.doc.path) if self.doc.path else str(Path(self._start_dir()) / "scene.json")
        path = dialogs.get_save_path(self.window, "Save scene as", start, dialogs.SCENE_FILTER)
        if not path:
            return False
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".json")
        return self._write(path)

    def _write(self, path: Path) -> bool:
        self._before_write()
        try:
            self.doc.save(path)
        except OSError as e:
            dialogs.show_error(self.window, "Cannot save scene", f"{path}: {e.strerror or e}")
            return False
        self.recent.add(path)
        self.recentChanged.emit()
        self.message.emit(f"Saved {path.name}")
        return True

    def import_motion(self, path=None, mode: str | None = None) -> bool:
        """Import a motion file (one undo step): `mode` 'replace' the selected
        person's keys, 'insert' at the playhead or give it to a 'new' person
        (None: ask). The motion starts where the person stands."""
        try:
            from posebooth.assets.motion import MotionError
            from posebooth.edits.motion_ops import import_motion_into
        except ImportError as e:
            dialogs.show_error(self.window, "Import motion", f"Motion import is not available: {e}")
            return False
        if not self.doc.scene.people:
            dialogs.show_error(self.window, "Import motion", "Add a person first (Shift+A).")
            return False
        if path is None:
            path = dialogs.get_open_path(self.window, "Import motion", self._start_dir(), dialogs.MOTION_FILTER)
            if not path:
                return False
        person = self.doc.selected_person or 0
        if mode is None:
            mode = dialogs.ask_motion_mode(self.window, Path(path).name, self.doc.scene.people[person].name)
            if mode is None:
                return False
        try:
            index, start = import_motion_into(self.doc, path, mode, person)
        except MotionError as e:
            dialogs.show_error(self.window, "Cannot import motion", str(e))
            return False
        self.doc.select(index, None)
        self.doc.set_frame(start)
        self.message.emit(f"Imported {Path(path).name} into {self.doc.scene.people[index].name}")
        return True
