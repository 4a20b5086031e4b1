"""Hand edits on the selected person: finger curl and spread, hand presets,
one finger joint turned by the gizmo. Each is one undo step through the
document (a drag token merges a slider drag), keyed like the body, and kept
inside the finger limits while the document's joint limits are on.

Curl is a fraction of a full curl (0 straight, 1 a fist's bend; a little
below 0 bends backwards), the same fraction on each joint of the finger;
spread is the knuckle's (MCP's, the thumb's CMC) sideways angle in degrees,
positive away from the middle finger. Both keep the rest of each joint's
rotation (its twist and, for curl, its spread) as it was.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from posebooth.assets.hand_limits import clamp_hand, finger_joints, hand_params, hand_rotvec
from posebooth.assets.hand_skeleton import FINGERS, HAND_JOINT_NAMES
from posebooth.scene.tracks import PoseState

SIDES = ("left", "right")
# Flexion (degrees) of a full curl per joint from the palm out: a fist.
FULL_CURL = {"finger": (85.0, 95.0, 60.0), "thumb": (30.0, 40.0, 55.0)}
CURL_RANGE = (-0.2, 1.0)
SPREAD_RANGE_DEG = (-20.0, 25.0)


def sides_of(which: str) -> tuple[str, ...]:
    """'left', 'right' or 'both' -> the sides it names."""
    if which == "both":
        return SIDES
    if which not in SIDES:
        raise ValueError(f"hand must be 'left', 'right' or 'both', not {which!r}")
    return (which,)


def hand_of(pose: PoseState, side: str) -> np.ndarray:
    return np.array(pose.left_hand_pose if side == "left" else pose.right_hand_pose, dtype=np.float64).reshape(15, 3)


def with_hand(pose: PoseState, side: str, hand, limits: bool = False) -> PoseState:
    """`pose` with one hand replaced (clamped to the finger limits when `limits`)."""
    hand = np.asarray(hand, dtype=np.float64).reshape(15, 3)
    if limits:
        hand = clamp_hand(side, hand)
    return replace(pose.with_body(), **{f"{side}_hand_pose": hand.copy()})


def _full(finger: str) -> np.ndarray:
    return np.radians(FULL_CURL["thumb" if finger == "thumb" else "finger"])


def finger_curl(pose: PoseState, side: str, finger: str) -> float:
    """The finger's curl fraction (mean over its joints of flexion / full curl)."""
    hand = hand_of(pose, side)
    flex = [hand_params(side, j, hand[j])[1] for j in finger_joints(finger)]
    return float(np.mean(np.asarray(flex) / _full(finger)))


def finger_spread_deg(pose: PoseState, side: str, finger: str) -> float:
    j = finger_joints(finger)[0]
    return float(np.degrees(hand_params(side, j, hand_of(pose, side)[j])[2]))


def with_finger_curl(pose: PoseState, side: str, finger: str, curl: float, limits: bool = True) -> PoseState:
    hand = hand_of(pose, side)
    for j, full in zip(finger_joints(finger), _full(finger)):
        t, _, s = hand_params(side, j, hand[j])
        hand[j] = hand_rotvec(side, j, (t, float(curl) * full, s))
    return with_hand(pose, side, hand, limits)


def with_finger_spread(pose: PoseState, side: str, finger: str, spread_deg: float, limits: bool = True) -> PoseState:
    hand = hand_of(pose, side)
    j = finger_joints(finger)[0]
    t, f, _ = hand_params(side, j, hand[j])
    hand[j] = hand_rotvec(side, j, (t, f, np.radians(float(spread_deg))))
    return with_hand(pose, side, hand, limits)


# ---- document edits (one undo step each; drag merges a slider drag) --------
def _edit_sides(doc, which: str, change, text: str, drag=None) -> bool:
    """change(pose, side) on each chosen hand of the selected person, as one undo step."""
    i = doc.person_to_edit()
    if i is None:
        return False
    pose = doc.pose_of(i)
    for side in sides_of(which):
        pose = change(pose, side)
    doc.set_pose(i, pose, text, drag=drag)
    return True


def set_finger_curl(doc, which: str, finger: str, curl: float, drag=None) -> bool:
    """Curl one finger of the chosen hand(s): 'left', 'right' or 'both'."""
    return _edit_sides(doc, which, lambda pose, side: with_finger_curl(pose, side, finger, curl, doc.joint_limits),
                       f"Curl {finger} ({which})", drag)


def set_finger_spread(doc, which: str, finger: str, spread_deg: float, drag=None) -> bool:
    return _edit_sides(doc, which,
                       lambda pose, side: with_finger_spread(pose, side, finger, spread_deg, doc.joint_limits),
                       f"Spread {finger} ({which})", drag)


def finger_joint_deg(pose: PoseState, side: str, joint: int) -> np.ndarray:
    """(flex, spread, twist) degrees of one finger joint (hand_limits' axes)."""
    t, f, s = hand_params(side, joint, hand_of(pose, side)[joint])
    return np.degrees([f, s, t])


def set_finger_joint(doc, side: str, joint: int, flex_spread_twist_deg, drag=None) -> bool:
    """Set one finger joint's flex, spread and twist (degrees), clamped while limits are on."""
    i = doc.person_to_edit()
    if i is None:
        return False
    f, s, t = np.radians(np.asarray(flex_spread_twist_deg, dtype=np.float64))
    pose = doc.pose_of(i)
    hand = hand_of(pose, side)
    hand[joint] = hand_rotvec(side, joint, (t, f, s))
    doc.set_pose(i, with_hand(pose, side, hand, doc.joint_limits), f"Rotate {side} {HAND_JOINT_NAMES[joint]}",
                 drag=drag)
    return True


def apply_hand_preset(doc, name: str, which: str = "both") -> bool:
    """Pose the chosen hand(s) of the selected person with a hand preset."""
    from posebooth.assets.hand_presets import hand_preset, hand_preset_label
    return _edit_sides(doc, which, lambda pose, side: with_hand(pose, side, hand_preset(name, side), doc.joint_limits),
                       f"Hand preset: {hand_preset_label(name)} ({which})")


def reset_hands(doc, which: str = "both") -> bool:
    return _edit_sides(doc, which, lambda pose, side: with_hand(pose, side, np.zeros((15, 3))),
                       f"Flat hand ({which})")


def finger_names() -> tuple[str, ...]:
    return FINGERS
