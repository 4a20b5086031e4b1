"""IK (posebooth.assets.ik): exact reach, unreachable targets, joint limits,
the bend plane, and the 1 cm contract on the real anny body."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posebooth.assets.ik import (IK_EFFECTORS, TWO_BONE, effector_position, is_effector, rest_joints_of,
                                 solve_ik, solve_ik_on_body)
from posebooth.assets.joint_limits import violations, within_limits
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.assets.smpl_skeleton import REST_JOINTS
from reference_chain import forward_kinematics
from posebooth.scene.tracks import PoseState

STAND = PoseState(np.zeros(3), np.zeros((23, 3)), np.array([0.0, 0.93, 0.0]))


def _joints(pose, rest=REST_JOINTS):
    return forward_kinematics(pose.global_orient, pose.body_pose, pose.transl, rest)[0]


def _bent_pose() -> PoseState:
    """Arms lowered and elbows/knees bent a little, turned 20 degrees: a generic start."""
    bp = np.zeros((23, 3))
    bp[J["left_shoulder"] - 1] = [0, -0.3, -0.6]
    bp[J["right_shoulder"] - 1] = [0, 0.3, 0.6]
    bp[J["left_elbow"] - 1] = [0, -0.5, 0]
    bp[J["right_elbow"] - 1] = [0, 0.5, 0]
    bp[J["left_knee"] - 1] = [0.3, 0, 0]
    bp[J["right_knee"] - 1] = [0.3, 0, 0]
    return PoseState(np.array([0.0, 0.35, 0.0]), bp, np.array([0.2, 0.93, -0.1]))


def _chain_len(rest, a, b, eff):
    return np.linalg.norm(rest[b] - rest[a]) + np.linalg.norm(rest[eff] - rest[b])


def _reachable(joints, rest, e, offset, reach=0.85):
    """The effector moved by `offset`, pulled in to `reach` of the chain's
    length when that lands too far from the chain's root."""
    target = joints[e] + np.asarray(offset, float)
    if e not in TWO_BONE:
        return target
    a, b = TWO_BONE[e]
    d = target - joints[a]
    limit = reach * _chain_len(rest, a, b, e)
    return target if np.linalg.norm(d) <= limit else joints[a] + d / np.linalg.norm(d) * limit


@pytest.mark.parametrize("effector, offset", [
    ("left_wrist", [-0.15, 0.1, 0.25]), ("right_wrist", [0.08, 0.15, 0.1]),
    ("left_hand", [-0.2, 0.0, 0.15]), ("left_ankle", [0.0, 0.25, 0.2]),
    ("right_foot", [0.05, 0.15, 0.1]), ("head", [0.0, -0.05, 0.08]),
])
def test_reachable_targets_are_reached_within_limits(effector, offset):
    start = _bent_pose()
    e = J[effector]
    target = _reachable(_joints(start), REST_JOINTS, e, offset)
    out = solve_ik(start, e, target, REST_JOINTS)
    assert np.linalg.norm(_joints(out)[e] - target) < 1e-3
    assert violations(out) == []
    # The pelvis stays where it was (transl and the root are not IK's business).
    assert np.array_equal(out.transl, start.transl) and np.array_equal(out.global_orient, start.global_orient)


def test_two_bone_is_exact_without_limits():
    start = _bent_pose()
    for e in (J["left_wrist"], J["right_ankle"]):
        target = _reachable(_joints(start), REST_JOINTS, e, [-0.05, 0.12, 0.15])
        out = solve_ik(start, e, target, REST_JOINTS, limits=False)
        assert np.linalg.norm(_joints(out)[e] - target) < 1e-9


def test_only_the_chain_moves():
    start = _bent_pose()
    e = J["left_wrist"]
    out = solve_ik(start, e, _joints(start)[e] + [0.0, 0.2, 0.1], REST_JOINTS)
    changed = {i + 1 for i in range(23) if not np.array_equal(out.body_pose[i], start.body_pose[i])}
    assert changed <= set(TWO_BONE[e]) and changed


def test_unreachable_target_fully_extends_towards_it():
    start = _bent_pose()
    a, b = TWO_BONE[J["left_wrist"]]
    e = J["left_wrist"]
    shoulder = _joints(start)[a]
    target = shoulder + 3.0 * np.array([0.6, 0.2, 0.5]) / np.linalg.norm([0.6, 0.2, 0.5])
    out = solve_ik(start, e, target, REST_JOINTS)
    j = _joints(out)
    arm = j[e] - j[a]
    assert np.linalg.norm(arm) == pytest.approx(_chain_len(REST_JOINTS, a, b, e), abs=1e-3)
    cos = arm @ (target - j[a]) / np.linalg.norm(arm) / np.linalg.norm(target - j[a])
    assert np.degrees(np.arccos(min(cos, 1.0))) < 1.0
    assert violations(out) == []


def test_limits_are_respected_when_the_target_asks_for_more():
    """A target behind the back needs the elbow to hyperextend and the
    shoulder to go beyond its range: the answer stays inside the limits."""
    start = _bent_pose()
    e = J["left_wrist"]
    target = _joints(start)[J["left_shoulder"]] + np.array([-0.2, -0.1, -0.35])
    out = solve_ik(start, e, target, REST_JOINTS)
    assert violations(out) == []
    free = solve_ik(start, e, target, REST_JOINTS, limits=False)
    assert violations(free) != []   # the test target really is outside the limits


def test_bend_plane_is_kept():
    """Pulling the wrist closer bends the elbow further the way it already
    bends (forearm forwards), not backwards."""
    start = _bent_pose()
    e, (a, b) = J["left_wrist"], TWO_BONE[J["left_wrist"]]
    j0 = _joints(start)
    n0 = np.cross(j0[b] - j0[a], j0[e] - j0[b])
    target = j0[a] + 0.7 * (j0[e] - j0[a])
    out = solve_ik(start, e, target, REST_JOINTS)
    j1 = _joints(out)
    n1 = np.cross(j1[b] - j1[a], j1[e] - j1[b])
    assert n0 @ n1 / np.linalg.norm(n0) / np.linalg.norm(n1) > 0.9
    assert out.body_pose[b - 1][1] < start.body_pose[b - 1][1] < 0   # more flexion (left elbow: y < 0)


def test_dragged_ankle_keeps_the_foot_flat():
    start = STAND
    e = J["left_ankle"]
    target = _joints(start)[e] + np.array([0.0, 0.2, 0.15])
    out = solve_ik(start, e, target, REST_JOINTS)
    world = lambda p: forward_kinematics(p.global_orient, p.body_pose, p.transl)[1][e]  # noqa: E731
    assert np.allclose(world(out), world(start), atol=1e-9)


def test_effectors():
    for name in ("left_wrist", "right_hand", "left_ankle", "right_foot", "head"):
        assert is_effector(J[name])
    for name in ("pelvis", "left_elbow", "spine2"):
        assert not is_effector(J[name])
    assert is_effector(J["neck"]) and len(IK_EFFECTORS) == 10
    with pytest.raises(ValueError):
        solve_ik(STAND, J["left_elbow"], [0, 1, 0], REST_JOINTS)


def test_rotation_vectors_stay_valid():
    out = solve_ik(_bent_pose(), J["right_wrist"], [-0.1, 1.6, 0.4], REST_JOINTS)
    for rv in out.rotvecs():
        assert np.isfinite(rv).all() and np.linalg.norm(rv) <= np.pi + 1e-9
    assert all(within_limits(j + 1, r) for j, r in enumerate(out.body_pose))
    assert np.allclose(Rotation.from_rotvec(out.rotvecs()).as_matrix().shape, (24, 3, 3))


# -- the real body ---------------------------------------------------------------
@pytest.fixture(scope="module")
def anny():
    try:
        from posebooth.assets.anny_body import get_anny_body
        return get_anny_body()
    except Exception as exc:  # not installed or cannot build here
        pytest.skip(f"anny body unavailable: {exc}")


@pytest.mark.slow
@pytest.mark.parametrize("effector, offset", [
    ("left_wrist", [-0.1, 0.1, 0.2]), ("right_wrist", [0.12, -0.2, 0.15]),
    ("left_ankle", [0.0, 0.2, 0.2]), ("head", [0.0, -0.04, 0.08]),
])
def test_on_the_anny_body_the_actual_joint_reaches(anny, effector, offset):
    rest = rest_joints_of(anny)

    def joints_of(p):
        return anny.forward(p.global_orient[None].astype(np.float32), p.body_pose[None].astype(np.float32),
                            p.transl[None].astype(np.float32)).joints[0]

    start = _bent_pose()
    e = J[effector]
    j0 = np.asarray(joints_of(start), float)
    # The body's own skeleton: its zero-pose joints are the rest of SMPL's chain.
    assert np.abs(_joints(start, rest) - j0).max() < 0.01
    target = _reachable(j0, rest, e, offset)
    out = solve_ik_on_body(start, e, target, rest, joints_of)
    assert np.linalg.norm(np.asarray(joints_of(out))[e] - target) < 0.01
    assert violations(out) == []
    assert np.allclose(effector_position(out, e, rest), joints_of(out)[e], atol=0.01)
