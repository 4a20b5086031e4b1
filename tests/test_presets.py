"""Every pose preset: loads, respects the joint limits, rests on the ground the
way its contact says, and looks like its name (checked on joint positions)."""
import numpy as np
import pytest

from posebooth.assets.joint_limits import clamp_pose, violations
from posebooth.assets.pose_tools import ANKLE_ABOVE_SOLE, mirror_pose, sole_height
from posebooth.assets.presets import get_preset, list_presets, preset_info
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from reference_chain import forward_kinematics

NAMES = list_presets()


def joints(name):
    p = get_preset(name)
    return forward_kinematics(p.global_orient, p.body_pose, p.transl)[0]


def y(j, name):
    return j[J[name], 1]


def test_library_size_and_lookup():
    assert len(NAMES) >= 14 and len(set(NAMES)) == len(NAMES)
    for must in ("t_pose", "a_pose", "standing", "walking", "running", "sitting", "kneeling", "jumping",
                 "waving", "arms_crossed", "crouching", "lying", "hands_on_hips", "thinking"):
        assert must in NAMES
    with pytest.raises(KeyError) as e:
        get_preset("moonwalk")
    assert "moonwalk" in str(e.value) and "t_pose" in str(e.value) and "lying" in str(e.value)
    np.testing.assert_array_equal(get_preset("T-pose").body_pose, get_preset("t_pose").body_pose)  # labels work
    p = get_preset("waving")
    p.body_pose[:] = 9.0                      # a copy: the library is not changed
    assert np.abs(get_preset("waving").body_pose).max() < 3.2


@pytest.mark.parametrize("name", NAMES)
def test_preset_is_within_joint_limits(name):
    p = get_preset(name)
    assert violations(p) == []
    np.testing.assert_allclose(clamp_pose(p).body_pose, p.body_pose, atol=1e-9)
    assert violations(mirror_pose(p)) == []   # the limits are symmetric, so the mirror is fine too


@pytest.mark.parametrize("name", NAMES)
def test_preset_rests_on_the_ground(name):
    info, p, j = preset_info(name), get_preset(name), joints(name)
    ankles = min(y(j, "left_ankle"), y(j, "right_ankle"))
    if info.contact in ("feet", "seat"):
        assert abs(sole_height(p)) < 0.005
        assert abs(ankles - ANKLE_ABOVE_SOLE) < 0.05                  # the lower ankle ~8 cm up
        assert 0.0 <= min(y(j, "left_foot"), y(j, "right_foot")) < 0.05
        assert j[:, 1].min() > -0.01                     # nothing below the floor
    elif info.contact == "air":
        assert 0.25 < sole_height(p) < 0.4
    elif info.contact == "knees":
        assert 0.02 < min(y(j, "left_knee"), y(j, "right_knee")) < 0.09
        assert j[:, 1].min() > -0.01
    elif info.contact == "back":
        assert 0.03 < y(j, "pelvis") < 0.2 and 0.03 < y(j, "head") < 0.2
        assert j[:, 1].min() > -0.01 and j[:, 1].max() < 0.3
    else:
        pytest.fail(f"unknown contact {info.contact}")


def test_t_and_a_pose_arms():
    j = joints("t_pose")
    assert j[J["left_wrist"], 0] > 0.6 and j[J["right_wrist"], 0] < -0.6
    for side in ("left", "right"):
        assert abs(y(j, f"{side}_wrist") - y(j, f"{side}_shoulder")) < 0.03
    j = joints("a_pose")
    for side in ("left", "right"):
        v = j[J[f"{side}_wrist"]] - j[J[f"{side}_shoulder"]]
        down = np.degrees(np.arctan2(-v[1], abs(v[0])))
        assert 40 < down < 50, (side, down)


def test_standing_arms_hang():
    j = joints("standing")
    for side in ("left", "right"):
        assert y(j, f"{side}_wrist") < y(j, f"{side}_shoulder") - 0.4


def test_sitting_knees_at_hip_height_in_front():
    j = joints("sitting")
    assert 0.45 < y(j, "pelvis") < 0.65                   # chair height
    for side in ("left", "right"):
        knee, hip, ankle = j[J[f"{side}_knee"]], j[J[f"{side}_hip"]], j[J[f"{side}_ankle"]]
        assert abs(knee[1] - hip[1]) < 0.08 and knee[2] - hip[2] > 0.3
        assert knee[1] - ankle[1] > 0.3                    # shins down to the floor


def test_kneeling_thighs_upright_shins_back():
    j = joints("kneeling")
    for side in ("left", "right"):
        hip, knee, ankle = j[J[f"{side}_hip"]], j[J[f"{side}_knee"]], j[J[f"{side}_ankle"]]
        assert hip[1] - knee[1] > 0.35 and ankle[2] < knee[2] - 0.3 and ankle[1] < 0.12


def test_lying_is_flat_face_up():
    j = joints("lying")
    assert abs(y(j, "head") - y(j, "pelvis")) < 0.08
    assert np.linalg.norm(j[J["head"]] - j[J["pelvis"]]) > 0.5          # stretched out, not folded
    p = get_preset("lying")
    from scipy.spatial.transform import Rotation
    assert Rotation.from_rotvec(p.global_orient).apply([0, 0, 1])[1] > 0.9   # the front faces up


def test_waving_right_wrist_above_head():
    j = joints("waving")
    assert y(j, "right_wrist") > y(j, "head") + 0.1
    assert y(j, "left_wrist") < y(j, "left_shoulder")


def test_arms_crossed_in_front_of_the_chest():
    j = joints("arms_crossed")
    lw, rw = j[J["left_wrist"]], j[J["right_wrist"]]
    assert lw[0] < 0 < rw[0]                                   # each wrist past the midline
    chest = j[J["spine3"]]
    for w in (lw, rw):
        assert w[2] > chest[2] + 0.1                          # in front
        assert y(j, "spine2") - 0.15 < w[1] < y(j, "neck")   # at chest height


def _forward_side(j, kind):
    l, r = j[J[f"left_{kind}"], 2], j[J[f"right_{kind}"], 2]
    return "left" if l > r else "right"


@pytest.mark.parametrize("name", ["walking", "running"])
def test_gait_opposite_arm_and_leg(name):
    j = joints(name)
    assert abs(j[J["left_ankle"], 2] - j[J["right_ankle"], 2]) > 0.2     # one foot in front
    assert _forward_side(j, "ankle") != _forward_side(j, "wrist")


def test_running_and_jumping_in_the_air():
    j = joints("running")
    assert max(y(j, "left_ankle"), y(j, "right_ankle")) > 0.3            # one foot well off the ground
    j = joints("jumping")
    assert min(y(j, "left_ankle"), y(j, "right_ankle")) > 0.3
    assert y(j, "left_wrist") > y(j, "head") and y(j, "right_wrist") > y(j, "head")


def test_hands_on_hips():
    j = joints("hands_on_hips")
    for side in ("left", "right"):
        w, hip, e = j[J[f"{side}_wrist"]], j[J[f"{side}_hip"]], j[J[f"{side}_elbow"]]
        assert np.linalg.norm(w - hip) < 0.2 and abs(e[0]) > abs(w[0]) + 0.1


def test_thinking_hand_at_chin():
    j = joints("thinking")
    hand, head = j[J["right_hand"]], j[J["head"]]
    assert np.linalg.norm(hand - (head + [0, -0.06, 0.12])) < 0.1       # under the chin, in front of the face


def test_crouching_contrapposto_dancing():
    j = joints("crouching")
    assert y(j, "pelvis") < 0.55 and y(j, "left_knee") > y(j, "pelvis") - 0.15
    j = joints("contrapposto")
    assert y(j, "right_hip") > y(j, "left_hip")                          # weight on the right leg
    j = joints("dancing")
    assert y(j, "left_wrist") > y(j, "head") and y(j, "left_ankle") > 0.25
