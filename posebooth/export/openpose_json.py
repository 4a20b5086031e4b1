"""The `openpose_json` pass: openpose/NNNNNN_keypoints.json per frame in
OpenPose's own output format (its --write_json: version 1.3, people[] with
pose_keypoints_2d in BODY_25, face_keypoints_2d (70), hand_left_keypoints_2d
and hand_right_keypoints_2d (21 each), flat x, y, c lists).

x, y are the exported 2D keypoints (annotations.npz wholebody133, same
pixel convention); c = v / 2 (1 visible, 0.5 occluded, 0 outside the image,
written as 0, 0, 0). Derived points: BODY_25's neck and mid-hip are the
midpoints of the shoulders / hips, the face's two pupils (OpenPose 68, 69)
the mean of each eye's six contour points; each takes its sources' lowest v.
"""
from __future__ import annotations

import json

import numpy as np

from posebooth.assets.wholebody import FACE, FEET, LEFT_HAND, RIGHT_HAND

# BODY_25 from COCO-WholeBody indices; tuples are midpoints.
BODY25_FROM_WHOLEBODY = (0, (5, 6), 6, 8, 10, 5, 7, 9, (11, 12), 12, 14, 16, 11, 13, 15, 2, 1, 4, 3,
                         17, 18, 19, 20, 21, 22)
_RIGHT_EYE = tuple(FACE.start + k for k in range(36, 42))   # iBUG 36-41: the subject's right eye
_LEFT_EYE = tuple(FACE.start + k for k in range(42, 48))
FACE70_FROM_WHOLEBODY = tuple(range(FACE.start, FACE.stop)) + (_RIGHT_EYE, _LEFT_EYE)
assert FEET.start == 17


def _gather(kp: np.ndarray, order) -> np.ndarray:
    """(133, 3) x, y, v -> (len(order), 3) x, y, c."""
    out = np.zeros((len(order), 3))
    for n, src in enumerate(order):
        group = kp[list(src) if isinstance(src, tuple) else [src]]
        v = group[:, 2].min()
        if v > 0:
            out[n] = (*group[:, :2].mean(0), v / 2.0)
    return out


def _flat(a: np.ndarray) -> list[float]:
    return [round(float(x), 3) for x in a.reshape(-1)]


def openpose_people(wholebody133: np.ndarray, has_face: np.ndarray | None = None,
                    has_hands: np.ndarray | None = None) -> dict:
    """One frame's (P, 133, 3) keypoints -> OpenPose's JSON object. A person
    whose body has no face (or no fingers) gets empty face (hand) lists, as
    OpenPose writes when face (hand) detection is off."""
    people = []
    for p, kp in enumerate(np.asarray(wholebody133, np.float64)):
        face = has_face is None or bool(has_face[p])
        hands = has_hands is None or bool(has_hands[p])
        people.append({
            "person_id": [-1],
            "pose_keypoints_2d": _flat(_gather(kp, BODY25_FROM_WHOLEBODY)),
            "face_keypoints_2d": _flat(_gather(kp, FACE70_FROM_WHOLEBODY)) if face else [],
            "hand_left_keypoints_2d": _flat(_gather(kp, range(LEFT_HAND.start, LEFT_HAND.stop))) if hands else [],
            "hand_right_keypoints_2d": _flat(_gather(kp, range(RIGHT_HAND.start, RIGHT_HAND.stop))) if hands else [],
            "pose_keypoints_3d": [], "face_keypoints_3d": [],
            "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": [],
        })
    return {"version": 1.3, "people": people}


def openpose_json_bytes(ann, people) -> bytes:
    """frame.annotations' FrameAnnotations -> the file's bytes. `people`: the
    frame's posed people (which have a face and fingers)."""
    has_face = np.array([p.body.name == "anny" for p in people], bool)
    has_hands = np.array([getattr(p, "hand21", None) is not None for p in people], bool)
    return json.dumps(openpose_people(ann.wholebody133, has_face, has_hands), separators=(",", ":")).encode()
