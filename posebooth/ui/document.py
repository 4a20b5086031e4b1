"""The open scene inside the app: the single source of truth for every widget.

Widgets never keep their own copy of a pose: they read `doc.scene` (and the
posed meshes from `doc.posed()`), edit through the methods of
edits.document.EditableDocument (each pushes an undo command here), and
redraw on the change signals.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from posebooth.edits.document import EditableDocument
from posebooth.scene.io import load_scene, save_scene
from posebooth.scene.model import CameraSpec, Person, Scene
from posebooth.ui.commands import CameraCommand, PersonCommand, SceneCommand, merge_id_for

_COMMANDS = {"person": PersonCommand, "camera": CameraCommand, "scene": SceneCommand}


class SceneDocument(EditableDocument, QObject):
    sceneReplaced = Signal()       # new / open / whole-scene undo: refresh everything
    personChanged = Signal(int)    # pose, shape, keys or colour of one person
    peopleChanged = Signal()       # people added, removed or renamed
    cameraChanged = Signal()
    timelineChanged = Signal()
    generationChanged = Signal()
    frameChanged = Signal(int)
    selectionChanged = Signal()
    pathChanged = Signal()
    bodyReady = Signal()           # the body model arrived after a start on a kept first frame

    def __init__(self, scene: Scene | None = None, body_for=None, parent=None):
        QObject.__init__(self, parent)
        self._init_document(scene, body_for)
        self.undo_stack = QUndoStack(self)
        self.path: Path | None = None
        self._posed_cache: tuple | None = None
        self._revision = 0
        self.body_pending = False   # drawing a kept first frame while the body builds (ui.app)
        for sig in (self.sceneReplaced, self.personChanged, self.peopleChanged, self.frameChanged):
            sig.connect(self._invalidate)

    # ---- reading --------------------------------------------------------
    @property
    def revision(self) -> int:
        """Bumped on every change that moves a mesh; views cache by it."""
        return self._revision

    def _invalidate(self, *args):
        self._revision += 1
        self._posed_cache = None

    def posed(self):
        """Every person posed at the current frame (cached until a change)."""
        if self._posed_cache is None or self._posed_cache[0] != self._revision:
            self._posed_cache = (self._revision, EditableDocument.posed(self))
        return self._posed_cache[1]

    def show_kept_frame(self, posed) -> None:
        """Start on posed people kept from an earlier start (assets.first_frame)
        for the current scene and frame: they stand until the first change."""
        self._posed_cache = (self._revision, list(posed))
        self.body_pending = True

    def body_arrived(self) -> None:
        """The body model is built: pose for real from now on (the same meshes)."""
        if self.body_pending:
            self.body_pending = False
            self._invalidate()
            self.bodyReady.emit()

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    # ---- edits become undo commands; the setters they call emit ------------
    def _commit(self, kind, index, before, after, text, drag=None) -> None:
        args = (self, index) if kind == "person" else (self,)
        self.undo_stack.push(_COMMANDS[kind](*args, before, after, text, merge_id_for(kind), drag))

    def _put_person(self, index: int, person: Person):
        EditableDocument._put_person(self, index, person)
        self.personChanged.emit(index)

    def _put_camera(self, camera: CameraSpec):
        EditableDocument._put_camera(self, camera)
        self.cameraChanged.emit()

    def _put_scene(self, scene: Scene):
        frame = self.frame
        EditableDocument._put_scene(self, scene)
        self.sceneReplaced.emit()
        if self.frame != frame:   # an undone timeline no longer held the playhead
            self.frameChanged.emit(self.frame)

    def _clamp_selection(self):
        EditableDocument._clamp_selection(self)
        self.selectionChanged.emit()

    # ---- frame and selection (not undoable, like Blender) -------------------
    def set_frame(self, frame: int):
        if EditableDocument.set_frame(self, frame):
            self.frameChanged.emit(self.frame)
            self.cameraChanged.emit()

    def select(self, person: int | None, joint: int | None):
        if EditableDocument.select(self, person, joint):
            self.selectionChanged.emit()

    def select_finger(self, person: int, side: str, joint: int):
        if EditableDocument.select_finger(self, person, side, joint):
            self.selectionChanged.emit()

    def select_prop(self, prop: int | None):
        if EditableDocument.select_prop(self, prop):
            self.selectionChanged.emit()

    # ---- files ----------------------------------------------------------
    def replace_scene(self, scene: Scene, path: Path | None):
        """New or opened scene: a fresh history (Qt clears it; the file is clean)."""
        self._scene = scene
        self.undo_stack.clear()
        self.path = path
        self.frame = scene.timeline.start
        self.selected_person, self.selected_joint = (0 if scene.people else None), None
        self.selected_prop = self.selected_finger = None
        self.sceneReplaced.emit()
        self.selectionChanged.emit()
        self.frameChanged.emit(self.frame)
        self.pathChanged.emit()

    def open(self, path) -> None:
        """Load `path`; on a bad file raises SceneError and changes nothing."""
        scene = load_scene(path)
        self.replace_scene(scene, Path(path))

    def save(self, path=None) -> Path:
        path = Path(path or self.path)
        save_scene(self._scene, path)
        self.path = path
        self.undo_stack.setClean()
        self.pathChanged.emit()
        return path
