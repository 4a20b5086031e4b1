"""Import BVH motion capture onto SMPL-24 as a Motion (PoseBooth's frame, metres).

Skeletons: CMU's 3ds Max-friendly one (LeftHip/LeftKnee/LeftAnkle/LeftToe,
lowerback/Chest/Chest2, LeftCollar/LeftShoulder/LeftElbow/LeftWrist), CMU's
MotionBuilder-friendly one (LeftUpLeg/LeftLeg/LeftFoot/LeftToeBase,
LowerBack/Spine/Spine1, LeftShoulder/LeftArm/LeftForeArm/LeftHand), Mixamo's
(`mixamorig:` + MotionBuilder-like names) and alike. Only the knees, elbows
and head are found by name (_ANCHORS), since "LeftShoulder" is a clavicle in
one convention and an upper arm in another; the rest follows from the tree:
a knee's parent is the hip, its first descendant away from it the ankle,
the root-to-arms chain is the spine, and so on.

Up axis and unit come from the rest skeleton (the OFFSETs): the axis from the
root towards the head is up (Y or Z), and the unit is the one of _UNITS that
makes the skeleton's height closest to an adult's.

Retargeting by limb directions: every BVH joint's world rotation G follows by
FK (each joint's channels compose in the file's order, as BVH defines). SMPL
joint k gets the world rotation G[driver] · C_k: the driver is the BVH joint
that turns the bone ending at the joint matched to k's child, and the fixed
C_k turns SMPL's rest bone onto the BVH's rest bone (the smallest such turn
after the parent's C, so twist follows the parent; the root's C aligns the
two bodies' up and left). SMPL bones then point as the BVH's at rest (G = I)
and turn with them ever after, whatever the BVH's rest pose (T, A, arms
down). SMPL joints with no match (e.g. a third spine joint) follow their
parent; fingers are not read.

transl is the pelvis: x and z are the BVH root's, in metres (AMASS import
keeps them too); its height is SMPL's own, since leg proportions differ: in
every frame SMPL's lowest sole (estimated from ankles and balls of the feet
as pose_tools does) is as high as the BVH's, and the first frame stands on
y = 0. A first frame that jumps into the motion (a T-pose or calibration
frame) is dropped.
"""
from __future__ import annotations

import math
import os
import re

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.assets.bvh_parse import Bvh, read_bvh_file
from posebooth.assets.motion import Z_UP_TO_Y_UP, Motion, MotionError, output_frames
from posebooth.assets.pose_tools import ANKLE_ABOVE_SOLE, FOOT_ABOVE_SOLE
from posebooth.assets.smpl_skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS, REST_JOINTS
from posebooth.scene.model import MAX_COORD, MAX_KEYS

# metres per file unit; CMU's unit is 1/0.45 inch (its ASF files' "length 0.45")
_UNITS = (("millimetres", 0.001), ("centimetres", 0.01), ("inches", 0.0254),
          ("CMU units (1/0.45 inch)", 0.0254 / 0.45), ("metres", 1.0))
ADULT_HEIGHT = 1.5       # m: a rest skeleton's extent along up (feet to head joint, or to the top)
MAX_TRANS = MAX_COORD - 1.0
T_POSE_JUMP = math.radians(20.0)   # a first frame this far (and 4x further than any later step) from the next
_CHUNK = 16_384                    # frames retargeted at once (bounds the temporary rotations)

# Normalised names (lower case, letters and digits, no "mixamorig:" prefix).
_ANCHORS = {
    "left_knee": {"leftleg", "leftknee", "lknee", "leftshin", "lshin", "leftlowerleg", "lleg", "leftcalf",
                  "lcalf", "shinl", "calfl", "lowerlegl"},
    "right_knee": {"rightleg", "rightknee", "rknee", "rightshin", "rshin", "rightlowerleg", "rleg", "rightcalf",
                   "rcalf", "shinr", "calfr", "lowerlegr"},
    "left_elbow": {"leftforearm", "leftelbow", "lelbow", "lforearm", "leftlowerarm", "llowerarm", "forearml",
                   "lowerarml"},
    "right_elbow": {"rightforearm", "rightelbow", "relbow", "rforearm", "rightlowerarm", "rlowerarm", "forearmr",
                    "lowerarmr"},
    "head": {"head"},
}
# joints whose height estimates the sole's: SMPL joint -> its height above the sole
_SOLE = {JOINT_INDEX[f"{side}_{j}"]: above for side in ("left", "right")
         for j, above in (("ankle", ANKLE_ABOVE_SOLE), ("foot", FOOT_ABOVE_SOLE))}
_EXAMPLES = {"left_knee": "LeftLeg, LeftKnee, L_Knee", "right_knee": "RightLeg, RightKnee, R_Knee",
             "left_elbow": "LeftForeArm, LeftElbow, L_Elbow", "right_elbow": "RightForeArm, RightElbow, R_Elbow",
             "head": "Head"}
_CHILDREN = [[c for c, p in enumerate(PARENTS) if p == j] for j in range(len(PARENTS))]
# the child whose bone a joint's rotation is matched by (spine3 also carries the collars)
_MAIN_CHILD = [(JOINT_INDEX["neck"] if JOINT_NAMES[j] == "spine3" else kids[0]) if kids else None
               for j, kids in enumerate(_CHILDREN)]


def _norm(name: str) -> str:
    return re.sub(r"^mixamorig\d*", "", re.sub(r"[^a-z0-9]", "", name.rsplit(":", 1)[-1].lower()))


def _smpl_path(k: int) -> list[int]:
    return [] if k < 0 else _smpl_path(PARENTS[k]) + [k]


def _frame(up: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Orthonormal columns (left, up, forward), up exact."""
    y = up / np.linalg.norm(up)
    x = left - y * (left @ y)
    x /= np.linalg.norm(x)
    return np.stack([x, y, np.cross(x, y)], axis=1)


class _Skeleton:
    """The BVH's rest skeleton and its match to SMPL-24's joints."""

    def __init__(self, bvh: Bvh):
        self.bvh, where = bvh, bvh.where
        joints = bvh.joints
        self.parent = [j.parent for j in joints]
        self.kids = [[c for c, p in enumerate(self.parent) if p == j] for j in range(len(joints))]
        self.names = [_norm(j.name) for j in joints]
        pos = np.zeros((len(joints), 3))
        for i, j in enumerate(joints):
            pos[i] = j.offset + (pos[j.parent] if j.parent >= 0 else 0.0)
        ends = np.array([pos[j] + off for j, off in bvh.end_sites]).reshape(-1, 3)
        anchor = {role: self._find(role) for role in _ANCHORS}

        up = pos[anchor["head"]] - pos[0]
        axis = int(np.argmax(np.abs(up)))
        if axis == 0 or up[axis] <= 0:
            raise MotionError(f"{where}: in the rest pose the head ({joints[anchor['head']].name}) is not above the "
                              f"root along +Y or +Z (it is {np.round(up, 4).tolist()} from it); BVH files are "
                              f"read with +Y or +Z up")
        self.up_axis = "YZ"[axis - 1]
        self.world = np.eye(3) if axis == 1 else Z_UP_TO_Y_UP
        heights = np.concatenate([pos, ends]) @ self.world[1]
        extent = float(heights.max() - heights.min())
        if not extent > 0:
            raise MotionError(f"{where}: the rest skeleton has no height (its OFFSETs are all zero)")
        self.unit, self.scale = min(_UNITS, key=lambda u: abs(math.log(extent * u[1] / ADULT_HEIGHT)))
        self.rest = pos * self.scale @ self.world.T          # metres, Y up
        self.match = self._match(anchor, extent * self.scale * 0.01)

    def _find(self, role: str) -> int:
        hits = [i for i, n in enumerate(self.names) if n in _ANCHORS[role]]
        if not hits:
            known = ", ".join(j.name for j in self.bvh.joints[:40])
            raise MotionError(f"{self.bvh.where}: no joint is named like a {role.replace('_', ' ')} (e.g. "
                              f"{_EXAMPLES[role]}); the skeleton's joints: {known}")
        return hits[0]

    def _size(self, j: int) -> int:
        return 1 + sum(self._size(c) for c in self.kids[j])

    def _away(self, j: int, eps: float, prefer: str = "") -> int | None:
        """The first joint below j, along its main (non-thumb) branch, that is not at j's place."""
        start = j
        while True:
            kids = [c for c in self.kids[j] if "thumb" not in self.names[c]]
            if not kids:
                return None
            j = next((c for c in kids if prefer and prefer in self.names[c]), max(kids, key=self._size))
            if np.linalg.norm(self.rest[j] - self.rest[start]) > eps:
                return j

    def path(self, j: int) -> list[int]:
        """Root to j, both included."""
        out = [j]
        while self.parent[out[-1]] >= 0:
            out.append(self.parent[out[-1]])
        return out[::-1]

    def _match(self, anchor: dict[str, int], eps: float) -> list[int | None]:
        m: dict[str, int | None] = {"pelvis": 0, "head": anchor["head"]}
        for side in ("left", "right"):
            knee, elbow = anchor[f"{side}_knee"], anchor[f"{side}_elbow"]
            if self.parent[knee] <= 0 or self.parent[elbow] <= 0:
                raise MotionError(f"{self.bvh.where}: the {side} knee or elbow hangs from the root; a hip and a "
                                  f"shoulder joint above them are needed")
            m[f"{side}_hip"], m[f"{side}_knee"] = self.parent[knee], knee
            m[f"{side}_ankle"] = self._away(knee, eps)
            if m[f"{side}_ankle"] is None:
                raise MotionError(f"{self.bvh.where}: the {side} knee {self.bvh.joints[knee].name!r} has no "
                                  f"joint below it; an ankle is needed")
            m[f"{side}_foot"] = self._away(m[f"{side}_ankle"], eps)
            m[f"{side}_shoulder"], m[f"{side}_elbow"] = self.parent[elbow], elbow
            m[f"{side}_wrist"] = self._away(elbow, eps)
            m[f"{side}_hand"] = self._away(m[f"{side}_wrist"], eps, "middle") if m[f"{side}_wrist"] is not None \
                else None
        left, right = self.path(m["left_shoulder"]), self.path(m["right_shoulder"])
        common = [a for a, b in zip(left, right) if a == b]
        spine = common[1:]                                   # root excluded; its last joint carries the arms
        if not spine:
            raise MotionError(f"{self.bvh.where}: the arms hang from the root joint; a spine joint above it "
                              f"is needed")
        m["spine3"] = spine[-1]
        m["spine1"] = spine[0] if len(spine) >= 2 else None
        m["spine2"] = spine[len(spine) // 2] if len(spine) >= 3 else None
        for side in ("left", "right"):
            collar = self.parent[m[f"{side}_shoulder"]]
            m[f"{side}_collar"] = collar if collar != spine[-1] else None
        up_neck = self.path(m["head"])
        if spine[-1] in up_neck:
            m["neck"] = next((j for j in up_neck[up_neck.index(spine[-1]) + 1:-1]
                              if np.linalg.norm(self.rest[j] - self.rest[spine[-1]]) > eps), None)
        return [m.get(name) for name in JOINT_NAMES]

    def retarget_plan(self) -> tuple[list[int | None], list[np.ndarray]]:
        """Per SMPL joint: the BVH joint whose world rotation it takes (None: follows its parent), and C."""
        b, rest = self.match, self.rest
        drivers: list[int | None] = [0] + [None] * 23
        across, up = rest[b[1]] - rest[b[2]], rest[b[9]] - rest[0]
        if np.linalg.norm(np.cross(across, up)) < 1e-4 * np.linalg.norm(up) ** 2:
            names = ", ".join(self.bvh.joints[j].name for j in (b[1], b[2], b[9]))
            raise MotionError(f"{self.bvh.where}: in the rest pose the hips and the spine ({names}) do not span "
                              f"a body: the hips must lie side by side, the spine above them")
        body = _frame(up, across)
        smpl = _frame(REST_JOINTS[9] - REST_JOINTS[0], REST_JOINTS[1] - REST_JOINTS[2])
        fixes = [body @ smpl.T]
        for k in range(1, 24):
            c_parent = fixes[PARENTS[k]]
            fixes.append(c_parent)
            if b[k] is None:
                continue
            child = _MAIN_CHILD[k]
            while child is not None and b[child] is None:
                child = _MAIN_CHILD[child]
            if child is None:                      # a leaf: turns as its joint does, relative to the parent
                drivers[k] = b[k]
                continue
            drivers[k] = self.parent[b[child]]
            bone = rest[b[child]] - rest[drivers[k]]
            if np.linalg.norm(bone) < 1e-9:
                bone = rest[b[child]] - rest[b[k]]
            if np.linalg.norm(bone) > 1e-9:
                turn = Rotation.align_vectors(bone[None], (c_parent @ (REST_JOINTS[child] - REST_JOINTS[k]))[None])[0]
                fixes[k] = turn.as_matrix() @ c_parent
        return drivers, fixes


def _locals(bvh: Bvh, j: int, rows: np.ndarray) -> np.ndarray:
    """Joint j's rotation matrix (N, 3, 3) in each row, channels composed in the file's order (intrinsic)."""
    joint = bvh.joints[j]
    cols = [(joint.first + c, ch[0]) for c, ch in enumerate(joint.channels) if ch.endswith("rotation")]
    angles = rows[:, [c for c, _ in cols]]
    if not angles.any():                       # e.g. CMU's zero-length joints that never turn
        return np.broadcast_to(np.eye(3), (len(rows), 3, 3))
    return Rotation.from_euler("".join(a for _, a in cols), angles, degrees=True).as_matrix()


def _starts_with_calibration(bvh: Bvh, values: np.ndarray, fps: float) -> bool:
    """A first frame far from the second, while later frames move smoothly."""
    if len(values) < 3:
        return False
    head = values[: min(len(values), 2 + math.ceil(fps))]
    steps = np.zeros(len(head) - 1)
    for j in range(len(bvh.joints)):
        r = _locals(bvh, j, head)
        cos = (np.trace(np.swapaxes(r[:-1], 1, 2) @ r[1:], axis1=1, axis2=2) - 1.0) / 2.0
        steps = np.maximum(steps, np.arccos(np.clip(cos, -1.0, 1.0)))
    return steps[0] > T_POSE_JUMP and steps[0] > 4 * steps[1:].max()


def read_bvh(path: str | os.PathLike, fps: float | None = None, max_frames: int | None = None) -> Motion:
    """Read, check and retarget a BVH file. With `fps` (the scene's rate), only
    the frames that sampling at `fps` needs (the first `max_frames` output
    frames when given) are retargeted, and a motion longer than a person can
    hold is refused, as motion.load_amass does."""
    bvh = read_bvh_file(path)
    where = bvh.where
    skel = _Skeleton(bvh)
    src_fps = 1.0 / bvh.frame_time
    if abs(src_fps - round(src_fps)) <= 1e-4 * src_fps:   # Frame Time .0083333 means 120 fps
        src_fps = float(round(src_fps))
    values = bvh.values[1:] if _starts_with_calibration(bvh, bvh.values, src_fps) else bvh.values
    n = len(values)
    if fps is not None:
        count = output_frames(n, src_fps, fps)
        count = min(count, max_frames) if max_frames is not None else count
        if count > MAX_KEYS:
            raise MotionError(f"{where}: {n} frames at {src_fps:g} fps make {count} frames at the scene's "
                              f"{fps:g} fps, more than the {MAX_KEYS} keys a person can hold; import fewer "
                              f"frames (--max-frames)")
        values = values[: min(int(math.floor((count - 1) * (src_fps / fps) + 1e-9)) + 2, n)]
        n = len(values)

    root = bvh.joints[0]
    pelvis = np.tile(root.offset, (n, 1))
    for c, ch in enumerate(root.channels):
        if ch.endswith("position"):
            pelvis[:, "XYZ".index(ch[0])] = values[:, root.first + c]
    pelvis = pelvis * skel.scale @ skel.world.T

    drivers, fixes = skel.retarget_plan()
    feet = [(k, skel.match[k], clear) for k, clear in _SOLE.items() if skel.match[k] is not None]
    needed = sorted({j for d in drivers + [b for _, b, _ in feet] if d is not None for j in skel.path(d)})
    w = skel.world
    rotvecs, bvh_sole, smpl_sole = np.empty((n, 24, 3)), np.empty(n), np.empty(n)
    for lo in range(0, n, _CHUNK):             # rotations as matrices: numpy's matmul is the fast product
        rows = values[lo: lo + _CHUNK]
        g: dict[int, np.ndarray] = {}
        at = {0: np.zeros((len(rows), 3))}               # BVH joints relative to the root
        for j in needed:                                 # parents come first in a BVH
            local = _locals(bvh, j, rows)
            local = local if skel.up_axis == "Y" else w @ local @ w.T
            p = skel.parent[j]
            g[j] = local if p < 0 else g[p] @ local
            if p >= 0:
                at[j] = at[p] + g[p] @ (skel.rest[j] - skel.rest[p])
        smpl: list[np.ndarray] = []
        for k in range(24):
            smpl.append(g[drivers[k]] @ fixes[k] if drivers[k] is not None else smpl[PARENTS[k]])
        local = np.stack([smpl[0]] + [np.swapaxes(smpl[PARENTS[k]], 1, 2) @ smpl[k] for k in range(1, 24)], 1)
        rotvecs[lo: lo + len(rows)] = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(-1, 24, 3)
        joints = {0: np.zeros((len(rows), 3))}           # SMPL's leg joints relative to the pelvis
        for k in sorted({j for k, _, _ in feet for j in _smpl_path(k)} - {0}):
            joints[k] = joints[PARENTS[k]] + smpl[PARENTS[k]] @ (REST_JOINTS[k] - REST_JOINTS[PARENTS[k]])
        bvh_sole[lo: lo + len(rows)] = np.min([at[b][:, 1] - c for _, b, c in feet], axis=0)
        smpl_sole[lo: lo + len(rows)] = np.min([joints[k][:, 1] - c for k, _, c in feet], axis=0)

    # Leg proportions differ, so the pelvis height is SMPL's own: its lowest sole stands where the
    # BVH's does, taking the BVH's first frame as the ground.
    pelvis[:, 1] += bvh_sole - smpl_sole - (pelvis[0, 1] + bvh_sole[0])
    worst = float(np.abs(pelvis).max())
    if not worst <= MAX_TRANS:
        raise MotionError(f"{where}: the root moves {worst:.6g} m from the origin (read as {skel.unit}, "
                          f"{skel.up_axis} up); positions must be within {MAX_TRANS:g} m")
    if not np.isfinite(rotvecs).all():   # a degenerate skeleton the checks above did not foresee
        raise MotionError(f"{where}: the skeleton's rest pose cannot be matched to SMPL's (degenerate bones)")
    return Motion("bvh", src_fps, rotvecs[:, 0].copy(), rotvecs[:, 1:].copy(), pelvis, None)
