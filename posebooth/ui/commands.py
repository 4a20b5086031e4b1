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


class _SnapshotCommand(QUndoCommand):
    """Swap between exact before/after copies; merges with a later command of
    the same class carrying the same drag token (one drag = one undo step)."""

    def __init__(self, doc: "SceneDocument", before, after, text: str, merge_id: int = -1,
                 drag_token: object = None):
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after
        self._merge_id, self.drag_token = merge_id, drag_token

    def id(self) -> int:
        return self._merge_id

    def _same_target(self, other) -> bool:
        return True

    def mergeWith(self, other) -> bool:
        if type(other) is not type(self) or other.drag_token is None \
                or other.drag_token != self.drag_token or not self._same_target(other):
            return False
        self.after = other.after
        return True

    def _put(self, value) -> None:
        raise NotImplementedError

    def redo(self):
        self._put(self.after)

    def undo(self):
        self._put(self.before)


class PersonCommand(_SnapshotCommand):
    def __init__(self, doc: "SceneDocument", index: int, before: Person, after: Person, text: str,
                 merge_id: int = -1, drag_token: object = None):
        super().__init__(doc, before, after, text, merge_id, drag_token)
        self.index = index

    def _same_target(self, other) -> bool:
        return other.index == self.index

    def _put(self, person: Person) -> None:
        self.doc._put_person(self.index, person)


class CameraCommand(_SnapshotCommand):
    def _put(self, camera: CameraSpec) -> None:
        self.doc._put_camera(camera)


class SceneCommand(_SnapshotCommand):
    """Whole-scene change (people added/removed, timeline, generation, import)."""

    def _put(self, scene: Scene) -> None:
        self.doc._put_scene(scene)
