"""COCO-WholeBody's 133 keypoints of a posed person (FORMAT.md "Whole-body
keypoints"), in COCO-WholeBody's order: 17 body (COCO-17), 6 feet, 68 face
(iBUG-68), 21 left hand, 21 right hand.

All of them come from what the renderer draws: the body's COCO-17 points,
the posed finger bones and fingertip vertices (BodyOutput.hand21) and, for
anny, fixed vertices of the posed mesh for the feet and face, chosen once by
scripts/make_anny_wholebody.py and stored in resources/anny_wholebody.json.
Points a body does not have (the face of an SMPL body, the hands of a body
without fingers) are marked unavailable: written as (0, 0) with v = 0.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

NUM_WHOLEBODY = 133
BODY = slice(0, 17)
FEET = slice(17, 23)
FACE = slice(23, 91)
LEFT_HAND = slice(91, 112)
RIGHT_HAND = slice(112, 133)
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")
HAND_NAMES = ("wrist",) + tuple(f"{f}{k}" for f in _FINGERS for k in (1, 2, 3, 4))
WHOLEBODY_NAMES = (
    ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
     "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
     "right_knee", "left_ankle", "right_ankle")
    + tuple(f"{s}_{n}" for s in ("left", "right") for n in ("big_toe", "small_toe", "heel"))
    + tuple(f"face_{k}" for k in range(68))
    + tuple(f"left_{n}" for n in HAND_NAMES) + tuple(f"right_{n}" for n in HAND_NAMES))
HAND_WRIST_FROM_BODY = {LEFT_HAND.start: 9, RIGHT_HAND.start: 10}   # COCO-17 left_wrist, right_wrist
# Points on the skin (feet, face, fingertips): no own-skin thickness for visibility.
SURFACE = np.zeros(NUM_WHOLEBODY, bool)
SURFACE[FEET] = SURFACE[FACE] = True
SURFACE[[LEFT_HAND.start + 4 * f for f in range(1, 6)]] = True
SURFACE[[RIGHT_HAND.start + 4 * f for f in range(1, 6)]] = True
# Finger joints (MCP/PIP/DIP, thumb CMC/MCP/IP): inside the finger.
FINGER_JOINTS = np.array([h.start + 1 + 4 * f + k for h in (LEFT_HAND, RIGHT_HAND)
                          for f in range(5) for k in range(3)])
DATA_FILE = "anny_wholebody.json"


class WholeBodyDataError(RuntimeError):
    """The stored face / feet points do not fit this body's mesh."""


@lru_cache(maxsize=1)
def _surface_points() -> tuple[np.ndarray, np.ndarray, int]:
    """(74, S) vertex indices and weights of the feet and face points, and the
    vertex count they were chosen on."""
    data = json.loads(resources.files("posebooth.resources").joinpath(DATA_FILE).read_text())
    pts = data["points"]
    width = max(len(p["vertices"]) for p in pts)
    idx = np.zeros((len(pts), width), np.int64)
    w = np.zeros((len(pts), width), np.float32)
    for k, p in enumerate(pts):
        idx[k, :len(p["vertices"])] = p["vertices"]
        w[k, :len(p["weights"])] = p["weights"]
    return idx, w, int(data["vertex_count"])


def wholebody_points(person) -> tuple[np.ndarray, np.ndarray]:
    """A posed person (assets.posing.PosedPerson) -> (133, 3) world points and
    (133,) bool: which of them this body has (the others are zeros)."""
    out = np.zeros((NUM_WHOLEBODY, 3), np.float64)
    has = np.zeros(NUM_WHOLEBODY, bool)
    out[BODY], has[BODY] = person.coco17, True
    verts = np.asarray(person.vertices)
    if person.body.name == "anny":
        idx, w, count = _surface_points()
        if len(verts) != count:
            raise WholeBodyDataError(f"{DATA_FILE}: chosen on a mesh of {count} vertices, "
                                     f"this anny body has {len(verts)}")
        out[FEET.start:FACE.stop] = np.einsum("ks,ksd->kd", w, verts[idx].astype(np.float64))
        has[FEET.start:FACE.stop] = True
    hand21 = getattr(person, "hand21", None)
    if hand21 is not None:
        out[LEFT_HAND.start:], has[LEFT_HAND.start:] = np.asarray(hand21).reshape(42, 3), True
        # The hand's wrist is the body's wrist (the same bone head on anny).
        out[[LEFT_HAND.start, RIGHT_HAND.start]] = out[list(HAND_WRIST_FROM_BODY.values())]
    return out, has


@lru_cache(maxsize=4)
def _finger_segments_for(body) -> tuple[np.ndarray, ...] | None:
    model = getattr(body, "model", None)
    if body.name != "anny" or model is None:
        return None
    labels = list(model.bone_labels)
    parents = [int(p) for p in model.bone_parents]
    weights = model.vertex_bone_weights.numpy()
    dom = model.vertex_bone_indices.numpy()[np.arange(len(weights)), weights.argmax(1)]
    out = []
    for S in "LR":
        for f in range(1, 6):
            for k in (1, 2, 3):
                b = labels.index(f"finger{f}-{k}.{S}")
                out.append(np.flatnonzero(np.isin(dom, [b, parents[b]])))
    return tuple(out)


def finger_segments(body) -> tuple[np.ndarray, ...] | None:
    """For each of FINGER_JOINTS (left then right, thumb..pinky, 3 each): the
    vertices of the two bones that meet there (the bone the joint heads and
    its parent, by largest skinning weight); None for bodies without fingers."""
    return _finger_segments_for(body)
