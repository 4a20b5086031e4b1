"""Pose edits driven by a mouse drag, Qt-free: rotate a joint with the gizmo,
move the body on the ground, drag an end effector with IK.

Each drag remembers the pose at the press and maps the current cursor to a
new PoseState from it, so a drag never accumulates rounding and an aborted
drag restores exactly. Coordinates are framebuffer pixels of `camera`.
"""
from __future__ import annotations

import numpy as np

from posebooth.assets.ik import solve_ik_on_body
from posebooth.assets.joint_labels import joint_label
from posebooth.assets.joint_limits import clamp_rotvec
from posebooth.assets.smpl_skeleton import JOINT_NAMES, PARENTS, rotation_matrices
from posebooth.assets.smpl_skeleton import world_rotations as _world_rotations
from posebooth.scene.camera import Camera
from posebooth.scene.rotation import Rotation
from posebooth.scene.tracks import PoseState
from posebooth.viewport.gizmo import Gizmo, RotationDrag
from posebooth.viewport.picking import pixel_ray, ray_plane, view_plane_point


def world_rotations(pose: PoseState) -> np.ndarray:
    """(24, 3, 3) world rotation of every joint (parent's world composed with its own)."""
    return _world_rotations(pose.rotvecs())


def joint_axes(pose: PoseState, joint: int, space: str) -> np.ndarray:
    """Gizmo axes (columns): the joint's world rotation ('local') or identity ('global')."""
    return world_rotations(pose)[joint] if space == "local" else np.eye(3)


def rotate_joint(pose: PoseState, joint: int, delta_world: np.ndarray, limits: bool = True) -> PoseState:
    """Apply a world-space rotation about the joint:
    R_local_new = R_parent_world^-1 . R_delta_world . R_parent_world . R_local,
    then clamp to the joint's limits (the root is free)."""
    world = world_rotations(pose)
    local = rotation_matrices(pose.rotvecs())
    pw = world[PARENTS[joint]] if joint > 0 else np.eye(3)
    new = pw.T @ delta_world @ pw @ local[joint]
    rv = Rotation.from_matrix(new).as_rotvec()
    if limits and joint > 0:
        rv = clamp_rotvec(joint, rv)
    rot = pose.rotvecs().copy()
    rot[joint] = rv
    return pose.with_rotvecs(rot)


class GizmoDrag:
    """Turn `joint` by a gizmo handle ('x', 'y', 'z', 'view', 'trackball')."""

    def __init__(self, pose: PoseState, joint: int, handle: str, gizmo: Gizmo, camera: Camera,
                 x: float, y: float, limits: bool = True):
        self.pose0, self.joint, self.limits = pose, joint, limits
        self.rot = RotationDrag(handle, gizmo, camera, x, y)
        self.text = "Turn body" if joint == 0 else f"Rotate {joint_label(JOINT_NAMES[joint])}"

    def pose_at(self, x: float, y: float) -> PoseState:
        return rotate_joint(self.pose0, self.joint, self.rot.rotation(x, y), self.limits)


class MoveDrag:
    """Move the whole body (transl) on the ground plane. The cursor ray meets
    the horizontal plane through the pelvis; in a near-horizontal view that
    plane is edge-on, so the view plane is used and its height change dropped."""

    text = "Move body"

    def __init__(self, pose: PoseState, camera: Camera, x: float, y: float):
        self.pose0, self.camera = pose, camera
        self.pelvis = np.array(pose.transl, float)
        self.horizontal = abs(camera.extrinsic[2, 1]) > 0.25
        self.start = self._point(x, y)

    def _point(self, x, y) -> np.ndarray:
        if self.horizontal:
            o, d = pixel_ray(self.camera, x, y)
            hit = ray_plane(o, d, self.pelvis, np.array([0.0, 1.0, 0.0]))
            if hit is not None:
                return hit
        return view_plane_point(self.camera, x, y, self.pelvis)

    def pose_at(self, x: float, y: float) -> PoseState:
        delta = self._point(x, y) - self.start
        delta[1] = 0.0
        return self.pose0.with_body(transl=self.pelvis + delta)


class IKDrag:
    """Drag an end effector: the target is the cursor ray on the plane through
    the effector parallel to the view plane (offset so the press does not jump)."""

    def __init__(self, pose: PoseState, joint: int, camera: Camera, x: float, y: float,
                 rest_joints: np.ndarray, effector_world: np.ndarray, joints_of=None, limits: bool = True):
        self.pose0, self.joint, self.camera = pose, joint, camera
        self.text = f"IK {joint_label(JOINT_NAMES[joint])}"
        self.rest, self.joints_of, self.limits = rest_joints, joints_of, limits
        self.anchor = np.asarray(effector_world, float)
        self.offset = self.anchor - view_plane_point(camera, x, y, self.anchor)
        self.target = self.anchor.copy()

    def pose_at(self, x: float, y: float) -> PoseState:
        self.target = view_plane_point(self.camera, x, y, self.anchor) + self.offset
        return self.solve(self.target)

    def solve(self, target) -> PoseState:
        return solve_ik_on_body(self.pose0, self.joint, target, self.rest, self.joints_of, self.limits)
