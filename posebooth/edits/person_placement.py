"""Where a new person stands and what colour it gets ("Add person",
"Duplicate", a motion imported as a new person).

A new body is put to the right (+x) of everyone, with a gap between its
posed mesh and theirs at the current frame, so arms held out (the T-pose
is 1.7 m wide) never reach into a neighbour. Its colour is the first of
the palette nobody wears, else a hue of its own.
"""
from __future__ import annotations

import colorsys

from posebooth.assets.starter import PALETTE
from posebooth.scene.model import Person
from posebooth.scene.tracks import pose_at

GAP_M = 0.15


def free_colour(people) -> list[float]:
    worn = {tuple(round(c, 4) for c in p.color) for p in people}
    for colour in PALETTE:
        if tuple(round(c, 4) for c in colour) not in worn:
            return list(colour)
    hue = (len(people) * 0.618034) % 1.0   # golden-ratio steps: hues far from the last ones
    return [round(c, 4) for c in colorsys.hsv_to_rgb(hue, 0.45, 0.85)]


def _x_span(doc, people, frame) -> tuple[float, float] | None:
    """(min x, max x) of these people's posed meshes at `frame`."""
    from posebooth.assets.posing import pose_people
    if not people:
        return None
    scene = doc.scene.model_copy(update={"people": list(people)})
    posed = pose_people(scene, frame, doc._body_for)
    lo = min(float(p.vertices[:, 0].min()) for p in posed)
    hi = max(float(p.vertices[:, 0].max()) for p in posed)
    return lo, hi


def beside_others(doc, person: Person) -> Person:
    """A copy of `person` moved along x (every key alike) to stand clear of
    everyone in the scene at the current frame."""
    frame = doc.frame
    try:
        others = _x_span(doc, doc.scene.people, frame)
        own = _x_span(doc, [person], frame)
        dx = 0.0 if others is None else others[1] + GAP_M - own[0]
    except Exception:   # a body that cannot be built here: a T-pose's width (1.7 m) from the pelvises
        pelvis = [pose_at(p, frame).transl[0] for p in doc.scene.people]
        dx = (max(pelvis) + 1.7 + GAP_M - pose_at(person, frame).transl[0]) if pelvis else 0.0
    moved = person.model_copy(deep=True)
    for k in moved.keys:
        k.transl = [k.transl[0] + dx, k.transl[1], k.transl[2]]
    return moved
