"""The open scene and every edit of it, without Qt.

`EditableDocument` holds the scene, the current frame, the selection and
auto-key, and turns each edit into exact before/after copies of what it
changes (a person, the camera or the whole scene), handed to `_commit`.
Two documents implement `_commit`:
- `Document` here applies it and keeps a plain undo list: scripts and tests
  run the edit operations (edits.pose_ops, edits.key_ops) headless with it;
- ui.document.SceneDocument pushes a Qt undo command and emits signals.
So an edit behaves the same in a script as in the app.
"""
from __future__ import annotations

from typing import Callable

from posebooth.assets.starter import starter_scene
from posebooth.scene.model import CameraKey, CameraSpec, Person, PoseKey, Scene
from posebooth.scene.tracks import PoseState, camera_at, camera_key_at, pose_at


def write_pose_fields(key: PoseKey, fields: dict) -> None:
    """Overwrite a key's pose with PoseState.to_key_fields(): body, hands and face."""
    for name, value in fields.items():
        setattr(key, name, value)


class EditableDocument:
    """Reading and editing; subclasses implement `_commit` and may extend
    the `_put_*` setters (which undo and redo also call)."""

    def _init_document(self, scene: Scene | None = None, body_for=None) -> None:
        self._scene = scene or starter_scene()
        self.frame = self._scene.timeline.start
        self.selected_person: int | None = 0 if self._scene.people else None
        self.selected_joint: int | None = None
        self.selected_prop: int | None = None   # a prop, when no person is selected
        self.auto_key = True
        self.joint_limits = True           # sliders, gizmo, IK and presets stay inside the joints' ranges
        self.selected_finger: tuple[str, int] | None = None   # (side, MANO-15 joint) picked in the viewport
        self._body_for = body_for

    # ---- reading --------------------------------------------------------
    @property
    def scene(self) -> Scene:
        return self._scene

    def person_to_edit(self) -> int | None:
        """The selected person, when the selection names one of the scene's people."""
        p = self.selected_person
        return p if p is not None and 0 <= p < len(self._scene.people) else None

    def pose_of(self, index: int) -> PoseState:
        return pose_at(self._scene.people[index], self.frame)

    def camera(self):
        return camera_at(self._scene.camera, self.frame)

    def body_model(self, spec):
        """The body backend for a BodySpec (lazily built)."""
        if self._body_for is not None:
            return self._body_for(spec)
        from posebooth.assets.registry import get_body
        return get_body(spec)

    def posed(self):
        """Every person posed at the current frame."""
        from posebooth.assets.posing import pose_people
        return pose_people(self._scene, self.frame, self._body_for)

    # ---- the one seam: apply an edit ----------------------------------------
    def _commit(self, kind: str, index: int | None, before, after, text: str, drag=None) -> None:
        """kind: 'person' (index), 'camera' or 'scene'; before/after are copies."""
        raise NotImplementedError

    def _put_person(self, index: int, person: Person) -> None:
        people = list(self._scene.people)
        people[index] = person.model_copy(deep=True)
        self._scene.people = people

    def _put_camera(self, camera: CameraSpec) -> None:
        self._scene.camera = camera.model_copy(deep=True)

    def _put_scene(self, scene: Scene) -> None:
        old, new = self._scene.timeline, scene.timeline
        if old.start <= self.frame <= old.end and not new.start <= self.frame <= new.end:
            self.frame = min(max(self.frame, new.start), new.end)   # the playhead stays in the range
        self._scene = scene.model_copy(deep=True)
        self._clamp_selection()

    def _clamp_selection(self) -> None:
        if self.selected_prop is not None and self.selected_prop >= len(self._scene.props):
            self.selected_prop = None
        n = len(self._scene.people)
        if self.selected_person is not None and self.selected_person >= n:
            self.selected_person = n - 1 if n else None
            self.selected_joint = None

    # ---- edits ----------------------------------------------------------
    def edit_person(self, index: int, mutate: Callable[[Person], None], text: str, drag=None):
        before = self._scene.people[index]
        after = before.model_copy(deep=True)
        mutate(after)
        after = Person.model_validate(after.model_dump())  # re-validate (keys sorted, unique)
        self._commit("person", index, before.model_copy(deep=True), after, text, drag)

    def set_pose(self, index: int, pose: PoseState, text: str = "Pose", drag=None):
        """Write `pose` as the key at the current frame (auto-key), or into the
        key in force when auto-key is off."""
        frame, auto_key = self.frame, self.auto_key
        fields = pose.to_key_fields()

        def mutate(p: Person):
            for k in p.keys:
                if k.frame == frame:
                    write_pose_fields(k, fields)
                    return
            if auto_key:
                p.keys = [*p.keys, PoseKey(frame=frame, **fields)]
            else:
                before = [k for k in p.keys if k.frame <= frame] or p.keys[:1]
                write_pose_fields(before[-1], fields)
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
        self._commit("camera", None, before.model_copy(deep=True), after, text, drag)

    def set_camera_key(self, text: str = "Camera", drag=None, **fields):
        """Change the camera at the current frame (keyed there when auto-key is on)."""
        frame, auto_key = self.frame, self.auto_key
        current = camera_key_at(self._scene.camera, frame).model_dump()
        current.update(fields, frame=frame)

        def mutate(c: CameraSpec):
            others = [k for k in c.keys if k.frame != frame]
            if auto_key or len(c.keys) == 1 and c.keys[0].frame == frame:
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
        self._commit("scene", None, before.model_copy(deep=True), after, text, drag)

    def add_person(self, pose: PoseState | None = None, name: str | None = None):
        n = len(self._scene.people)
        from posebooth.edits.person_placement import beside_others, free_colour
        key = PoseKey(frame=self.frame, **(pose.to_key_fields() if pose else {}))
        person = Person(name=name or f"Person {n + 1}", color=free_colour(self._scene.people), keys=[key])
        person = beside_others(self, person)   # clear of everyone, arms included
        self.edit_scene(lambda s: s.people.append(person), "Add person")
        self.select(n, None)

    def duplicate_person(self, index: int):
        from posebooth.edits.person_placement import beside_others, free_colour
        src = self._scene.people[index].model_copy(deep=True)
        src.name = f"{src.name} copy"
        src.color = free_colour(self._scene.people)
        src = beside_others(self, src)
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
    def set_frame(self, frame: int) -> bool:
        frame = int(frame)
        changed = frame != self.frame
        self.frame = frame
        return changed

    def select(self, person: int | None, joint: int | None) -> bool:
        changed = (person, joint, None) != (self.selected_person, self.selected_joint, self.selected_prop)
        changed = changed or self.selected_finger is not None
        self.selected_person, self.selected_joint, self.selected_prop = person, joint, None
        self.selected_finger = None
        return changed

    def select_finger(self, person: int, side: str, joint: int) -> bool:
        """Pick one finger joint (MANO-15 index) of a hand; the body joint
        selection becomes that hand's wrist, so body tools act on the hand."""
        from posebooth.assets.smpl_skeleton import JOINT_INDEX
        wrist = JOINT_INDEX[f"{side}_wrist"]
        now = (self.selected_person, self.selected_joint, self.selected_prop, self.selected_finger)
        self.selected_person, self.selected_joint, self.selected_prop = person, wrist, None
        self.selected_finger = (side, int(joint))
        return now != (person, wrist, None, self.selected_finger)

    def select_prop(self, prop: int | None) -> bool:
        """Select a prop (people deselected), or nothing."""
        changed = (None, None, prop) != (self.selected_person, self.selected_joint, self.selected_prop)
        self.selected_person = self.selected_joint = None
        self.selected_prop = prop
        return changed

    def placed_props(self, on_error=None):
        """Every prop placed in the world (assets.props.scene_props)."""
        from posebooth.assets.props import scene_props
        return scene_props(self._scene, on_error)


class Document(EditableDocument):
    """A headless document: edits apply at once; undo() / redo() step back
    and forth through exact copies (a drag token merges a drag's edits into
    one step, as in the app)."""

    def __init__(self, scene: Scene | None = None, body_for=None):
        self._init_document(scene, body_for)
        self._done: list[tuple] = []
        self._undone: list[tuple] = []

    def _apply(self, kind: str, index: int | None, value) -> None:
        if kind == "person":
            self._put_person(index, value)
        elif kind == "camera":
            self._put_camera(value)
        else:
            self._put_scene(value)

    def _commit(self, kind, index, before, after, text, drag=None) -> None:
        last = self._done[-1] if self._done else None
        if drag is not None and last is not None and last[0] == (kind, index) and last[4] == drag:
            self._done[-1] = (last[0], last[1], after, text, drag)   # one drag, one step
        else:
            self._done.append(((kind, index), before, after, text, drag))
        self._undone.clear()
        self._apply(kind, index, after)

    def undo(self) -> bool:
        if not self._done:
            return False
        step = self._done.pop()
        self._undone.append(step)
        self._apply(*step[0], step[1])
        return True

    def redo(self) -> bool:
        if not self._undone:
            return False
        step = self._undone.pop()
        self._done.append(step)
        self._apply(*step[0], step[2])
        return True

    @property
    def undo_texts(self) -> list[str]:
        return [step[3] for step in self._done]
