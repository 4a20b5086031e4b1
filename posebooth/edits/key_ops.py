"""Keyframe edits used by the timeline and the menus (one undo step each).

Inserting a key always adds one (whatever auto-key says), holding the pose
or camera evaluated at the current frame, like Blender's I.
"""
from __future__ import annotations

from dataclasses import dataclass

from posebooth.edits.document import write_pose_fields
from posebooth.scene.model import CameraKey, CameraSpec, Person, PoseKey
from posebooth.scene.tracks import camera_key_at


def insert_pose_key(doc, index: int) -> None:
    frame, fields = doc.frame, doc.pose_of(index).to_key_fields()

    def mutate(p: Person):
        for k in p.keys:
            if k.frame == frame:
                write_pose_fields(k, fields)
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


def set_focal_length(doc, focal_mm: float, drag=None) -> None:
    """The lens is a setting of the camera: while every camera key has the
    same focal length it changes on all of them (auto-key or not). Only a lens
    the user has keyed to change (keys that differ) is keyed here."""
    keys = doc.scene.camera.keys
    if len({k.focal_mm for k in keys}) > 1:
        doc.set_camera_key("Focal length", drag=drag, focal_mm=float(focal_mm))
        return

    def mutate(c: CameraSpec):
        for k in c.keys:
            k.focal_mm = float(focal_mm)
    doc.edit_camera(mutate, "Focal length", drag)


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


# ---- several keys at once: retime, delete, copy and paste ---------------------
CAMERA = "camera"   # the camera's row in a key reference (row, frame); people are 0..N-1


def _row_keys(scene, row) -> list:
    return scene.camera.keys if row == CAMERA else scene.people[row].keys


def _set_row_keys(scene, row, keys) -> None:
    if row == CAMERA:
        scene.camera.keys = sorted(keys, key=lambda k: k.frame)
    else:
        scene.people[row].keys = sorted(keys, key=lambda k: k.frame)


def existing_refs(doc, refs) -> set:
    """The references among `refs` that still name a key (after undo, deletion...)."""
    scene, out = doc.scene, set()
    for row, frame in refs:
        if row != CAMERA and not (isinstance(row, int) and 0 <= row < len(scene.people)):
            continue
        if any(k.frame == frame for k in _row_keys(scene, row)):
            out.add((row, frame))
    return out


class KeyRetime:
    """Dragging selected keys along the timeline: every `move_by` rebuilds the
    rows from their state at the press, so a key passed over is not lost, and
    all moves of one drag merge into one undo step ("Move keys")."""

    def __init__(self, doc, refs):
        self.doc = doc
        self.refs = existing_refs(doc, refs)
        self.rows = {row for row, _ in self.refs}
        self.original = {row: [k.model_copy(deep=True) for k in _row_keys(doc.scene, row)] for row in self.rows}
        self.token = object()
        self.delta = 0

    def move_by(self, delta: int) -> set:
        """Shift the keys by `delta` frames from where they were at the press
        (not before frame 0); a moved key replaces an unselected one it lands on."""
        lowest = min((f for _, f in self.refs), default=0)
        delta = max(int(delta), -lowest)
        if delta == self.delta or not self.refs:
            return self.moved_refs()
        self.delta = delta
        refs, original = self.refs, self.original

        def mutate(scene):
            for row in self.rows:
                moved = [k.model_copy(update={"frame": k.frame + delta}) for k in original[row]
                         if (row, k.frame) in refs]
                landed = {k.frame for k in moved}
                kept = [k for k in original[row] if (row, k.frame) not in refs and k.frame not in landed]
                _set_row_keys(scene, row, [*kept, *moved])
        self.doc.edit_scene(mutate, "Move keys", drag=self.token)
        return self.moved_refs()

    def moved_refs(self) -> set:
        return {(row, f + self.delta) for row, f in self.refs}


def delete_keys(doc, refs) -> int:
    """Delete the keys `refs` in one undo step; each row keeps at least one key
    (a person or camera needs one). Returns how many keys went."""
    refs = existing_refs(doc, refs)
    doomed: dict = {}
    for row, frame in refs:
        doomed.setdefault(row, set()).add(frame)
    plan = {}
    for row, frames in doomed.items():
        keys = _row_keys(doc.scene, row)
        left = [k.frame for k in keys if k.frame not in frames]
        plan[row] = frames if left else frames - {keys[0].frame}
    count = sum(len(f) for f in plan.values())
    if not count:
        return 0

    def mutate(scene):
        for row, frames in plan.items():
            _set_row_keys(scene, row, [k for k in _row_keys(scene, row) if k.frame not in frames])
    doc.edit_scene(mutate, "Delete keys" if count > 1 else "Delete key")
    return count


@dataclass(frozen=True)
class KeyClip:
    """Copied keys, their frames relative to the first one: pose keys (body,
    hands and face) and camera keys."""
    pose_keys: tuple = ()
    camera_keys: tuple = ()

    @property
    def is_pose(self) -> bool:
        return len(self.pose_keys) == 1 and not self.camera_keys


def copy_keys(doc, refs) -> KeyClip | None:
    """The keys `refs`; keys of several people on one frame: the first person's wins."""
    refs = sorted(existing_refs(doc, refs), key=lambda r: (r[1], r[0] == CAMERA, r[0] if r[0] != CAMERA else 0))
    if not refs:
        return None
    first = refs[0][1]
    pose, camera = {}, {}
    for row, frame in refs:
        key = next(k for k in _row_keys(doc.scene, row) if k.frame == frame)
        (camera if row == CAMERA else pose).setdefault(frame - first, key.model_copy(update={"frame": frame - first}))
    return KeyClip(tuple(pose.values()), tuple(camera.values()))


def copy_pose(doc, index: int) -> KeyClip:
    """The person's pose at the current frame (as it is shown: interpolated between keys)."""
    return KeyClip((PoseKey(frame=0, **doc.pose_of(index).to_key_fields()),))


def paste(doc, clip: KeyClip, index: int | None, frame: int) -> bool:
    """Paste at `frame` in one undo step: pose keys onto person `index`, camera
    keys onto the camera. Pasted poses start where the person stands at
    `frame` (their ground position x, z; height and turn come with the pose),
    so a pose copied from another person does not land inside that person.
    A single copied pose is set like any pose edit (it keys the frame with
    auto-key on, else changes the key in force); keys replace those on the
    frames they land on."""
    from posebooth.scene.tracks import PoseState, pose_at
    if clip is None:
        return False
    pose = clip.pose_keys if index is not None else ()
    if pose:
        here = pose_at(doc.scene.people[index], frame).transl
        dx, dz = here[0] - pose[0].transl[0], here[2] - pose[0].transl[2]
        pose = tuple(k.model_copy(update={"transl": [k.transl[0] + dx, k.transl[1], k.transl[2] + dz]})
                     for k in pose)
    if clip.is_pose and index is not None:
        doc.set_frame(frame)
        doc.set_pose(index, PoseState.from_key(pose[0]), "Paste pose")
        return True
    if not pose and not clip.camera_keys:
        return False

    def shifted(keys):
        return [k.model_copy(update={"frame": k.frame + frame}) for k in keys]

    def mutate(scene):
        for row, keys in ((index, shifted(pose)), (CAMERA, shifted(clip.camera_keys))):
            if keys:
                landed = {k.frame for k in keys}
                _set_row_keys(scene, row, [*[k for k in _row_keys(scene, row) if k.frame not in landed], *keys])
    doc.edit_scene(mutate, "Paste keys")
    return True
