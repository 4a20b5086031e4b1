"""Mirror, copy side, reset, limb groups and joint limits, checked with the kinematic chain."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posebooth.assets import joint_limits as jl
from posebooth.assets.pose_tools import (LIMB_NAMES, copy_side, limb_joints, mirror_pose, place_on_ground,
                                         reset_joints, reset_pose, sole_height)
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.assets.smpl_skeleton import JOINT_NAMES, MIRROR, REST_JOINTS
from reference_chain import forward_kinematics
from posebooth.scene.tracks import PoseState

FLIP = np.array([-1.0, 1.0, 1.0])
# REST_JOINTS is a few mm asymmetric; a symmetrised copy makes mirror checks exact.
SYM = 0.5 * (REST_JOINTS + REST_JOINTS[list(MIRROR)] * FLIP)


def _random(seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    return PoseState(rng.normal(0, scale, 3), rng.normal(0, scale, (23, 3)), rng.normal(0, 1, 3))


def _fk(pose, rest=SYM):
    return forward_kinematics(pose.global_orient, pose.body_pose, pose.transl, rest)[0]


def _pose(go=(0, 0, 0), transl=(0, 0, 0), **rots):
    body = np.zeros((23, 3))
    for name, r in rots.items():
        body[J[name] - 1] = r
    return PoseState(np.array(go, float), body, np.array(transl, float))


def test_mirror_twice_is_identity_exactly():
    p = _random(1)
    m2 = mirror_pose(mirror_pose(p))
    for a, b in ((p.global_orient, m2.global_orient), (p.body_pose, m2.body_pose), (p.transl, m2.transl)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mirror_reflects_the_posed_skeleton(seed):
    p = _random(seed)
    np.testing.assert_allclose(_fk(mirror_pose(p)), _fk(p)[list(MIRROR)] * FLIP, atol=1e-12)


def test_mirror_moves_a_left_arm_raise_to_the_right_arm():
    p = _pose(transl=(0.3, 1.0, 0.2), left_shoulder=[0, -0.3, 1.2], left_elbow=[0, -0.8, 0])
    raised = _fk(p)
    assert raised[J["left_wrist"], 1] > raised[J["left_shoulder"], 1] + 0.2    # left arm up
    m = _fk(mirror_pose(p))
    assert m[J["right_wrist"], 1] > m[J["right_shoulder"], 1] + 0.2           # now the right one
    np.testing.assert_allclose(m[J["left_wrist"]], _fk(_pose(transl=(-0.3, 1.0, 0.2)))[J["left_wrist"]], atol=1e-12)
    np.testing.assert_allclose(m[J["right_wrist"]], raised[J["left_wrist"]] * FLIP, atol=1e-12)


def test_copy_side_makes_a_symmetric_pose():
    p = _random(3)
    p = PoseState(np.zeros(3), p.body_pose, np.zeros(3))
    out = copy_side(p, "left")
    for j, name in enumerate(JOINT_NAMES[1:], start=1):
        if name.startswith("left_"):
            np.testing.assert_array_equal(out.body_pose[j - 1], p.body_pose[j - 1])
            np.testing.assert_array_equal(out.body_pose[MIRROR[j] - 1], p.body_pose[j - 1] * [1, -1, -1])
        elif not name.startswith("right_"):
            np.testing.assert_array_equal(out.body_pose[j - 1], p.body_pose[j - 1])
    # with the centre line at rest, the posed skeleton is mirror-symmetric
    body = p.body_pose.copy()
    body[[J[n] - 1 for n in ("spine1", "spine2", "spine3", "neck", "head")]] = 0.0
    sym = copy_side(PoseState(np.zeros(3), body, np.zeros(3)), "left")
    joints = _fk(sym)
    np.testing.assert_allclose(joints[list(MIRROR)] * FLIP, joints, atol=1e-12)
    right = copy_side(p, "right")
    np.testing.assert_array_equal(right.body_pose[J["left_knee"] - 1], p.body_pose[J["right_knee"] - 1] * [1, -1, -1])
    with pytest.raises(ValueError):
        copy_side(p, "middle")


def test_reset_and_limbs():
    rest = reset_pose()
    np.testing.assert_array_equal(rest.rotvecs(), 0.0)
    assert rest.transl[0] == rest.transl[2] == 0.0 and 0.9 < rest.transl[1] < 1.0
    assert abs(sole_height(rest)) < 1e-12
    p = _random(4)
    out = reset_joints(p, limb_joints("left_arm"))
    for j in range(24):
        expect = 0.0 if JOINT_NAMES[j] in ("left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand") \
            else p.rotvecs()[j]
        np.testing.assert_array_equal(out.rotvecs()[j], expect)
    np.testing.assert_array_equal(reset_joints(p, [0]).global_orient, 0.0)
    with pytest.raises(IndexError):
        reset_joints(p, [24])
    legs = [JOINT_NAMES[j] for j in limb_joints("right_leg")]
    assert legs == ["right_hip", "right_knee", "right_ankle", "right_foot"]
    covered = sorted(j for name in LIMB_NAMES for j in limb_joints(name))
    assert covered == list(range(1, 24))           # every body joint in exactly one limb
    with pytest.raises(KeyError, match="left_arm"):
        limb_joints("tail")


def test_place_on_ground():
    p = place_on_ground(_random(5, 0.2), 0.5)
    assert abs(sole_height(p) - 0.5) < 1e-12


# --- joint limits --------------------------------------------------------------

def _direction(pose, a, b):
    joints = _fk(pose, REST_JOINTS)
    v = joints[J[b]] - joints[J[a]]
    return v / np.linalg.norm(v)


def test_limit_axes_move_limbs_the_anatomical_way():
    # Each of these is inside the limits and moves the limb the way the docstring says.
    cases = [
        ("left_knee", [1.2, 0, 0], "left_knee", "left_ankle", 2, -1),       # shank swings back
        ("right_knee", [1.2, 0, 0], "right_knee", "right_ankle", 2, -1),
        ("left_hip", [-1.2, 0, 0], "left_hip", "left_knee", 2, +1),         # thigh forward
        ("left_hip", [0, 0, 0.6], "left_hip", "left_knee", 0, +1),          # abduction: out to +X
        ("right_hip", [0, 0, -0.6], "right_hip", "right_knee", 0, -1),
        ("left_elbow", [0, -1.5, 0], "left_elbow", "left_wrist", 2, +1),    # forearm forwards
        ("right_elbow", [0, 1.5, 0], "right_elbow", "right_wrist", 2, +1),
        ("left_shoulder", [0, 0, 1.2], "left_shoulder", "left_elbow", 1, +1),   # arm up
        ("left_shoulder", [0, -1.2, 0], "left_shoulder", "left_elbow", 2, +1),  # arm forwards
        ("spine1", [0.6, 0, 0], "spine1", "neck", 2, +1),                   # bend forwards
        ("left_ankle", [0.6, 0, 0], "left_ankle", "left_foot", 1, -1),      # toes down
        ("left_wrist", [0, 0, -1.0], "left_wrist", "left_hand", 1, -1),     # palm-side flexion
    ]
    for joint, rv, a, b, axis, sign in cases:
        assert jl.within_limits(J[joint], rv), joint
        before, after = _direction(_pose(), a, b), _direction(_pose(**{joint: rv}), a, b)
        assert sign * (after[axis] - before[axis]) > 0.3, (joint, rv)
    # external rotation (x < 0) with a bent elbow points the forearm up
    up = _direction(_pose(left_shoulder=[-1.5, 0, 0], left_elbow=[0, -1.5, 0]), "left_elbow", "left_wrist")
    assert up[1] > 0.9 and jl.within_limits(J["left_shoulder"], [-1.5, 0, 0])


def test_knees_and_elbows_bend_one_way_only():
    knee = jl.clamp_rotvec(J["left_knee"], [-0.8, 0, 0])              # hyperextension
    np.testing.assert_allclose(knee, [np.radians(-5), 0, 0], atol=1e-12)
    np.testing.assert_allclose(jl.clamp_rotvec(J["right_knee"], [2.9, 0, 0]), [np.radians(150), 0, 0], atol=1e-12)
    elbow = jl.clamp_rotvec(J["left_elbow"], [0, 1.0, 0])             # backwards bend
    np.testing.assert_allclose(elbow, [0, np.radians(10), 0], atol=1e-12)
    np.testing.assert_allclose(jl.clamp_rotvec(J["right_elbow"], [0, -1.0, 0]), [0, np.radians(-10), 0], atol=1e-12)
    # a clamped knee cannot send the ankle forwards
    bad = _pose(left_knee=[-1.0, 0.5, 0.5])
    fixed = jl.clamp_pose(bad)
    assert _direction(fixed, "left_knee", "left_ankle")[2] < 0.1
    assert jl.violations(bad) == ["left_knee"] and jl.violations(fixed) == []


def test_clamp_leaves_inside_rotations_unchanged_and_is_idempotent():
    rng = np.random.default_rng(7)
    for j in range(1, 24):
        lim = jl.JOINT_LIMITS[j]
        for _ in range(20):
            p = rng.uniform(lim.lo, lim.hi) * 0.999
            swing = p.copy()
            swing[lim.twist_axis] = 0
            rv = jl.compose(j, swing, p[lim.twist_axis])
            assert jl.within_limits(j, rv)
            np.testing.assert_allclose(jl.clamp_rotvec(j, rv), rv, atol=1e-9)
        for _ in range(20):
            rv = rng.normal(0, 1.5, 3)
            c = jl.clamp_rotvec(j, rv)
            assert jl.within_limits(j, c, tol=1e-9), (JOINT_NAMES[j], rv)
            np.testing.assert_allclose(jl.clamp_rotvec(j, c), c, atol=1e-9)
    np.testing.assert_array_equal(jl.clamp_rotvec(0, [3.0, 0, 0]), [3.0, 0, 0])   # the root is free



def test_clamping_many_poses_at_once_matches_joint_by_joint():
    rng = np.random.default_rng(8)
    poses = rng.normal(0, 1.2, (5, 2, 23, 3))
    poses[0, 0] = 0.0
    poses[1, 1, 4] = [np.pi, 0, 0]                      # a half turn: the swing's special case
    batch = jl.clamp_body_rotvecs(poses)
    assert batch.shape == poses.shape
    for idx in np.ndindex(5, 2):
        one = np.array([jl.clamp_rotvec(j + 1, poses[idx][j]) for j in range(23)])
        np.testing.assert_array_equal(batch[idx], one)
        assert all(jl.within_limits(j + 1, batch[idx][j]) for j in range(23))

def test_decompose_compose_round_trip():
    rng = np.random.default_rng(8)
    for j in (1, 4, 10, 13, 16, 18):
        for rv in rng.normal(0, 1.0, (10, 3)):
            swing, twist = jl.decompose(j, rv)
            assert abs(swing[jl.JOINT_LIMITS[j].twist_axis]) < 1e-12       # swing is perpendicular to the bone
            back = Rotation.from_rotvec(jl.compose(j, swing, twist)).as_matrix()
            np.testing.assert_allclose(back, Rotation.from_rotvec(rv).as_matrix(), atol=1e-9)


def test_clamp_commutes_with_mirror():
    for seed in range(4):
        p = _random(seed, 1.0)
        a = jl.clamp_pose(mirror_pose(p))
        b = mirror_pose(jl.clamp_pose(p))
        np.testing.assert_allclose(Rotation.from_rotvec(a.rotvecs()).as_matrix(),
                                   Rotation.from_rotvec(b.rotvecs()).as_matrix(), atol=1e-9)
        np.testing.assert_array_equal(jl.clamp_pose(p).transl, p.transl)
        np.testing.assert_array_equal(jl.clamp_pose(p).global_orient, p.global_orient)
