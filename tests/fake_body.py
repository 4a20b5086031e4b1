"""A stand-in BodyModel for export tests: capsules along SMPL's kinematic
tree (posebooth.assets.smpl_skeleton), each rigidly attached to one joint and
labelled with that joint's part, so tests need no anny build.

The joints sit on the capsule axes (inside the body, like SMPL joints), the
torso is ~0.13 m thick in radius, limbs ~0.05 m: close enough to a person for
the visibility rule to be exercised the way it is on a real body.
"""
from __future__ import annotations

import os
import time
from functools import lru_cache

import numpy as np
import trimesh

from posebooth.assets.body import BodyOutput
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.assets.smpl_skeleton import REST_JOINTS, forward_kinematics

# (part label = joint the capsule follows, start joint, end point, radius).
# End points are joint indices, or a (joint, offset) pair for the leaf parts.
_SEGMENTS = [
    (0, J["left_hip"], J["right_hip"], 0.11),
    (0, 0, J["spine1"], 0.12),
    (3, J["spine1"], J["spine2"], 0.13),
    (6, J["spine2"], J["spine3"], 0.13),
    (9, J["spine3"], (J["spine3"], (0.0, 0.08, 0.0)), 0.12),
    (12, J["neck"], J["head"], 0.05),
    (15, J["head"], (J["head"], (0.0, 0.12, 0.01)), 0.095),
]
for side in ("left", "right"):
    s = 1.0 if side == "left" else -1.0
    _SEGMENTS += [
        (J[f"{side}_hip"], J[f"{side}_hip"], J[f"{side}_knee"], 0.07),
        (J[f"{side}_knee"], J[f"{side}_knee"], J[f"{side}_ankle"], 0.05),
        (J[f"{side}_ankle"], J[f"{side}_ankle"], J[f"{side}_foot"], 0.04),
        (J[f"{side}_foot"], J[f"{side}_foot"], (J[f"{side}_foot"], (0.0, 0.0, 0.05)), 0.035),
        (J[f"{side}_collar"], J[f"{side}_collar"], J[f"{side}_shoulder"], 0.05),
        (J[f"{side}_shoulder"], J[f"{side}_shoulder"], J[f"{side}_elbow"], 0.05),
        (J[f"{side}_elbow"], J[f"{side}_elbow"], J[f"{side}_wrist"], 0.04),
        (J[f"{side}_wrist"], J[f"{side}_wrist"], J[f"{side}_hand"], 0.03),
        (J[f"{side}_hand"], J[f"{side}_hand"], (J[f"{side}_hand"], (s * 0.07, 0.0, 0.0)), 0.025),
    ]

# COCO face points relative to the head joint (rest frame, metres): on the
# head capsule's skin (radius 0.095 about the axis head -> head + (0, .12, .01)),
# as the real backends' face points are mesh points.
_FACE = np.array([[0.0, 0.06, 0.10], [0.03, 0.09, 0.092], [-0.03, 0.09, 0.092],
                  [0.097, 0.07, 0.005], [-0.097, 0.07, 0.005]])
_COCO_BODY = [J[n] for n in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                             "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                             "right_knee", "left_ankle", "right_ankle")]


def _capsule(a: np.ndarray, b: np.ndarray, radius: float) -> trimesh.Trimesh:
    axis = b - a
    length = float(np.linalg.norm(axis))
    m = trimesh.creation.capsule(height=max(length, 1e-3), radius=radius, count=[12, 12])
    # trimesh's capsule is centred on the origin along Z; move its cap centres to z=0 and z=length.
    m.apply_translation([0, 0, length / 2.0])
    rot = trimesh.geometry.align_vectors([0, 0, 1], axis / max(length, 1e-9))
    m.apply_transform(rot)
    m.apply_translation(a)
    # A capsule has no rings along its straight part; a body mesh has vertices
    # everywhere (~1-2 cm apart), which the visibility rule relies on.
    v, f = trimesh.remesh.subdivide_to_size(m.vertices, m.faces, max_edge=0.04)
    return trimesh.Trimesh(v, f, process=False)


class FakeBody:
    """BodyModel protocol (posebooth.assets.body) on capsule geometry.
    Shape: one parameter `scale` (uniform size about the pelvis)."""

    name = "fake"
    version = "fake 1.0"
    shape_names = ("scale",)
    default_shape = np.array([1.0], np.float32)

    def __init__(self):
        verts, faces, labels, owner = [], [], [], []
        offset = 0
        for part, start, end, radius in _SEGMENTS:
            a = REST_JOINTS[start]
            b = REST_JOINTS[end] if isinstance(end, int) else REST_JOINTS[end[0]] + np.array(end[1])
            m = _capsule(a, b, radius)
            verts.append(m.vertices)
            faces.append(m.faces + offset)
            labels.append(np.full(len(m.vertices), part, np.uint8))
            offset += len(m.vertices)
        self.rest_vertices = np.concatenate(verts)
        self.faces = np.concatenate(faces).astype(np.int32)
        self.part_labels = np.concatenate(labels)

    def forward(self, global_orient, body_pose, transl, shape=None) -> BodyOutput:
        go = np.asarray(global_orient, np.float64).reshape(-1, 3)
        B = len(go)
        bp = np.asarray(body_pose, np.float64).reshape(B, 23, 3)
        tr = np.asarray(transl, np.float64).reshape(B, 3)
        scale = np.ones(B) if shape is None else np.asarray(shape, np.float64).reshape(-1, 1)[:, 0]
        scale = np.broadcast_to(scale, (B,))
        verts, joints, coco = [], [], []
        for b in range(B):
            rest = REST_JOINTS * scale[b]
            jts, rot = forward_kinematics(go[b], bp[b], tr[b], rest_joints=rest)
            lab = self.part_labels
            local = self.rest_vertices * scale[b] - rest[lab]
            v = np.einsum("vij,vj->vi", rot[lab], local) + jts[lab]
            face_pts = (rot[J["head"]] @ (_FACE * scale[b]).T).T + jts[J["head"]]
            verts.append(v)
            joints.append(jts)
            coco.append(np.concatenate([face_pts, jts[_COCO_BODY]]))
        return BodyOutput(np.asarray(verts, np.float32), np.asarray(joints, np.float32),
                          np.asarray(coco, np.float32))


@lru_cache(maxsize=1)
def fake_body() -> FakeBody:
    return FakeBody()


def fake_body_for(spec) -> FakeBody:
    """`body_for=` argument of pose_people: every person gets the fake body."""
    return fake_body()


def slow_fake_body_for(spec):
    """fake_body_for whose posing takes POSEBOOTH_TEST_POSE_DELAY seconds a
    call (read when called, so helper processes started with the variable
    set see it too): lets a test share an export with helper processes."""
    return _SlowFakeBody(fake_body(), float(os.environ.get("POSEBOOTH_TEST_POSE_DELAY", "0")))


def failing_fake_body_for(spec):
    """slow_fake_body_for that fails in any process but the test's own (in
    an export helper)."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        raise ValueError("this body cannot be built in a helper (test)")
    return slow_fake_body_for(spec)


class _SlowFakeBody:
    def __init__(self, body, delay: float):
        self._body, self._delay = body, delay

    def __getattr__(self, name):
        return getattr(self._body, name)

    def forward(self, *args, **kwargs):
        time.sleep(self._delay)
        return self._body.forward(*args, **kwargs)
