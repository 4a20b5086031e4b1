"""The open scene inside the app: the single source of truth for every widget.

Widgets never keep their own copy of a pose: they read `doc.scene` (and the
posed meshes from `doc.posed()`), edit through the methods here (each pushes
an undo command), and redraw on the change signals.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from posebooth.scene.io import load_scene, save_scene
from posebooth.scene.model import CameraKey, CameraSpec, Person, PoseKey, Scene
from posebooth.scene.starter import PALETTE, starter_scene
from posebooth.scene.tracks import PoseState, camera_at, camera_key_at, pose_at
from posebooth.ui.commands import CameraCommand, PersonCommand, SceneCommand, merge_id_for


class SceneDocument(QObject):
    sceneReplaced = Signal()       # new / open / whole-scene undo: refresh everything
    personChanged = Signal(int)    # pose, shape, keys or colour of one person
    peopleChanged = Signal()       # people added, removed or renamed
    cameraChanged = Signal()
    timelineChanged = Signal()
    generationChanged = Signal()
    frameChanged = Signal(int)
    selectionChanged = Signal()
    pathChanged = Signal()

    def __init__(self, scene: Scene | None = None, body_for=None, parent=None):
        super().__init__(parent)
        self._scene = scene or starter_scene()
        self.undo_stack = QUndoStack(self)
        self.path: Path | None = None
        self.frame = self._scene.timeline.start
        self.selected_person: int | None = 0 if self._scene.people else None
        self.selected_joint: int | None = None
        self.auto_key = True
        self._body_for = body_for
        self._posed_cache: tuple | None = None
        self._revision = 0
        for sig in (self.sceneReplaced, self.personChanged, self.peopleChanged, self.frameChanged):
            sig.connect(self._invalidate)

    # ---- reading --------------------------------------------------------
    @property
    def scene(self) -> Scene:
        return self._scene

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
            from posebooth.assets.posing import pose_people
            self._posed_cache = (self._revision, pose_people(self._scene, self.frame, self._body_for))
        return self._posed_cache[1]

    def pose_of(self, index: int) -> PoseState:
        return pose_at(self._scene.people[index], self.frame)

    def camera(self):
        return camera_at(self._scene.camera, self.frame)

    def body_model(self, spec):
        """The body backend for a BodySpec: the same one posed() uses (lazily built)."""
        if self._body_for is not None:
            return self._body_for(spec)
        from posebooth.assets.registry import get_body
        return get_body(spec)

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    # ---- internal setters used by the undo commands ----------------------
    def _put_person(self, index: int, person: Person):
        people = list(self._scene.people)
        people[index] = person.model_copy(deep=True)
        self._scene.people = people
        self.personChanged.emit(index)

    def _put_camera(self, camera: CameraSpec):
        self._scene.camera = camera.model_copy(deep=True)
        self.cameraChanged.emit()

    def _put_scene(self, scene: Scene):
        self._scene = scene.model_copy(deep=True)
        self._clamp_selection()
        self.sceneReplaced.emit()

    def _clamp_selection(self):
        n = len(self._scene.people)
        if self.selected_person is not None and self.selected_person >= n:
            self.selected_person = n - 1 if n else None
            self.selected_joint = None
        self.selectionChanged.emit()

    # ---- edits ----------------------------------------------------------
    def edit_person(self, index: int, mutate: Callable[[Person], None], text: str, drag=None):
        before = self._scene.people[index]
        after = before.model_copy(deep=True)
        mutate(after)
        after = Person.model_validate(after.model_dump())  # re-validate (keys sorted, unique)
        self.undo_stack.push(PersonCommand(self, index, before.model_copy(deep=True), after, text,
                                           merge_id_for("person"), drag))

    def set_pose(self, index: int, pose: PoseState, text: str = "Pose", drag=None):
        """Write `pose` as the key at the current frame (auto-key), or into the
        key in force when auto-key is off."""
        frame = self.frame
        fields = pose.to_key_fields()

        def mutate(p: Person):
            for k in p.keys:
                if k.frame == frame:
                    k.global_orient, k.body_pose, k.transl = (fields["global_orient"], fields["body_pose"],
                                                              fields["transl"])
                    return
            if self.auto_key:
                p.keys = [*p.keys, PoseKey(frame=frame, **fields)]
            else:
                before = [k for k in p.keys if k.frame <= frame] or p.keys[:1]
                k = before[-1]
                k.global_orient, k.body_pose, k.transl = fields["global_orient"], fields["body_pose"], fields["transl"]
        self.edit_person(index, mutate, text, drag)

    def set_shape(self, index: int, name: str, value: float, drag=None):
        def mutate(p: Person):
            p.body.shape = {**p.body.shape, name: float(value)}
        self.edit_person(index, mutate, f"Shape: {name}", drag)

    def edit_camera(self, mutate: Callable[[CameraSpec], None], text: str, drag=None):
        before = self._scene.camera
        after = before.model_copy(deep=True)
        mutate(after)
        after = CameraSpec.model_validate(after.model_dump())
        self.undo_stack.push(CameraCommand(self, before.model_copy(deep=True), after, text,
                                           merge_id_for("camera"), drag))

    def set_camera_key(self, text: str = "Camera", drag=None, **fields):
        """Change the camera at the current frame (keyed there when auto-key is on)."""
        frame = self.frame
        current = camera_key_at(self._scene.camera, frame).model_dump()
        current.update(fields, frame=frame)

        def mutate(c: CameraSpec):
            others = [k for k in c.keys if k.frame != frame]
            if self.auto_key or len(c.keys) == 1 and c.keys[0].frame == frame:
                c.keys = sorted([*others, CameraKey(**current)], key=lambda k: k.frame)
            else:
                before = [k for k in c.keys if k.frame <= frame] or c.keys[:1]
                idx = c.keys.index(before[-1])
                c.keys[idx] = CameraKey(**{**current, "frame": before[-1].frame})
        self.edit_camera(mutate, text, drag)

    def edit_scene(self, mutate: Callable[[Scene], None], text: str, drag=None):
        before = self._scene
        after = before.model_copy(deep=True)
        mutate(after)
        after = Scene.model_validate(after.model_dump())
        self.undo_stack.push(SceneCommand(self, before.model_copy(deep=True), after, text,
                                          merge_id_for("scene"), drag))

    def add_person(self, pose: PoseState | None = None, name: str | None = None):
        n = len(self._scene.people)
        key = PoseKey(frame=self.frame, **(pose.to_key_fields() if pose else {}))
        key.transl = [key.transl[0] + 0.9 * n, key.transl[1], key.transl[2]]
        person = Person(name=name or f"Person {n + 1}", color=PALETTE[n % len(PALETTE)], keys=[key])
        self.edit_scene(lambda s: s.people.append(person), "Add person")
        self.select(n, None)

    def duplicate_person(self, index: int):
        src = self._scene.people[index].model_copy(deep=True)
        src.name = f"{src.name} copy"
        for k in src.keys:
            k.transl = [k.transl[0] + 0.9, k.transl[1], k.transl[2]]
        self.edit_scene(lambda s: s.people.append(src), "Duplicate person")
        self.select(len(self._scene.people) - 1, None)

    def delete_person(self, index: int):
        self.edit_scene(lambda s: s.people.pop(index), "Delete person")
        self._clamp_selection()

    def delete_pose_key(self, index: int, frame: int):
        def mutate(p: Person):
            if len(p.keys) > 1:
                p.keys = [k for k in p.keys if k.frame != frame]
        self.edit_person(index, mutate, "Delete key")

    def set_key_interp(self, index: int, frame: int, interp: str):
        def mutate(p: Person):
            for k in p.keys:
                if k.frame == frame:
                    k.interp = interp
        self.edit_person(index, mutate, f"Interpolation: {interp}")

    # ---- frame and selection (not undoable, like Blender) -------------------
    def set_frame(self, frame: int):
        frame = int(frame)
        if frame != self.frame:
            self.frame = frame
            self.frameChanged.emit(frame)
            self.cameraChanged.emit()

    def select(self, person: int | None, joint: int | None):
        if (person, joint) != (self.selected_person, self.selected_joint):
            self.selected_person, self.selected_joint = person, joint
            self.selectionChanged.emit()

    # ---- files ----------------------------------------------------------
    def replace_scene(self, scene: Scene, path: Path | None):
        """New or opened scene: a fresh history (Qt clears it; the file is clean)."""
        self._scene = scene
        self.undo_stack.clear()
        self.path = path
        self.frame = scene.timeline.start
        self.selected_person, self.selected_joint = (0 if scene.people else None), None
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
