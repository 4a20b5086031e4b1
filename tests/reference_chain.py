"""An SMPL kinematic chain written here, independently of posebooth's
(assets.smpl_skeleton.chain), so tests that check poses, IK, retargeting
and bodies compare against a reference the code did not produce.

Rodrigues' formula and SMPL's parent table, nothing else: a joint's world
rotation is its parent's times its own local rotation, and its position is
the parent's position plus the parent's world rotation applied to the rest
offset between them."""
import numpy as np

# SMPL-24's parents (SMPL's published kintree), written out again here.
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)


def rodrigues(rotvec) -> np.ndarray:
    v = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(v)
    if angle < 1e-12:
        return np.eye(3)
    k = v / angle
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle) * K + (1.0 - np.cos(angle)) * (K @ K)


def _one(go, bp, transl, rest):
    rot = [rodrigues(go)] + [rodrigues(r) for r in np.asarray(bp, np.float64).reshape(23, 3)]
    world = [None] * 24
    pos = np.zeros((24, 3))
    for j, p in enumerate(SMPL_PARENTS):
        if p < 0:
            world[j], pos[j] = rot[j], rest[j]
        else:
            world[j] = world[p] @ rot[j]
            pos[j] = pos[p] + world[p] @ (rest[j] - rest[p])
    return pos + np.asarray(transl, np.float64), np.stack(world)


def forward_kinematics(global_orient, body_pose, transl, rest_joints=None):
    """Same contract as posebooth's: (..., 3), (..., 23, 3) or (..., 69), (..., 3)
    -> joints (..., 24, 3), world rotations (..., 24, 3, 3). rest_joints
    defaults to posebooth's generic rest skeleton (data, not code)."""
    if rest_joints is None:
        from posebooth.assets.smpl_skeleton import REST_JOINTS as rest_joints
    go = np.asarray(global_orient, np.float64)
    batch = go.shape[:-1]
    bp = np.asarray(body_pose, np.float64).reshape(*batch, 69)
    tr = np.broadcast_to(np.asarray(transl, np.float64), (*batch, 3))
    flat = [_one(g, b, t, np.asarray(rest_joints, np.float64))
            for g, b, t in zip(go.reshape(-1, 3), bp.reshape(-1, 69), tr.reshape(-1, 3))]
    joints = np.stack([f[0] for f in flat]).reshape(*batch, 24, 3)
    rots = np.stack([f[1] for f in flat]).reshape(*batch, 24, 3, 3)
    return joints, rots
