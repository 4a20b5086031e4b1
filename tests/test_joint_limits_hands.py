"""Joint limits (hinged elbows and knees, finger joints) and the headless
hand and face edits (edits.hand_ops / face_ops on edits.document.Document).

References are plain math written here: rotation matrices from scipy, the
bone direction of a rotated joint, the angle it makes with its hinge plane."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posebooth.assets import hand_limits as hl
from posebooth.assets import joint_limits as jl
from posebooth.assets.ik import TWO_BONE, solve_ik
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.assets.smpl_skeleton import REST_JOINTS
from posebooth.assets.starter import starter_scene
from posebooth.edits import face_ops, hand_ops, pose_ops
from posebooth.edits.document import Document
from posebooth.edits.joint_rotation import with_joint_euler
from posebooth.scene.tracks import PoseState
from posebooth.viewport.drags import rotate_joint
from posebooth.viewport.finger_drags import rotate_finger

RNG = np.random.default_rng(13)
MIRROR = np.array([1.0, -1.0, -1.0])


def _rest() -> PoseState:
    return PoseState(np.zeros(3), np.zeros((23, 3)), np.array([0.0, 0.96, 0.0]))


def _random_rotations(n: int, max_angle: float = np.pi) -> np.ndarray:
    axes = RNG.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    return axes * RNG.uniform(0, max_angle, size=(n, 1))


def _twist_deg(rotvec, bone) -> float:
    """Twist of a rotation about a bone (swing-twist, written out here): the
    angle the rotation turns a vector perpendicular to the bone, after undoing
    the swing that carries the bone to its new direction."""
    r = Rotation.from_rotvec(rotvec)
    b2 = r.apply(bone)
    axis = np.cross(bone, b2)
    s = np.linalg.norm(axis)
    swing = Rotation.identity() if s < 1e-12 else Rotation.from_rotvec(axis / s * np.arctan2(s, bone @ b2))
    twist = swing.inv() * r
    perp = np.cross(bone, [0.3, 0.9, 0.1])
    perp /= np.linalg.norm(perp)
    v = twist.apply(perp)
    return float(np.degrees(np.arctan2(np.cross(perp, v) @ bone, perp @ v)))


# ---- elbows and knees are hinges --------------------------------------------------
def test_an_elbow_twist_past_its_range_is_clamped_and_free_posing_lets_it_through():
    forearm = np.array([1.0, 0.0, 0.0])   # the left forearm's bone at rest
    for deg in (120.0, 179.0, -170.0):
        rv = np.radians([deg, 0.0, 0.0])
        clamped = jl.clamp_rotvec(J["left_elbow"], rv)
        assert abs(_twist_deg(clamped, forearm)) <= 35.0 + 1e-6
        # the slider path and the gizmo path, limits on and off
        pose = with_joint_euler(_rest(), J["left_elbow"], [deg, 0, 0], "local", limits=True)
        assert abs(_twist_deg(pose.rotvecs()[J["left_elbow"]], forearm)) <= 35.0 + 1e-6
        free = with_joint_euler(_rest(), J["left_elbow"], [deg, 0, 0], "local", limits=False)
        assert abs(_twist_deg(free.rotvecs()[J["left_elbow"]], forearm)) == pytest.approx(abs(deg), abs=1e-6)
        turned = rotate_joint(_rest(), J["left_elbow"], Rotation.from_rotvec(rv).as_matrix(), limits=False)
        assert abs(_twist_deg(turned.rotvecs()[J["left_elbow"]], forearm)) == pytest.approx(abs(deg), abs=1e-6)


def test_elbows_and_knees_bend_about_one_axis():
    """Random rotations, clamped: the forearm / shank stays within a few
    degrees of its hinge plane (the plane the flexion axis is normal to)."""
    cases = (("left_elbow", [1, 0, 0], [0, 1, 0]), ("right_elbow", [-1, 0, 0], [0, 1, 0]),
             ("left_knee", [0, -1, 0], [1, 0, 0]), ("right_knee", [0, -1, 0], [1, 0, 0]))
    for name, bone, hinge in cases:
        for rv in _random_rotations(100):
            d = Rotation.from_rotvec(jl.clamp_rotvec(J[name], rv)).apply(bone)
            off_plane = np.degrees(np.arcsin(abs(d @ np.array(hinge, float))))
            assert off_plane <= 5.0 + 1e-6, (name, rv)


def test_clamp_is_the_identity_inside_every_range():
    for j in range(1, 24):
        lim = jl.JOINT_LIMITS[j]
        for _ in range(12):
            p = RNG.uniform(lim.lo, lim.hi) * 0.999
            k = lim.twist_axis
            swing = p.copy()
            swing[k] = 0.0
            rv = jl.compose(j, swing, p[k])
            assert np.array_equal(jl.clamp_rotvec(j, rv), rv)
    for side in hl.SIDES:
        for k in range(15):
            lim = hl.HAND_LIMITS[side][k]
            for _ in range(12):
                rv = hl.hand_rotvec(side, k, RNG.uniform(lim.lo, lim.hi) * 0.999)
                assert np.array_equal(hl.clamp_hand_rotvec(side, k, rv), rv)


# ---- gizmo and IK never leave a range ------------------------------------------------
def test_gizmo_turns_with_random_rotations_stay_inside_the_limits():
    pose = _rest()
    for _ in range(60):
        j = int(RNG.integers(1, 24))
        pose = rotate_joint(pose, j, Rotation.from_rotvec(_random_rotations(1)[0]).as_matrix(), limits=True)
        assert jl.within_limits(j, pose.rotvecs()[j], 1e-6)
    assert jl.violations(pose, 1e-6) == []


def test_ik_with_random_targets_stays_inside_the_limits():
    for eff, (root, _) in TWO_BONE.items():
        centre = REST_JOINTS[root] + np.array([0.0, 0.96, 0.0])
        for target in centre + RNG.normal(scale=0.5, size=(4, 3)):
            out = solve_ik(_rest(), eff, target, REST_JOINTS, limits=True)
            assert jl.violations(out, 1e-6) == [], (eff, target)


def test_finger_gizmo_turns_stay_inside_and_pip_dip_stay_hinges():
    pose = _rest()
    for _ in range(80):
        side, k = ("left", "right")[int(RNG.integers(2))], int(RNG.integers(15))
        pose = rotate_finger(pose, side, k, Rotation.from_rotvec(_random_rotations(1)[0]).as_matrix(), limits=True)
        assert hl.hand_violations(side, getattr(pose, f"{side}_hand_pose"), 1e-6) == []
    # Every non-thumb PIP and DIP: the bone stays within 6 degrees of the
    # vertical plane along the finger (flexion is about Z at rest).
    for side, bone in (("left", [1.0, 0, 0]), ("right", [-1.0, 0, 0])):
        hand = getattr(pose, f"{side}_hand_pose")
        for k in [k for k in range(12) if k % 3]:
            d = Rotation.from_rotvec(hand[k]).apply(bone)
            assert np.degrees(np.arcsin(abs(d[2]))) <= 6.0 + 1e-6
    free = rotate_finger(_rest(), "left", 1, Rotation.from_rotvec([1.2, 0, 0]).as_matrix(), limits=False)
    assert np.allclose(free.left_hand_pose[1], [1.2, 0, 0])


def test_hand_clamp_commutes_with_mirroring():
    for rv in _random_rotations(100):
        k = int(RNG.integers(15))
        assert np.allclose(hl.clamp_hand_rotvec("right", k, rv * MIRROR),
                           hl.clamp_hand_rotvec("left", k, rv) * MIRROR, atol=1e-9)


def test_hand_presets_are_inside_the_finger_limits():
    from posebooth.assets.hand_presets import HAND_PRESETS, hand_preset
    for name in HAND_PRESETS:
        for side in hl.SIDES:
            assert hl.hand_violations(side, hand_preset(name, side), 1e-6) == [], name


# ---- headless hand and face edits ---------------------------------------------------
def _doc() -> Document:
    return Document(starter_scene(people=1, frames=20))


def test_curl_bends_every_joint_of_the_finger_about_its_hinge():
    doc = _doc()
    hand_ops.set_finger_curl(doc, "right", "index", 0.5)
    hand = np.array(doc.scene.people[0].keys[0].right_hand_pose).reshape(15, 3)
    # right hand: curling is a positive rotation about +Z (hand_skeleton's convention)
    np.testing.assert_allclose(hand[:3], np.radians([[0, 0, 42.5], [0, 0, 47.5], [0, 0, 30.0]]), atol=1e-9)
    assert np.all(hand[3:] == 0.0)
    assert doc.undo_texts[-1] == "Curl index (right)"
    hand_ops.set_finger_spread(doc, "both", "pinky", 10.0)
    left = np.array(doc.scene.people[0].keys[0].left_hand_pose).reshape(15, 3)
    d = Rotation.from_rotvec(left[6]).apply([1.0, 0, 0])   # left pinky: fans out towards -Z
    assert np.degrees(np.arctan2(-d[2], d[0])) == pytest.approx(10.0, abs=1e-6)
    doc.undo()
    doc.undo()
    assert np.all(np.array(doc.scene.people[0].keys[0].right_hand_pose) == 0.0)


def test_mirror_keeps_the_hands_and_swaps_the_face_in_the_existing_key():
    doc = _doc()
    hand_ops.apply_hand_preset(doc, "point", "right")
    face_ops.set_face_weight(doc, "eyeBlinkLeft", 1.0)
    right = doc.pose_of(0).right_hand_pose.copy()
    pose_ops.mirror(doc)
    key = doc.scene.people[0].keys[0]
    assert len(doc.scene.people[0].keys) == 1
    np.testing.assert_array_equal(np.array(key.left_hand_pose).reshape(15, 3), right * MIRROR)
    assert np.all(np.array(key.right_hand_pose) == 0.0)
    assert key.expression == {"eyeBlinkRight": 1.0}


def test_body_presets_keep_hands_and_face_and_respect_the_limits_switch():
    doc = _doc()
    hand_ops.apply_hand_preset(doc, "fist", "both")
    face_ops.apply_face_preset(doc, "smile")
    pose_ops.apply_preset(doc, "waving")
    p = doc.pose_of(0)
    assert np.abs(p.left_hand_pose).sum() > 1 and p.expression.get("mouthSmileLeft", 0) > 0
    doc.joint_limits = False
    hand_ops.set_finger_curl(doc, "left", "middle", 1.0)
    hand = doc.pose_of(0).left_hand_pose
    hand[4] = [0.0, 0.0, 2.5]   # a PIP bent far past its range
    doc.set_pose(0, hand_ops.with_hand(doc.pose_of(0), "left", hand))
    assert doc.pose_of(0).left_hand_pose[4][2] == 2.5
    doc.joint_limits = True
    hand_ops.set_finger_spread(doc, "left", "middle", 0.0)   # any hand edit with limits on clamps the hand
    assert hl.hand_violations("left", doc.pose_of(0).left_hand_pose, 1e-6) == []


@pytest.mark.hostile
def test_bad_hand_and_face_requests_are_one_clear_line():
    doc = _doc()
    with pytest.raises(ValueError, match="hand must be 'left', 'right' or 'both', not 'middle'"):
        hand_ops.set_finger_curl(doc, "middle", "index", 0.5)
    with pytest.raises(ValueError, match=r"unknown facial action\(s\) \['smirk'\]"):
        face_ops.set_face_weight(doc, "smirk", 0.5)
    from posebooth.assets.presets import UnknownPresetError
    with pytest.raises(UnknownPresetError, match="unknown hand preset 'jazz'; available: relaxed"):
        hand_ops.apply_hand_preset(doc, "jazz", "left")
    with pytest.raises(IndexError, match="outside MANO's 0..14"):
        hl.clamp_hand_rotvec("left", 15, [0.0, 0.0, 0.0])
    face_ops.set_face_weight(doc, "jawOpen", 7.0)    # out of range: clipped, as a slider would
    assert doc.pose_of(0).expression == {"jawOpen": 1.0}
    assert doc.undo_texts == ["Face: jawOpen"]
