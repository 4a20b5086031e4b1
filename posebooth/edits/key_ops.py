"""Keyframe edits used by the timeline and the menus (one undo step each).

Inserting a key always adds one (whatever auto-key says), holding the pose
or camera evaluated at the current frame, like Blender's I.
"""
from __future__ import annotations

from posebooth.scene.model import CameraKey, CameraSpec, Person, PoseKey
from posebooth.scene.tracks import camera_key_at


def insert_pose_key(doc, index: int) -> None:
    frame, fields = doc.frame, doc.pose_of(index).to_key_fields()

    def mutate(p: Person):
        for k in p.keys:
            if k.frame == frame:
                k.global_orient, k.body_pose, k.transl = fields["global_orient"], fields["body_pose"], fields["transl"]
                return
        interp = next((k.interp for k in reversed(p.keys) if k.frame < frame), "linear")
        p.keys = [*p.keys, PoseKey(frame=frame, interp=interp, **fields)]
    doc.edit_person(index, mutate, "Insert key")


def insert_camera_key(doc) -> None:
    frame = doc.frame
    current = camera_key_at(doc.scene.camera, frame).model_dump()
    current["frame"] = frame

    def mutate(c: CameraSpec):
        c.keys = sorted([*[k for k in c.keys if k.frame != frame], CameraKey(**current)], key=lambda k: k.frame)
    doc.edit_camera(mutate, "Key camera")


def delete_camera_key(doc, frame: int) -> bool:
    keys = doc.scene.camera.keys
    if len(keys) < 2 or all(k.frame != frame for k in keys):
        return False

    def mutate(c: CameraSpec):
        c.keys = [k for k in c.keys if k.frame != frame]
    doc.edit_camera(mutate, "Delete camera key")
    return True


def delete_pose_key(doc, index: int, frame: int) -> bool:
    keys = doc.scene.people[index].keys
    if len(keys) < 2 or all(k.frame != frame for k in keys):
        return False
    doc.delete_pose_key(index, frame)
    return True


def set_camera_interp(doc, frame: int, interp: str) -> None:
    def mutate(c: CameraSpec):
        for k in c.keys:
            if k.frame == frame:
                k.interp = interp
    doc.edit_camera(mutate, f"Camera interpolation: {interp}")


def key_frames(doc, row: int | None) -> list[int]:
    """Key frames of person `row`, or of the camera when row is None."""
    if row is None:
        return [k.frame for k in doc.scene.camera.keys]
    return [k.frame for k in doc.scene.people[row].keys]


def all_key_frames(doc) -> list[int]:
    frames = {k.frame for k in doc.scene.camera.keys}
    for p in doc.scene.people:
        frames.update(k.frame for k in p.keys)
    return sorted(frames)


def neighbour_key(doc, direction: int, row: int | None = "all") -> int | None:
    """The nearest key frame after (direction > 0) or before the current frame."""
    frames = all_key_frames(doc) if row == "all" else key_frames(doc, row)
    if direction > 0:
        later = [f for f in frames if f > doc.frame]
        return min(later) if later else None
    earlier = [f for f in frames if f < doc.frame]
    return max(earlier) if earlier else None
