"""Per-joint rotation as three Euler angles (degrees), in local or global axes.

What the pose panel's sliders show. Euler XYZ (extrinsic, Blender's default
'XYZ Euler' order) because that is what artists read; the scene itself keeps
SMPL's axis-angle. Local = the joint's rotation relative to its parent (SMPL
rest frames are world-aligned, so the axes are the body's X/Y/Z at rest);
global = the joint's orientation in world axes, parent chain included.
"""
from __future__ import annotations

import numpy as np

from posebooth.assets.joint_limits import clamp_rotvec
from posebooth.assets.smpl_skeleton import PARENTS, world_rotations
from posebooth.scene.rotation import Rotation
from posebooth.scene.tracks import PoseState

ORDER = "xyz"


def _world_rotations(pose: PoseState) -> np.ndarray:
    return world_rotations(pose.rotvecs())


def joint_euler_deg(pose: PoseState, joint: int, space: str = "local") -> np.ndarray:
    if space == "global":
        matrix = _world_rotations(pose)[joint]
        return Rotation.from_matrix(matrix).as_euler(ORDER, degrees=True)
    return Rotation.from_rotvec(pose.rotvecs()[joint]).as_euler(ORDER, degrees=True)


def with_joint_euler(pose: PoseState, joint: int, euler_deg, space: str = "local", limits: bool = False) -> PoseState:
    """A copy of `pose` whose joint has these Euler angles in `space`
    (clamped to the joint's limits when `limits`; the root is free)."""
    target = Rotation.from_euler(ORDER, np.asarray(euler_deg, dtype=np.float64), degrees=True)
    if space == "global" and PARENTS[joint] >= 0:
        parent_world = Rotation.from_matrix(_world_rotations(pose)[PARENTS[joint]])
        target = parent_world.inv() * target
    rot = pose.rotvecs().copy()
    rot[joint] = target.as_rotvec()
    if limits and joint > 0:
        rot[joint] = clamp_rotvec(joint, rot[joint])
    return pose.with_rotvecs(rot)
