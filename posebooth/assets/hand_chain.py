"""A generic MANO-15 hand chain: where the finger joints are for a hand pose.

The rest offsets are a generic adult left hand (metres, T-pose: fingers along
+X, palm down, thumb forwards), measured from the wrist; the right hand is
its mirror (x -> -x). They are public hand proportions, not a licensed
model, and serve where a finger joint must be found on screen (picking,
the skeleton overlay, the finger gizmo). The chain hangs from the wrist
(SMPL-H's parent of the finger roots; the four fingers also turn with SMPL's
hand joint, as assets.retarget drives anny) and is scaled to the body's own
wrist-to-knuckle length.
"""
from __future__ import annotations

import numpy as np

from posebooth.assets.hand_skeleton import FINGERS, HAND_PARENTS
from posebooth.assets.smpl_skeleton import JOINT_INDEX, REST_JOINTS, chain, rotation_matrices

# Left hand, from the wrist, MANO order: per finger its 3 joints; tips after.
_FINGER_REST = {
    "index": ((0.088, 0.004, 0.024), (0.128, 0.002, 0.028), (0.152, 0.000, 0.030), (0.175, -0.002, 0.031)),
    "middle": ((0.092, 0.005, 0.003), (0.136, 0.003, 0.003), (0.164, 0.000, 0.003), (0.188, -0.002, 0.003)),
    "pinky": ((0.078, 0.000, -0.035), (0.108, -0.002, -0.041), (0.126, -0.003, -0.044), (0.145, -0.005, -0.046)),
    "ring": ((0.087, 0.003, -0.017), (0.127, 0.001, -0.020), (0.153, -0.001, -0.022), (0.176, -0.003, -0.023)),
    "thumb": ((0.025, -0.010, 0.025), (0.050, -0.015, 0.050), (0.073, -0.017, 0.068), (0.094, -0.018, 0.083)),
}
HAND_REST_LEFT = np.array([_FINGER_REST[f][k] for f in FINGERS for k in range(3)])   # (15, 3)
TIPS_REST_LEFT = np.array([_FINGER_REST[f][3] for f in FINGERS])                      # (5, 3)
# SMPL's hand joint sits among the knuckles: the chain is scaled by the body's own wrist-to-hand length.
_GENERIC_HAND_LENGTH = float(np.linalg.norm(REST_JOINTS[JOINT_INDEX["left_hand"]]
                                            - REST_JOINTS[JOINT_INDEX["left_wrist"]]))
_SIDE_FLIP = {"left": np.array([1.0, 1.0, 1.0]), "right": np.array([-1.0, 1.0, 1.0])}
# Bones to draw: (parent, child) in the 20 points [15 joints, 5 tips]; -1 = the wrist.
HAND_BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(HAND_PARENTS)) + tuple(
    (3 * f + 2, 15 + f) for f in range(5))


def hand_world(pose, side: str, joints24: np.ndarray | None = None):
    """Finger joints of one hand in world space for a PoseState.

    joints24: the body's own (24, 3) joints (its wrist and hand place and
    scale the chain); SMPL's generic rest skeleton when None. Returns
    (points (20, 3): 15 joints then 5 tips, world rotations (15, 3, 3) of
    the finger joints, the wrist's world rotation (3, 3))."""
    wrist_j, hand_j = JOINT_INDEX[f"{side}_wrist"], JOINT_INDEX[f"{side}_hand"]
    # One pass of the chain: its world rotations do not depend on the rest
    # skeleton or transl, so the generic joints come with them for free.
    generic24, world24 = chain(rotation_matrices(pose.rotvecs()), REST_JOINTS, pose.transl)
    joints24 = np.asarray(generic24 if joints24 is None else joints24, np.float64)
    scale = np.linalg.norm(joints24[hand_j] - joints24[wrist_j]) / _GENERIC_HAND_LENGTH
    rest = np.concatenate([HAND_REST_LEFT, TIPS_REST_LEFT]) * _SIDE_FLIP[side] * scale
    hand = np.asarray(pose.left_hand_pose if side == "left" else pose.right_hand_pose, np.float64).reshape(15, 3)
    local = rotation_matrices(hand)
    wrist_rot, wrist_pos = world24[wrist_j], joints24[wrist_j]
    pts, rots = np.zeros((20, 3)), np.zeros((15, 3, 3))
    for j, p in enumerate(HAND_PARENTS):
        if p < 0:   # a finger root: the four fingers also turn with SMPL's hand joint (retarget), the thumb not
            root_rot = wrist_rot if FINGERS[j // 3] == "thumb" else world24[hand_j]
            prot, ppos, prest = root_rot, wrist_pos, np.zeros(3)
        else:
            prot, ppos, prest = rots[p], pts[p], rest[p]
        pts[j] = ppos + prot @ (rest[j] - prest)
        rots[j] = prot @ local[j]
    for f in range(5):
        last = 3 * f + 2
        pts[15 + f] = pts[last] + rots[last] @ (rest[15 + f] - rest[last])
    return pts, rots, wrist_rot


def finger_parent_rotation(pose, side: str, joint: int) -> np.ndarray:
    """World rotation a finger joint's own rotation is composed onto: its
    parent's, for a finger root the wrist's (times SMPL's hand joint for the
    four fingers, as retarget composes R_hand R_mano)."""
    _, rots, _ = hand_world(pose, side)
    return rots[joint] @ rotation_matrices(
        np.asarray(getattr(pose, f"{side}_hand_pose"), np.float64).reshape(15, 3)[joint]).T
