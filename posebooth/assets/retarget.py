"""Retarget SMPL-24 poses onto anny's skeleton (pure torch).

Verified semantics of anny 0.6.2 ``pose_parameterization="local-ref"``
(anny/utils/kinematics.py ``forward_kinematic``): with U_c the bone's fixed
reference orientation and V_c its posed world orientation, the world rotation
relative to the reference pose, G_c = V_c U_c^T, obeys G_c = G_p D_c, and each
head moves as h_c = h_p + G_p (q_c - q_p), where q are the heads of the
*reference* pose (what identity deltas give: an A-pose, root head at the
origin). That is SMPL's chain with world-aligned local rotations, rooted at
G_0 = U_0^T D_0 and h_0 = U_0^T d_0 (U_0 = I on anny's rig).

So if every anny bone b is driven by an SMPL joint j(b) and a fixed
"reference -> T-pose" world rotation E_b (C_b in DESIGN.md, times a twist
share on a few bones), the target is G_b = G_j(b) E_b, and

    D_b = G_p^T G_b = E_p^T R_j E_b   if j(b) != j(p)   (j(p) = SMPL parent of j(b))
    D_b = E_p^T E_b                   if j(b) == j(p)

No chain is needed: the E's are per-shape constants (`prepare`, cached by the
caller), and a pose costs one batched E_p^T R E_b over the ~47 bones whose
delta is not the identity, plus the twist shares. This is DESIGN.md's
C_p^-1 R_j C_b, generalised to bones that share a joint.

Vectors and rotations are in anny's axes (Z up, front -Y) except the inputs
(Y-up world); the root delta also turns anny's axes into the world's.

The fingers follow the same recipe: the pose may carry both hands' MANO-15
joints after SMPL's 24 (54 joints), each of anny's finger bones is one of
them, and each phalanx is a segment aligned onto the flat hand's direction
(hand_skeleton.FLAT_HAND_DIRECTIONS).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from posebooth.assets.hand_skeleton import FLAT_HAND_DIRECTIONS, HAND_JOINT_INDEX, HAND_PARENTS
from posebooth.assets.smpl_skeleton import JOINT_INDEX, MIRROR, PARENTS, REST_JOINTS

# Y-up world -> anny axes: anny = (x, -z, y); world = (x, z, -y).
_TO_ANNY = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
_TO_ANNY_ORDER, _TO_ANNY_SIGN = [0, 2, 1], torch.tensor([1.0, -1.0, 1.0])
_FRONT = np.array([0.0, -1.0, 0.0])      # the body's front in anny axes
_LEFT = np.array([1.0, 0.0, 0.0])
# The generic SMPL skeleton, made left-right symmetric: its small asymmetries
# (the head 1.3 cm left of the neck) would otherwise tilt anny's head sideways.
_REST = (REST_JOINTS + REST_JOINTS[list(MIRROR)] * [-1.0, 1.0, 1.0]) / 2

# SMPL joint -> the anny bone whose head is that joint (its rotation centre).
JOINT_BONES = {
    "pelvis": "root", "spine1": "spine03", "spine2": "spine02", "spine3": "spine01",
    "neck": "neck01", "head": "head",
    **{f"{s}_{j}": f"{b}.{S}" for s, S in (("left", "L"), ("right", "R")) for j, b in (
        ("hip", "upperleg01"), ("knee", "lowerleg01"), ("ankle", "foot"), ("foot", "toe2-1"),
        ("collar", "clavicle"), ("shoulder", "upperarm01"), ("elbow", "lowerarm01"),
        ("wrist", "wrist"), ("hand", "finger3-1"))},
}

# Bone-name prefix -> (driving SMPL joint, sided?). Bones not listed follow their parent.
_DRIVERS = (
    ("root", "pelvis", False), ("pelvis", "pelvis", False), ("spine05", "pelvis", False),
    ("spine04", "pelvis", False), ("spine03", "spine1", False), ("spine02", "spine2", False),
    ("spine01", "spine3", False), ("neck", "neck", False), ("head", "head", False),
    ("upperleg", "hip", True), ("lowerleg", "knee", True), ("foot", "ankle", True),
    ("toe", "foot", True), ("clavicle", "collar", True), ("shoulder01", "collar", True),
    ("upperarm", "shoulder", True), ("lowerarm", "elbow", True), ("wrist", "wrist", True),
    ("metacarpal", "wrist", True), ("finger1-", "wrist", True), ("finger", "hand", True),
)

# The fingers: anny's finger{f}-{k} bones are MANO's joints, driven by the
# hand poses. Joints 24..38 of the extended pose are the left hand's MANO-15,
# 39..53 the right hand's; each finger's first joint hangs off the wrist, and
# the four fingers' also turn with SMPL's hand joint (R = R_hand R_mano), so
# that joint still bends the fingers as one on top of the hand pose.
N_POSE_JOINTS = 24 + 30
HAND_OFFSET = {"left": 24, "right": 39}
_ANNY_FINGER = {1: "thumb", 2: "index", 3: "middle", 4: "ring", 5: "pinky"}
POSE_PARENTS = tuple(PARENTS) + tuple(
    JOINT_INDEX[f"{side}_wrist"] if p < 0 else HAND_OFFSET[side] + p
    for side in ("left", "right") for p in HAND_PARENTS)
# (MCP joint, SMPL hand joint) of the four fingers, in the extended pose.
HAND_COMPOSED = tuple((HAND_OFFSET[side] + HAND_JOINT_INDEX[f"{f}1"], JOINT_INDEX[f"{side}_hand"])
                      for side in ("left", "right") for f in ("index", "middle", "ring", "pinky"))


def mano_joint(label: str) -> str | None:
    """The MANO joint name of an anny finger bone ("finger2-3.L" -> "index3"), else None."""
    base = label.split(".")[0]
    if not base.startswith("finger") or "-" not in base:
        return None
    f, k = base[6:].split("-")
    return f"{_ANNY_FINGER[int(f)]}{k}"

# Aligned segments: (name, start bone, end bone, SMPL limb, secondary ref, secondary target).
# The primary (start->end head vector) turns onto the SMPL T-pose limb; the
# secondary fixes the roll: the elbow/knee hinge, palms down (index knuckle
# forward), feet level; without one, the minimal rotation. Not aligned, on
# purpose: pelvis->hips (anny's hips sit level with its root, 51 deg off),
# spine2->spine3 (SMPL's tilts 31 deg forward of anny's), spine3->neck (20 deg
# back) and spine3->collars (40 deg): matching those would kink anny's back.
# They keep anny's rest direction and still turn exactly with SMPL's rotations.
_CENTRE_SEGMENTS = (
    ("lumbar", "root", "spine03", ("pelvis", "spine1")),
    ("spine1", "spine03", "spine02", ("spine1", "spine2")),
    ("neck", "neck01", "head", ("neck", "head")),
)
_CENTRE_SEGMENT_OF_PREFIX = (("spine05", "lumbar"), ("spine04", "lumbar"), ("spine03", "spine1"),
                             ("neck", "neck"))
_SEGMENTS = (
    ("upperleg", "upperleg01", "lowerleg01", ("hip", "knee"), "foot", "foot"),
    ("lowerleg", "lowerleg01", "foot", ("knee", "ankle"), "foot", "foot"),
    ("foot", "foot", "toe2-1", ("ankle", "foot"), "left", "left"),
    ("clavicle", "clavicle", "upperarm01", ("collar", "shoulder"), None, None),
    ("upperarm", "upperarm01", "lowerarm01", ("shoulder", "elbow"), "lowerarm", "front"),
    ("lowerarm", "lowerarm01", "wrist", ("elbow", "wrist"), "knuckles", "front"),
    ("wrist", "wrist", "finger3-1", ("wrist", "hand"), "knuckles", "front"),
)
_SEGMENT_OF_PREFIX = (
    ("upperleg", "upperleg"), ("lowerleg", "lowerleg"), ("foot", "foot"), ("toe", "foot"),
    ("clavicle", "clavicle"), ("shoulder01", "clavicle"), ("upperarm", "upperarm"),
    ("lowerarm", "lowerarm"), ("wrist", "wrist"), ("metacarpal", "wrist"), ("finger", "wrist"),
)
# Twist shares (bone, source bone, segment axis, fraction): the source's local
# rotation is split into swing and twist about the segment axis and `fraction`
# of the twist moves onto `bone` (slerp from identity), so forearm pronation and
# thigh/upper-arm roll spread over two bones instead of wrapping at one joint.
_TWISTS = (("upperarm01", "upperarm01", "upperarm", -0.5), ("lowerarm02", "wrist", "lowerarm", 0.5),
           ("upperleg01", "upperleg01", "upperleg", -0.5), ("lowerleg02", "foot", "lowerleg", 0.5))


def world_to_anny(aa: torch.Tensor) -> torch.Tensor:
    """Vectors or axis-angles from the Y-up world to anny axes: (x, y, z) -> (x, -z, y).

    For axis-angles this is the conjugation R -> M^T R M by the (proper) axis change M.
    """
    return aa[..., _TO_ANNY_ORDER] * _TO_ANNY_SIGN.to(aa.dtype)


def _side(label: str) -> str | None:
    return {"L": "left", "R": "right"}.get(label.rsplit(".", 1)[-1]) if "." in label else None


def _lookup(label: str, table) -> tuple | None:
    base = label.split(".")[0]
    return next((row for row in table if base.startswith(row[0])), None)


def bone_joints(labels: list[str], parents: list[int], hands_own_fingers: bool = False) -> list[int]:
    """SMPL joint index driving each anny bone (unlisted bones follow their parent).

    hands_own_fingers: give the thumb to the hand too (for part labels: all
    fingers are SMPL's hand part, while the thumb is posed with the wrist).
    """
    out: list[int] = []
    for b, label in enumerate(labels):
        row = _lookup(label, _DRIVERS)
        if row is None:
            out.append(out[parents[b]] if b else 0)
            continue
        name = "hand" if hands_own_fingers and label.startswith("finger") else row[1]
        side = _side(label)
        out.append(JOINT_INDEX[f"{side}_{name}" if row[2] else name])
    return out


def bone_drivers(labels: list[str], parents: list[int]) -> list[int]:
    """Joint of the extended pose (SMPL-24 + two MANO-15 hands) driving each anny bone."""
    out = bone_joints(labels, parents)
    for b, label in enumerate(labels):
        name, side = mano_joint(label), _side(label)
        if name is not None and side is not None:
            out[b] = HAND_OFFSET[side] + HAND_JOINT_INDEX[name]
    return out


class Prepared(NamedTuple):
    """Per-shape constants of the retargeting (batch 1 or B), reusable across poses."""
    left: torch.Tensor       # (Bs, a, 3, 3) E_p^T of the active bones
    right: torch.Tensor      # (Bs, a, 3, 3) E_b of the active bones
    twist_k: torch.Tensor    # (Bs, t, 3, 3) skew matrix [a]x of each twist axis
    twist_k2: torch.Tensor   # (Bs, t, 3, 3) [a]x^2


class SmplToAnny:
    """SMPL-24 axis-angles -> anny local-ref rotation deltas for all bones.

    The deltas pose anny directly in PoseBooth's Y-up world: the root delta
    carries the axis change, so anny's outputs need no conversion afterwards.
    """

    def __init__(self, labels: list[str], parents: list[int], reference_orientations: torch.Tensor):
        index = {label: i for i, label in enumerate(labels)}
        n = len(labels)
        joints = bone_drivers(labels, parents)
        parent = [0] + list(parents[1:])
        # Driven bones: where the SMPL joint changes; their delta is E_p^T R_j E_b.
        driven = [0] + [b for b in range(1, n) if joints[b] != joints[parent[b]]]
        for b in driven[1:]:
            if POSE_PARENTS[joints[b]] != joints[parent[b]]:
                raise ValueError(f"anny bone {labels[b]}: SMPL joint {joints[b]} does not "
                                 f"follow its parent's joint {joints[parent[b]]}")
        self.n_bones = n
        # Root: G_0 = U_0^T D_0 must be (anny -> world) @ R_0, so D_0 = U_0 M R_0.
        to_world = torch.tensor(_TO_ANNY.T, dtype=torch.float32)
        self.root_left = reference_orientations[0].float() @ to_world
        self.ref_root = reference_orientations[0].float()

        # Reference-pose vectors between heads, as sums of bone offsets along the tree.
        # A pair (a, b) is head(b) - head(a); (b, None) is bone b's own axis in
        # the reference pose (its head -> tail direction, U_b e_y: the same for
        # every shape), for the fingertips, which no bone head marks.
        vectors: list[tuple[str, str | None]] = []

        def vec(a: str, b: str | None) -> int:
            vectors.append((a, b))
            return len(vectors) - 1

        segs, seg_names = [], []   # (primary vector, target, secondary vector | -1 | -2, secondary target)
        for side, S in (("left", "L"), ("right", "R")):
            sec = {"foot": vec(f"foot.{S}", f"toe2-1.{S}"),
                   "lowerarm": vec(f"lowerarm01.{S}", f"wrist.{S}"),
                   "knuckles": vec(f"finger5-1.{S}", f"finger2-1.{S}")}
            rest = lambda j: _REST[JOINT_INDEX[f"{side}_{j}"]]
            tgt = {"foot": _TO_ANNY @ (rest("foot") - rest("ankle")), "front": _FRONT, "left": _LEFT}
            for name, a, b, (j0, j1), s_ref, s_tgt in _SEGMENTS:
                segs.append((vec(f"{a}.{S}", f"{b}.{S}"), _TO_ANNY @ (rest(j1) - rest(j0)),
                             -1 if s_ref is None else -2 if s_ref == "left" else sec[s_ref],
                             np.zeros(3) if s_tgt is None else tgt[s_tgt]))
                seg_names.append(f"{name}.{S}")
            # Each phalanx onto the flat hand's direction, rolled with the palm
            # (knuckles forward), so MANO's rotations bend it as they bend MANO's.
            for f in range(1, 6):
                for k in range(1, 4):
                    bone = f"finger{f}-{k}.{S}"
                    if bone not in index:
                        continue
                    end = f"finger{f}-{k + 1}.{S}" if k < 3 else None
                    name = f"{_ANNY_FINGER[f]}{k}"
                    target = _TO_ANNY @ FLAT_HAND_DIRECTIONS[side][HAND_JOINT_INDEX[name]]
                    segs.append((vec(bone, end), target, sec["knuckles"], _FRONT))
                    seg_names.append(f"{name}.{S}")
        for name, a, b, (j0, j1) in _CENTRE_SEGMENTS:
            target = _TO_ANNY @ (_REST[JOINT_INDEX[j1]] - _REST[JOINT_INDEX[j0]])
            segs.append((vec(a, b), target, -1, np.zeros(3)))
            seg_names.append(name)
        # Segments with a roll reference first, then the minimal rotations.
        order = sorted(range(len(segs)), key=lambda k: segs[k][2] == -1)
        segs, seg_names = [segs[k] for k in order], [seg_names[k] for k in order]

        ancestors = []
        for b in range(n):
            chain, c = set(), b
            while c > 0:
                chain.add(c)
                c = parents[c]
            ancestors.append(chain)
        pairs = [k for k, (_, b) in enumerate(vectors) if b is not None]
        axes = [k for k, (_, b) in enumerate(vectors) if b is None]
        path = np.zeros((len(pairs), n))
        for row, k in enumerate(pairs):
            a, b = vectors[k]
            path[row, list(ancestors[index[b]] - ancestors[index[a]])] += 1
            path[row, list(ancestors[index[a]] - ancestors[index[b]])] -= 1
        used = np.flatnonzero(np.abs(path).sum(0))
        f32 = torch.float32
        self.n_vectors, self.pair_rows, self.axis_rows = len(vectors), torch.tensor(pairs), torch.tensor(axes)
        self.axis_vectors = reference_orientations[[index[vectors[k][0]] for k in axes], :, 1].float()
        self.path = torch.tensor(path[:, used], dtype=f32)
        self.used = torch.tensor(used)
        self.used_parent = torch.tensor([parents[c] for c in used])
        self.used_parent_ref = reference_orientations[self.used_parent].float()
        self.used_parent_is_root = (self.used_parent == 0)[:, None, None]

        self.seg_vec = torch.tensor([s[0] for s in segs])
        self.seg_target = torch.tensor(np.array([s[1] for s in segs]), dtype=f32)
        framed = [i for i, s in enumerate(segs) if s[2] != -1]
        self.n_framed = len(framed)
        self.sec_vec = torch.tensor([max(segs[i][2], 0) for i in framed])   # -2: fixed lateral axis
        self.sec_fixed = torch.tensor([segs[i][2] == -2 for i in framed])[:, None]
        sec_target = torch.tensor(np.array([segs[i][3] for i in framed]), dtype=f32)
        self.frame_target = _frame(self.seg_target[:self.n_framed], sec_target)
        self.minimal_target = torch.nn.functional.normalize(self.seg_target[self.n_framed:], dim=-1)
        self.left_axis = torch.tensor(_LEFT, dtype=f32)

        # Per bone: which segment rotation E_b starts from (0 = identity, k+1 =
        # segment k). Root, pelvis, upper spine, head and eyes keep identity;
        # unknown bones follow their parent.
        seg_index = {name: k for k, name in enumerate(seg_names)}
        bone_seg: list[int] = []
        for b, label in enumerate(labels):
            row, centre = _lookup(label, _SEGMENT_OF_PREFIX), _lookup(label, _CENTRE_SEGMENT_OF_PREFIX)
            finger = mano_joint(label)
            if finger is not None and f"{finger}.{label[-1]}" in seg_index:
                bone_seg.append(seg_index[f"{finger}.{label[-1]}"] + 1)
            elif centre is not None:
                bone_seg.append(seg_index[centre[1]] + 1)
            elif row is not None and _side(label):
                bone_seg.append(seg_index[f"{row[1]}.{label[-1]}"] + 1)
            elif _lookup(label, _DRIVERS) is not None or b == 0:
                bone_seg.append(0)
            else:
                bone_seg.append(bone_seg[parents[b]])

        children = {b: [c for c in range(n) if parents[c] == b] for b in range(n)}
        tw = [(index[f"{b}.{S}"], index[f"{src}.{S}"], seg_index[f"{seg}.{S}"], frac)
              for b, src, seg, frac in _TWISTS for S in "LR"]
        for b, *_ in tw:   # the twist also enters the delta of the bone's single child
            if len(children[b]) != 1:
                raise ValueError(f"twist bone {labels[b]} must have exactly one child")

        # Active bones: those whose delta can differ from identity, i.e. driven
        # ones, ones whose E differs from their parent's, and the twist bones and
        # their children. Every other delta is E_p^T E_b = I.
        active = sorted(set(driven) | {t[0] for t in tw} | {children[t[0]][0] for t in tw}
                        | {b for b in range(1, n) if bone_seg[b] != bone_seg[parents[b]]})
        slot = {b: k for k, b in enumerate(active)}
        self.active = torch.tensor(active)
        self.active_seg = torch.tensor([bone_seg[b] for b in active])
        self.active_parent_seg = torch.tensor([bone_seg[parent[b]] for b in active])
        # Rotation of each active bone: 0 = identity, k+1 = SMPL joint k.
        self.active_rot = torch.tensor([joints[b] + 1 if b in driven else 0 for b in active])
        self.tw_bone = torch.tensor([slot[t[0]] for t in tw])
        self.tw_child = torch.tensor([slot[children[t[0]][0]] for t in tw])
        self.tw_src = torch.tensor([slot[t[1]] for t in tw])
        self.tw_seg = torch.tensor([t[2] for t in tw])
        if any(abs(t[3]) != 0.5 for t in tw):
            raise ValueError("twist shares must be +-1/2 (__call__ takes the half angle's sine and cosine)")
        self.tw_sign = torch.tensor([2 * t[3] for t in tw], dtype=f32)
        self.eye = torch.eye(3)
        self.mcp = torch.tensor([m for m, _ in HAND_COMPOSED])
        self.mcp_hand = torch.tensor([h for _, h in HAND_COMPOSED])

    def reference_vectors(self, rest_heads: torch.Tensor, rest_rot: torch.Tensor) -> torch.Tensor:
        """Head-to-head vectors of the reference pose, (B, K, 3), from anny's rest model.

        anny's reference offsets are q_c - q_p = A_p (h_c - h_p) with A_p = U_p R_p^T
        (A_root = I): the rest heads h re-posed by the reference orientations U.
        """
        h = rest_heads[:, self.used] - rest_heads[:, self.used_parent]
        A = self.used_parent_ref @ rest_rot[:, self.used_parent].transpose(-1, -2)
        A = torch.where(self.used_parent_is_root, self.eye, A)
        pairs = (self.path[..., None] * (A @ h[..., None])[:, None, ..., 0]).sum(-2)   # path @ offsets
        if not len(self.axis_rows):
            return pairs
        out = pairs.new_empty(pairs.shape[0], self.n_vectors, 3)
        out[:, self.pair_rows] = pairs
        out[:, self.axis_rows] = self.axis_vectors
        return out

    def segment_rotations(self, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """C for each segment, (B, S, 3, 3): reference -> SMPL T-pose, world-aligned
        anny axes; and each segment's unit reference direction (B, S, 3)."""
        p = torch.nn.functional.normalize(vectors[:, self.seg_vec], dim=-1)
        # Two-vector frames where the roll matters: C = F_target F_ref^T.
        s = torch.where(self.sec_fixed, self.left_axis, vectors[:, self.sec_vec])
        framed = self.frame_target @ _frame(p[:, :self.n_framed], s).transpose(-1, -2)
        # Minimal rotation elsewhere (clavicles, spine, neck): Rodrigues from a to b.
        a = p[:, self.n_framed:]
        b = self.minimal_target.expand_as(a)
        K = _skew(torch.linalg.cross(a, b))
        c = (a * b).sum(-1)[..., None, None]
        minimal = self.eye + K + K @ K / (1 + c).clamp_min(1e-6)
        return torch.cat([framed, minimal], 1), p

    def prepare(self, rest_heads: torch.Tensor, rest_rot: torch.Tensor) -> Prepared:
        """The per-shape part, from anny's rest model (rest heads (Bs, n, 3), rotations (Bs, n, 3, 3))."""
        C, axes = self.segment_rotations(self.reference_vectors(rest_heads, rest_rot))
        E = torch.cat([self.eye.expand(C.shape[0], 1, 3, 3), C], 1)
        K = _skew(axes[:, self.tw_seg])
        return Prepared(E[:, self.active_parent_seg].transpose(-1, -2), E[:, self.active_seg], K, K @ K)

    def __call__(self, aa: torch.Tensor, prep: Prepared, out: torch.Tensor | None = None) -> torch.Tensor:
        """aa: (B, 24, 3) SMPL axis-angles in the Y-up world, or (B, 54, 3) with
        the left and right hands' MANO-15 after them (flat hands when left out).
        Returns the local-ref rotation deltas (B, n_bones, 3, 3) that pose anny
        in the Y-up world, written into `out` if given (e.g. a view of 4x4
        deltas), which must hold identities elsewhere."""
        B = aa.shape[0]
        if out is None:
            out = self.eye.repeat(B, self.n_bones, 1, 1)
        R = rotvec_to_rotmat(world_to_anny(aa))
        if aa.shape[1] > 24:   # the four fingers turn with SMPL's hand joint too
            R[:, self.mcp] = R[:, self.mcp_hand] @ R[:, self.mcp]
            R = torch.cat([self.eye.expand(B, 1, 3, 3), R], 1)[:, self.active_rot]
        else:
            R = torch.cat([self.eye.expand(B, 1, 3, 3), R, self.eye.expand(B, 30, 3, 3)], 1)
            R[:, 1 + self.mcp] = R[:, 1 + self.mcp_hand]
            R = R[:, self.active_rot]
        D = prep.left @ R @ prep.right
        # Twist shares: split the source's local rotation X into swing and twist
        # about axis a; the twist angle is 2 atan2(v.a, w) for X's quaternion
        # (v, w), i.e. 2 atan2(s, c) with s = <X, [a]x>, c = 1 + tr X, straight
        # from the matrix. The share is half of it, phi = +-atan2(s, c), so its
        # sine and cosine are +-s/r and c/r (r = |(s, c)|; phi = 0 at r = 0):
        # no atan2, whose CPU kernel rounds differently in its vector and scalar
        # loops, so a pose's output changed at the last bit with the batch size.
        X = D[:, self.tw_src]
        s = (X * prep.twist_k).sum((-1, -2))
        c = X.diagonal(dim1=-2, dim2=-1).sum(-1) + 1
        r = (s * s + c * c).sqrt()
        none = r == 0
        r = torch.where(none, 1.0, r)
        sin = (self.tw_sign * s / r)[..., None, None]
        one_minus_cos = (1 - torch.where(none, 1.0, c / r))[..., None, None]
        T = self.eye + sin * prep.twist_k + one_minus_cos * prep.twist_k2
        D[:, self.tw_bone] = D[:, self.tw_bone] @ T
        D[:, self.tw_child] = T.transpose(-1, -2) @ D[:, self.tw_child]
        D[:, 0] = self.root_left @ D[:, 0]      # the root is active bone 0
        out[:, self.active] = D
        return out


def _frame(primary: torch.Tensor, secondary: torch.Tensor) -> torch.Tensor:
    """Orthonormal frame (columns: primary, secondary made orthogonal, their cross)."""
    x = torch.nn.functional.normalize(primary, dim=-1)
    secondary = secondary.expand_as(x)
    y = torch.nn.functional.normalize(secondary - (secondary * x).sum(-1, keepdim=True) * x, dim=-1)
    return torch.stack([x, y, torch.linalg.cross(x, y)], -1)


# Small products in this module (and the COCO head keypoints) stay off BLAS:
# MKL threads even tiny matmuls, and on a busy machine each threaded call can
# wait a scheduler slice for its second thread (20 ms each measured on a
# loaded 2-core box, where a whole batch-1 anny forward takes 5 ms). Products
# of 3x3 matrices are fine: torch does those itself.
# [v]x picked from (0, x, y, z, -x, -y, -z), row by row.
_SKEW_INDEX = [0, 6, 2, 3, 0, 4, 5, 1, 0]


def _skew(v: torch.Tensor) -> torch.Tensor:
    return torch.cat((torch.zeros_like(v[..., :1]), v, -v), -1)[..., _SKEW_INDEX].unflatten(-1, (3, 3))


def rotvec_to_rotmat(v: torch.Tensor) -> torch.Tensor:
    """Rodrigues: I + sinc(t) [v]x + sinc(t/2)^2 / 2 [v]x^2, t = |v|. Same as
    roma.rotvec_to_rotmat (checked in the tests) in a third of the ops, which
    counts at batch 1; sinc keeps it exact and finite at t = 0."""
    t = v.norm(dim=-1)[..., None, None] / torch.pi
    K = _skew(v)
    half = torch.sinc(t / 2)
    return torch.eye(3, dtype=v.dtype) + torch.sinc(t) * K + 0.5 * half * half * (K @ K)
