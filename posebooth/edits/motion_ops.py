"""Importing a motion file into the open scene, in one undo step, three ways:

- "replace": the person's keys become the motion, from the timeline's start;
- "insert": the motion goes in at the current frame; the person's keys
  before it stay, the later ones move after the motion;
- "new": a new person carries the motion from the current frame, standing
  beside the others in a colour of its own.

The motion starts where the person stands (its ground position x, z at the
current frame; a new person: clear of everyone); its own travel follows.
"""
from __future__ import annotations

from pathlib import Path

from posebooth.assets.motion import import_motion
from posebooth.edits.person_placement import beside_others, free_colour
from posebooth.scene.model import Person, Scene
from posebooth.scene.tracks import pose_at

MODES = ("replace", "insert", "new")


def _moved(keys, dx: float, dz: float) -> list:
    return [k.model_copy(update={"transl": [k.transl[0] + dx, k.transl[1], k.transl[2] + dz]}) for k in keys]


def _started_at(keys, where) -> list:
    """The keys moved so that the first one stands at `where` (x, z)."""
    first = keys[0].transl
    return _moved(keys, where[0] - first[0], where[2] - first[2])


def import_motion_into(doc, path, mode: str, person: int) -> tuple[int, int]:
    """Import `path` (raises assets.motion.MotionError); returns (person index, first frame)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    scene, frame = doc.scene, doc.frame
    if mode == "new":
        holder = Person(name=Path(path).stem[:200] or "Motion", color=free_colour(scene.people))
        base = scene.model_copy(update={"people": [*scene.people, holder]})
        index = len(scene.people)
    else:
        base, index = scene, person
    start = scene.timeline.start if mode == "replace" else frame
    imported = import_motion(base, path, person_index=index, start_frame=start)
    motion = imported.people[index].keys
    if mode == "new":
        placed = beside_others(doc, imported.people[index])
        people = [*scene.people, placed]
    else:
        motion = _started_at(motion, pose_at(scene.people[person], frame).transl)
        old = scene.people[person].keys
        if mode == "insert":
            n = len(motion)
            later = [k.model_copy(update={"frame": k.frame + n}) for k in old if k.frame >= frame]
            motion = [*[k for k in old if k.frame < frame], *motion, *later]
        people = list(scene.people)
        people[person] = people[person].model_copy(update={"keys": motion})
    last = max(k.frame for p in people for k in p.keys)
    timeline = imported.timeline.model_copy(update={"end": max(imported.timeline.end, last)})

    def mutate(s: Scene):
        s.people, s.timeline = people, timeline
    what = {"replace": "Import motion", "insert": "Insert motion", "new": "Import motion as new person"}[mode]
    doc.edit_scene(mutate, f"{what} {Path(path).name}")
    return index, start
