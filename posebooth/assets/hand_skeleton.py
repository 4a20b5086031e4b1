"""The MANO-15 hand: joint names, order and conventions (SMPL-H / SMPL-X / MANO).

A hand pose is 15 x 3 axis-angles in MANO's joint order, local rotations
in world-aligned axes at the flat T-pose hand (SMPL's convention for the
body), all zeros = the flat hand: fingers straight out along the arm,
palm down, thumb forward. The left hand is the right hand mirrored through
the body's midplane: a rotation vector (x, y, z) becomes (x, -y, -z).

Right hand (fingers along -X, palm facing -Y): bending a finger towards
the palm is a positive rotation about +Z; spreading towards the thumb
(+Z side) a positive rotation about +Y.
"""
from __future__ import annotations

import numpy as np

FINGERS = ("index", "middle", "pinky", "ring", "thumb")   # MANO's order (not anatomical)
HAND_JOINT_NAMES = tuple(f"{f}{k}" for f in FINGERS for k in (1, 2, 3))
HAND_JOINT_INDEX = {name: i for i, name in enumerate(HAND_JOINT_NAMES)}
# Parent within the hand: -1 = the wrist.
HAND_PARENTS = tuple(-1 if k == 0 else 3 * f + k - 1 for f in range(5) for k in range(3))
MIRROR_ROTVEC = np.array([1.0, -1.0, -1.0])   # a right-hand rotation vector -> the left hand's


def mirror_hand(pose: np.ndarray) -> np.ndarray:
    """A (15, 3) hand pose of one side as the other side's."""
    return np.asarray(pose, dtype=np.float64).reshape(15, 3) * MIRROR_ROTVEC


# The flat hand (all zeros), right hand, Y-up world: each finger straight
# (its three phalanges collinear) in the palm plane y = 0, pointing along
# -X turned towards the thumb (+Z) by its spread angle; the thumb straight,
# 45 degrees forward of the fingers and 15 degrees below the palm plane.
# Bodies pose their finger bones so that these are the phalanx directions at
# zero (retarget.py); the left hand's are mirrored (x -> -x).
FINGER_SPREAD_DEG = {"index": 6.0, "middle": 0.0, "ring": -6.0, "pinky": -12.0}
THUMB_FORWARD_DEG, THUMB_DOWN_DEG = 45.0, 15.0


def _flat_directions() -> np.ndarray:
    out = np.zeros((15, 3))
    for f, finger in enumerate(FINGERS):
        if finger == "thumb":
            a, d = np.radians(THUMB_FORWARD_DEG), np.radians(THUMB_DOWN_DEG)
            v = np.array([-np.cos(d) * np.cos(a), -np.sin(d), np.cos(d) * np.sin(a)])
        else:
            a = np.radians(FINGER_SPREAD_DEG[finger])
            v = np.array([-np.cos(a), 0.0, np.sin(a)])
        out[3 * f:3 * f + 3] = v
    return out


FLAT_HAND_DIRECTIONS = {"right": _flat_directions(), "left": _flat_directions() * [-1.0, 1.0, 1.0]}
"""Unit direction of each phalanx (joint -> next joint, the last to the
fingertip) in the flat hand, (15, 3) per side, MANO order."""

# The 21 hand keypoints of OpenPose / COCO-WholeBody: the wrist, then per
# finger (thumb, index, middle, ring, pinky) its three joints and its tip.
HAND21_NAMES = ("wrist",) + tuple(f"{f}{k}" for f in ("thumb", "index", "middle", "ring", "pinky")
                                  for k in (1, 2, 3, "_tip"))
