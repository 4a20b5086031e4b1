"""Finger joints in the viewport, Qt-free: which hands show their joints,
picking one, and turning it with the rotate gizmo.

A hand shows its 15 finger joints when it is selected (its wrist or hand
joint, or one of its fingers) or when the view is close enough that the
hand, its wrist on screen, spans `CLOSE_PX` pixels. Positions are the body's
own finger joints (PosedPerson.hand21) or, for a body without fingers, the
generic MANO chain (assets.hand_chain) hung from its wrist.
"""
from __future__ import annotations

import numpy as np

from posebooth.assets.hand_chain import finger_parent_rotation, hand_world
from posebooth.assets.hand_limits import HAND_JOINT_NAMES, clamp_hand_rotvec
from posebooth.assets.hand_skeleton import FINGERS
from posebooth.assets.smpl_skeleton import JOINT_INDEX
from posebooth.scene.camera import Camera
from posebooth.scene.rotation import Rotation
from posebooth.scene.tracks import PoseState
from posebooth.viewport.drags import GizmoDrag
from posebooth.viewport.gizmo import Gizmo, RotationDrag
from posebooth.viewport.picking import pick_joint

CLOSE_PX = 90.0   # wrist-to-fingertip length on screen above which a hand shows its joints
SIDES = ("left", "right")


_HAND21_ORDER = ("thumb", "index", "middle", "ring", "pinky")
# Row of HAND21 (wrist, then per finger 3 joints and the tip) for our 20 points (MANO-15, then the 5 tips).
_FROM_HAND21 = np.array([1 + 4 * _HAND21_ORDER.index(f) + k for f in FINGERS for k in range(3)]
                        + [1 + 4 * _HAND21_ORDER.index(f) + 3 for f in FINGERS])


def hand_points(posed, side: str):
    """(points (20, 3): 15 finger joints then 5 tips, joint world rotations (15, 3, 3)) of a posed person.
    The points are the body's own finger joints where it has them (PosedPerson.hand21), else
    the generic chain's; the rotations (gizmo axes) come from the chain."""
    pts, rots, _ = hand_world(posed.pose, side, posed.joints)
    own = getattr(posed, "hand21", None)
    if own is not None:
        pts = np.asarray(own[SIDES.index(side)], np.float64)[_FROM_HAND21]
    return pts, rots


def shown_hands(camera: Camera, posed, selected_joint: int | None, selected_finger, close_px: float = CLOSE_PX):
    """The sides whose finger joints are shown (and pickable) now."""
    out = []
    for side in SIDES:
        own = {JOINT_INDEX[f"{side}_wrist"], JOINT_INDEX[f"{side}_hand"]}
        if selected_joint in own or (selected_finger is not None and selected_finger[0] == side):
            out.append(side)
            continue
        pts, _ = hand_points(posed, side)
        wrist = posed.joints[JOINT_INDEX[f"{side}_wrist"]]
        xy, z = camera.project(np.concatenate([np.asarray(wrist, float)[None], pts[15:]]))
        on_screen = 0 <= xy[0, 0] < camera.width and 0 <= xy[0, 1] < camera.height
        if on_screen and (z > camera.near).all() and np.linalg.norm(xy[1:] - xy[0], axis=1).max() >= close_px:
            out.append(side)
    return out


def pick_finger(camera: Camera, posed, sides, x: float, y: float, radius: float) -> tuple[str, int] | None:
    """(side, MANO-15 joint) of the finger joint marker under (x, y), or None."""
    if not sides:
        return None
    pts = np.concatenate([hand_points(posed, s)[0][:15] for s in sides])
    k = pick_joint(camera, pts, x, y, radius=radius, slack=1.0)
    return None if k is None else (sides[k // 15], k % 15)


def finger_label(side: str, joint: int) -> str:
    return f"{side} {HAND_JOINT_NAMES[joint]}"


def rotate_finger(pose: PoseState, side: str, joint: int, delta_world: np.ndarray, limits: bool = True) -> PoseState:
    """Turn one finger joint by a world rotation about it:
    R_local_new = P^-1 . delta . P . R_local (P: its parent's world rotation),
    clamped to the finger's limits when `limits`."""
    from dataclasses import replace
    attr = f"{side}_hand_pose"
    hand = np.array(getattr(pose, attr), dtype=np.float64).reshape(15, 3)
    pw = finger_parent_rotation(pose, side, joint)
    new = pw.T @ delta_world @ pw @ Rotation.from_rotvec(hand[joint]).as_matrix()
    rv = Rotation.from_matrix(new).as_rotvec()
    hand[joint] = clamp_hand_rotvec(side, joint, rv) if limits else rv
    return replace(pose.with_body(), **{attr: hand})


class FingerDrag(GizmoDrag):
    """Turn finger joint (side, joint) by a gizmo handle, measured from the
    press (a GizmoDrag whose joint is a finger's: the viewport treats both alike)."""

    def __init__(self, pose: PoseState, side: str, joint: int, handle: str, gizmo: Gizmo, camera: Camera,
                 x: float, y: float, limits: bool = True):
        self.pose0, self.side, self.joint, self.limits = pose, side, joint, limits
        self.rot = RotationDrag(handle, gizmo, camera, x, y)
        self.text = f"Rotate {finger_label(side, joint)}"

    def pose_at(self, x: float, y: float) -> PoseState:
        return rotate_finger(self.pose0, self.side, self.joint, self.rot.rotation(x, y), self.limits)
