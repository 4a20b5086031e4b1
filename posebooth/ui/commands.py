"""Undo commands. Every edit of the scene goes through one of these.

Commands keep exact before/after copies of what they change (a person, the
camera, or the whole scene), so undo and redo restore poses bit for bit.
A drag pushes many commands with the same `merge_id`; Qt merges them into one
undo step, keeping the first `before` and the last `after`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from posebooth.scene.model import CameraSpec, Person, Scene

if TYPE_CHECKING:
    from posebooth.ui.document import SceneDocument

_merge_ids: dict[str, int] = {}


def merge_id_for(name: str) -> int:
    """A stable positive id per merge name ('pose-drag', 'prompt', ...)."""
    return _merge_ids.setdefault(name, 1000 + len(_merge_ids))


class PersonCommand(QUndoCommand):
    def __init__(self, doc: "SceneDocument", index: int, before: Person, after: Person, text: str,
                 merge_id: int = -1, drag_token: object = None):
        super().__init__(text)
        self.doc, self.index, self.before, self.after = doc, index, before, after
        self._merge_id, self.drag_token = merge_id, drag_token

    def id(self) -> int:
        return self._merge_id

    def mergeWith(self, other) -> bool:
        if not isinstance(other, PersonCommand) or other.index != self.index \
                or other.drag_token is None or other.drag_token != self.drag_token:
            return False
        self.after = other.after
        return True

    def redo(self):
        self.doc._put_person(self.index, self.after)

    def undo(self):
        self.doc._put_person(self.index, self.before)


class CameraCommand(QUndoCommand):
    def __init__(self, doc, before: CameraSpec, after: CameraSpec, text: str, merge_id: int = -1,
                 drag_token: object = None):
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after
        self._merge_id, self.drag_token = merge_id, drag_token

    def id(self) -> int:
        return self._merge_id

    def mergeWith(self, other) -> bool:
        if not isinstance(other, CameraCommand) or other.drag_token is None \
                or other.drag_token != self.drag_token:
            return False
        self.after = other.after
        return True

    def redo(self):
        self.doc._put_camera(self.after)

    def undo(self):
        self.doc._put_camera(self.before)


class SceneCommand(QUndoCommand):
    """Whole-scene change (people added/removed, timeline, generation, import)."""

    def __init__(self, doc, before: Scene, after: Scene, text: str, merge_id: int = -1,
                 drag_token: object = None):
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after
        self._merge_id, self.drag_token = merge_id, drag_token

    def id(self) -> int:
        return self._merge_id

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SceneCommand) or other.drag_token is None \
                or other.drag_token != self.drag_token:
            return False
        self.after = other.after
        return True

    def redo(self):
        self.doc._put_scene(self.after)

    def undo(self):
        self.doc._put_scene(self.before)
