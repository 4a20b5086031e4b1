"""SMPL's 24-joint kinematic tree: names, parents and a generic rest skeleton.

The rest offsets are a generic (neutral, T-pose, Y-up, metres) skeleton, close
to SMPL's neutral model. They are public knowledge of human proportions, not
the licensed model; they serve as the reference kinematic chain in tests and
as the fallback skeleton where no body mesh is needed.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)
NUM_JOINTS = 24
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)

# Left <-> right partner of each joint (itself for the centre line).
MIRROR: tuple[int, ...] = tuple(
    JOINT_INDEX[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")]
    for n in JOINT_NAMES
)

# Joint positions of a generic neutral SMPL-like body in its T-pose rest
# (Y up, body facing +Z, the body's left at +X), metres, pelvis at origin.
REST_JOINTS = np.array([
    [0.000, 0.000, 0.000],     # pelvis
    [0.058, -0.082, -0.018],   # left_hip
    [-0.060, -0.091, -0.014],  # right_hip
    [0.004, 0.124, -0.038],    # spine1
    [0.102, -0.457, -0.010],   # left_knee
    [-0.107, -0.465, -0.006],  # right_knee
    [0.008, 0.262, -0.031],    # spine2
    [0.090, -0.878, -0.047],   # left_ankle
    [-0.091, -0.882, -0.051],  # right_ankle
    [0.006, 0.317, -0.007],    # spine3
    [0.113, -0.934, 0.075],    # left_foot
    [-0.115, -0.938, 0.080],   # right_foot
    [-0.009, 0.529, -0.041],   # neck
    [0.079, 0.435, -0.028],    # left_collar
    [-0.083, 0.433, -0.032],   # right_collar
    [0.004, 0.594, 0.010],     # head
    [0.174, 0.470, -0.043],    # left_shoulder
    [-0.173, 0.468, -0.048],   # right_shoulder
    [0.433, 0.457, -0.065],    # left_elbow
    [-0.429, 0.455, -0.074],   # right_elbow
    [0.687, 0.469, -0.068],    # left_wrist
    [-0.688, 0.466, -0.072],   # right_wrist
    [0.772, 0.460, -0.083],    # left_hand
    [-0.774, 0.458, -0.084],   # right_hand
], dtype=np.float64)

# Limbs for drawing and for direction tests: (parent, child) pairs of the tree.
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

# COCO-17 keypoint order (what coco.json and OpenPose images use).
COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO17_SKELETON: tuple[tuple[int, int], ...] = (  # 1-based, as in COCO's categories
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7),
    (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)
# COCO keypoints that coincide with an SMPL joint.
COCO17_FROM_SMPL = {
    5: JOINT_INDEX["left_shoulder"], 6: JOINT_INDEX["right_shoulder"],
    7: JOINT_INDEX["left_elbow"], 8: JOINT_INDEX["right_elbow"],
    9: JOINT_INDEX["left_wrist"], 10: JOINT_INDEX["right_wrist"],
    11: JOINT_INDEX["left_hip"], 12: JOINT_INDEX["right_hip"],
    13: JOINT_INDEX["left_knee"], 14: JOINT_INDEX["right_knee"],
    15: JOINT_INDEX["left_ankle"], 16: JOINT_INDEX["right_ankle"],
}


def rotation_matrices(rotvecs) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices (Rodrigues).

    Written here rather than taken from scipy's Rotation because the app's
    first frame draws the selected person's skeleton and fingers through it,
    and importing scipy.spatial costs about 0.4 s of a 2-core machine's warm
    start. It agrees with scipy to 1e-15 (tests/test_smpl_skeleton_rotations.py);
    per call it is slower (40 against 10 us for 24 joints), which the
    interactive paths calling it (drags, IK, overlays) do not notice."""
    rv = np.asarray(rotvecs, dtype=np.float64)
    theta2 = np.einsum("...i,...i->...", rv, rv)[..., None, None]
    theta = np.sqrt(theta2)
    small = theta2 < 1e-8   # Taylor terms there: sin(t)/t and (1-cos t)/t^2 lose digits near 0
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta2 / 6.0 + theta2 * theta2 / 120.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta2 / 24.0 + theta2 * theta2 / 720.0, (1.0 - np.cos(safe)) / (safe * safe))
    x, y, z = rv[..., 0], rv[..., 1], rv[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*rv.shape[:-1], 3, 3)
    return np.eye(3) + a * k + b * (k @ k)


def chain(local: np.ndarray, rest_joints: np.ndarray = REST_JOINTS, transl=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """SMPL's kinematic chain, the one implementation: local rotation
    matrices (..., 24, 3, 3) on a rest skeleton (24, 3), plus transl (..., 3).
    Returns joint positions (..., 24, 3) and world rotations (..., 24, 3, 3).
    Like SMPL, the root rotation turns the body about the pelvis joint."""
    local = np.asarray(local, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    world_rot = np.empty_like(local)
    joints = np.empty((*local.shape[:-3], 24, 3))
    joints[..., 0, :] = rest[0]
    world_rot[..., 0, :, :] = local[..., 0, :, :]
    for j in range(1, 24):
        p = PARENTS[j]
        world_rot[..., j, :, :] = world_rot[..., p, :, :] @ local[..., j, :, :]
        joints[..., j, :] = joints[..., p, :] + np.einsum("...ij,j->...i", world_rot[..., p, :, :], rest[j] - rest[p])
    return joints + np.asarray(transl, dtype=np.float64)[..., None, :], world_rot


def world_rotations(rotvecs) -> np.ndarray:
    """(..., 24, 3) local axis-angle -> (..., 24, 3, 3) world rotations."""
    return chain(rotation_matrices(rotvecs))[1]


def forward_kinematics(global_orient: np.ndarray, body_pose: np.ndarray, transl: np.ndarray,
                       rest_joints: np.ndarray = REST_JOINTS) -> tuple[np.ndarray, np.ndarray]:
    """global_orient (..., 3), body_pose (..., 23, 3) axis-angle; transl (..., 3).
    Returns joint positions (..., 24, 3) and world rotations (..., 24, 3, 3)."""
    go = np.asarray(global_orient, dtype=np.float64)
    bp = np.asarray(body_pose, dtype=np.float64).reshape(*go.shape[:-1], 23, 3)
    aa = np.concatenate([go[..., None, :], bp], axis=-2)
    return chain(rotation_matrices(aa), rest_joints, transl)
