"""A person's animation as BVH text (`posebooth scene export-motion`).

The skeleton is SMPL-24 with the names SMPL tools use in BVH (Pelvis,
L_Hip, ..., R_Hand), its offsets the generic rest skeleton
(assets.smpl_skeleton.REST_JOINTS) in centimetres, Y up, the body facing
+Z. SMPL's rest frames are world-aligned, so a joint's BVH rotation is
its SMPL local rotation, written as Euler angles in the channel order
below (intrinsic, as BVH composes them). The root's position channels
are the pelvis's world position (PoseBooth's transl, lifted as the posed
body is when the person stands on the ground). One BVH frame per timeline
frame, at the scene's fps, sampled from the interpolated keys.

PoseBooth's own BVH import (assets.bvh) reads this skeleton back joint by
joint; it puts the first frame's soles on y = 0, so a scene that starts
standing on the ground comes back unchanged.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.assets.smpl_skeleton import JOINT_NAMES, PARENTS, REST_JOINTS
from posebooth.scene.tracks import pose_at

BVH_NAMES = ("Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle",
             "Spine3", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder",
             "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand")
ORDER = "ZXY"            # rotation channels, as most BVH files (CMU) write them
CM = 100.0
# End sites of the leaves (metres, rest frame): toes forward, the top of the head, finger tips.
_END_SITES = {"left_foot": (0.0, -0.02, 0.08), "right_foot": (0.0, -0.02, 0.08), "head": (0.0, 0.16, 0.0),
              "left_hand": (0.08, 0.0, 0.0), "right_hand": (-0.08, 0.0, 0.0)}
_CHILDREN = [[c for c, p in enumerate(PARENTS) if p == j] for j in range(len(PARENTS))]


def person_poses(scene, person_index: int, frames, body_for=None) -> list:
    """The person's PoseState at each frame as PoseBooth renders it: the
    interpolated keys, lifted by the offset that keeps a person on the
    ground (assets.posing; one offset per person, so found on one frame)."""
    from posebooth.assets.posing import pose_people_frames

    frames = list(frames)
    poses = [pose_at(scene.people[person_index], f) for f in frames]
    if not frames or not getattr(scene.people[person_index], "on_ground", False):
        return poses
    first = pose_people_frames(scene, frames[:1], body_for)[0][person_index]
    dy = float(getattr(first, "ground_offset", 0.0))
    return [replace(p, transl=p.transl + np.array([0.0, dy, 0.0])) for p in poses] if dy else poses


def person_motion(scene, person_index: int, frames=None, body_for=None) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (N, 24, 3) axis-angle and pelvis positions (N, 3) of
    one person at each timeline frame (or the given frames), as rendered."""
    frames = list(scene.timeline.frames if frames is None else frames)
    poses = person_poses(scene, person_index, frames, body_for)
    rot = np.stack([np.concatenate([p.global_orient[None], p.body_pose]) for p in poses])
    return rot, np.stack([p.transl for p in poses])


def _hierarchy(j: int, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    offset = REST_JOINTS[j] - (REST_JOINTS[PARENTS[j]] if PARENTS[j] >= 0 else 0.0)
    channels = (["Xposition", "Yposition", "Zposition"] if j == 0 else []) + [f"{a}rotation" for a in ORDER]
    lines += [f"{pad}{'ROOT' if j == 0 else 'JOINT'} {BVH_NAMES[j]}", f"{pad}{{",
              f"{pad}  OFFSET {_numbers(offset * CM)}",
              f"{pad}  CHANNELS {len(channels)} {' '.join(channels)}"]
    for c in _CHILDREN[j]:
        _hierarchy(c, depth + 1, lines)
    if not _CHILDREN[j]:
        lines += [f"{pad}  End Site", f"{pad}  {{",
                  f"{pad}    OFFSET {_numbers(np.array(_END_SITES[JOINT_NAMES[j]]) * CM)}", f"{pad}  }}"]
    lines.append(f"{pad}}}")


def _numbers(values) -> str:
    return " ".join(f"{v:.6f}" for v in np.asarray(values, dtype=np.float64).ravel())


def _depth_first() -> list[int]:
    out: list[int] = []

    def visit(j):
        out.append(j)
        for c in _CHILDREN[j]:
            visit(c)
    visit(0)
    return out


def motion_bvh(rotvecs: np.ndarray, pelvis: np.ndarray, fps: float) -> str:
    """BVH text for local rotations (N, 24, 3) and pelvis positions (N, 3, metres)."""
    rotvecs = np.asarray(rotvecs, dtype=np.float64)
    n = rotvecs.shape[0]
    euler = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_euler(ORDER, degrees=True).reshape(n, 24, 3)
    # Whole turns added where an angle wraps: the same rotations, but curves a
    # player can interpolate between frames.
    euler = np.unwrap(euler, period=360.0, axis=0)
    order = _depth_first()
    columns = [np.asarray(pelvis, dtype=np.float64) * CM] + [euler[:, j] for j in order]
    values = np.concatenate(columns, axis=1)
    lines = ["HIERARCHY"]
    _hierarchy(0, 0, lines)
    lines += ["MOTION", f"Frames: {n}", f"Frame Time: {1.0 / fps:.9f}"]
    lines += [_numbers(row) for row in values]
    return "\n".join(lines) + "\n"


def scene_motion_bvh(scene, person_index: int = 0, body_for=None) -> str:
    """The BVH of one person of `scene` over its timeline (body_for: the
    body lookup that grounds the person, default the registry's)."""
    rot, pelvis = person_motion(scene, person_index, body_for=body_for)
    return motion_bvh(rot, pelvis, scene.timeline.fps)
