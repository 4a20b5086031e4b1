"""BVH import (posebooth.assets.bvh.read_bvh) checked against references it
did not produce: this file's own BVH reader and forward kinematics (axis
matrices multiplied in channel order) for the BVH skeleton, and
tests/reference_chain.py for SMPL. Limb directions must agree, the feet stay
on the ground, units and up axes do not change the result, and every bad
file is refused with one line naming it.

The real CMU files are read from the shared data folder next to the repo
(never copied in); their tests skip where it is absent."""
from pathlib import Path

import numpy as np
import pytest

from posebooth.assets.bvh import read_bvh
from posebooth.assets.motion import MotionError
from reference_chain import forward_kinematics

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "motion"
CMU_FILES = ("cmu_131_01.bvh", "cmu_131_02.bvh")
SMPL = {n: i for i, n in enumerate((
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand"))}


# ---- this file's own BVH reader and FK -------------------------------------------------------------

def parse(text):
    """-> (names, parents, offsets (J, 3), channels per joint, values (N, C), frame time)."""
    tok = text.split()
    names, parents, offsets, channels, stack, i = [], [], [], [], [], 1
    while tok[i] != "MOTION":
        if tok[i] in ("ROOT", "JOINT"):
            names.append(tok[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append([float(v) for v in tok[i + 4: i + 7]])
            k = int(tok[i + 8])
            channels.append(tok[i + 9: i + 9 + k])
            stack.append(len(names) - 1)
            i += 9 + k
        elif tok[i] == "End":
            i += 8                                   # End Site { OFFSET x y z }
        else:                                        # "}"
            stack.pop()
            i += 1
    n, dt = int(tok[i + 2]), float(tok[i + 5])
    values = np.array(tok[i + 6:], dtype=float).reshape(n, -1)
    return names, parents, np.array(offsets), channels, values, dt


def axis_rotation(axis, degrees):
    a = np.radians(degrees)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    m = {"X": [[o, z, z], [z, c, -s], [z, s, c]],
         "Y": [[c, z, s], [z, o, z], [-s, z, c]],
         "Z": [[c, -s, z], [s, c, z], [z, z, o]]}[axis]
    return np.moveaxis(np.array(m), (0, 1), (-2, -1))


def bvh_positions(text):
    """World joint positions (N, J, 3) in the file's own units and axes."""
    names, parents, offsets, channels, values, _ = parse(text)
    n, col = len(values), 0
    pos, rot = np.zeros((n, len(names), 3)), np.zeros((n, len(names), 3, 3))
    for j, p in enumerate(parents):
        local, where = np.broadcast_to(np.eye(3), (n, 3, 3)), np.array(offsets[j], float)[None].repeat(n, 0)
        for ch in channels[j]:
            if ch.endswith("rotation"):
                local = local @ axis_rotation(ch[0], values[:, col])
            elif p < 0:
                where[:, "XYZ".index(ch[0])] = values[:, col]
            col += 1
        if p < 0:
            pos[:, j], rot[:, j] = where, local
        else:
            pos[:, j] = pos[:, p] + np.einsum("nij,j->ni", rot[:, p], offsets[j])
            rot[:, j] = rot[:, p] @ local
    return pos, names


def cosines(motion, text, pairs, up_z=False):
    """Per limb: cosine per frame between the imported SMPL limb and the BVH's limb."""
    joints, _ = forward_kinematics(motion.global_orient, motion.body_pose, motion.transl)
    pos, names = bvh_positions(text)
    if up_z:
        pos = pos[..., [0, 2, 1]] * [1, 1, -1]
    out = {}
    for (a, b), (ba, bb) in pairs.items():
        s = joints[:, SMPL[b]] - joints[:, SMPL[a]]
        v = pos[:, names.index(bb)] - pos[:, names.index(ba)]
        out[f"{a}->{b}"] = np.sum(s * v, 1) / np.linalg.norm(s, axis=1) / np.linalg.norm(v, axis=1)
    return out


def sole_heights(motion):
    """Per frame, the lowest of the ankles (8 cm above the sole) and the balls of the feet (2.5 cm)."""
    joints, _ = forward_kinematics(motion.global_orient, motion.body_pose, motion.transl)
    return np.minimum(joints[:, [7, 8], 1].min(1) - 0.08, joints[:, [10, 11], 1].min(1) - 0.025)


def limbs(**names):
    """SMPL limb -> BVH limb for the main limbs, given the BVH names of the SMPL joints used."""
    pairs = {}
    for side in ("left", "right"):
        for a, b in (("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"), ("elbow", "wrist")):
            pairs[(f"{side}_{a}", f"{side}_{b}")] = (names[f"{side}_{a}"], names[f"{side}_{b}"])
    pairs[("pelvis", "spine3")] = (names["pelvis"], names["spine3"])
    return pairs


# ---- the real CMU files ----------------------------------------------------------------------------

CMU_LIMBS = limbs(left_hip="LeftHip", left_knee="LeftKnee", left_ankle="LeftAnkle", right_hip="RightHip",
                  right_knee="RightKnee", right_ankle="RightAnkle", left_shoulder="LeftShoulder",
                  left_elbow="LeftElbow", left_wrist="LeftWrist", right_shoulder="RightShoulder",
                  right_elbow="RightElbow", right_wrist="RightWrist", pelvis="Hips", spine3="Chest2")
CMU_LIMBS[("spine3", "neck")] = ("Chest2", "Neck")


@pytest.mark.parametrize("name", CMU_FILES)
def test_cmu_limb_directions_follow_the_bvh(name):
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"{DATA} is not here")
    text = path.read_text()
    motion = read_bvh(path)
    assert motion.layout == "bvh" and motion.fps == pytest.approx(120.0)
    assert motion.num_frames == len(parse(text)[4])
    cos = cosines(motion, text, CMU_LIMBS)
    medians = {k: float(np.median(c)) for k, c in cos.items()}
    print(name, "median cosine over all limbs and frames:", np.median(np.concatenate(list(cos.values()))),
          "per limb:", {k: round(v, 4) for k, v in medians.items()})
    assert np.median(np.concatenate(list(cos.values()))) >= 0.95
    assert min(medians.values()) >= 0.95, medians


@pytest.mark.parametrize("name", CMU_FILES)
def test_cmu_feet_stay_on_the_ground(name):
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"{DATA} is not here")
    motion = read_bvh(path)
    soles = sole_heights(motion)
    assert soles[0] == pytest.approx(0.0, abs=0.005)      # the first frame stands on y = 0
    # in every second of the clip a foot touches the ground, give or take what the ankle and ball
    # joints tell of the soles (this dancer goes on tiptoe); never far into the ground
    per_second = np.array([soles[i: i + 120].min() for i in range(0, len(soles), 120)])
    assert np.abs(per_second).max() < 0.04, per_second
    # metres (CMU's unit is ~5.6 cm), Y up: the pelvis stays at standing height, the walk covers metres
    assert 0.8 < np.median(motion.transl[:, 1]) < 1.05
    assert np.ptp(motion.transl[:, [0, 2]], axis=0).max() > 1.0


# ---- generated files: a small skeleton in metres, Y up, written as the test wants ------------------

# (key, parent key, offset in metres); the arms rest in an A-pose
_A = np.array([0.8, -0.6, 0.0])
SKELETON = [
    ("hips", None, (0.0, 0.95, 0.0)),
    ("l_upleg", "hips", (0.09, -0.06, 0.0)), ("l_leg", "l_upleg", (0.0, -0.42, 0.01)),
    ("l_foot", "l_leg", (0.0, -0.42, -0.02)), ("l_toe", "l_foot", (0.0, -0.05, 0.13)),
    ("r_upleg", "hips", (-0.09, -0.06, 0.0)), ("r_leg", "r_upleg", (0.0, -0.42, 0.01)),
    ("r_foot", "r_leg", (0.0, -0.42, -0.02)), ("r_toe", "r_foot", (0.0, -0.05, 0.13)),
    ("spine", "hips", (0.0, 0.10, 0.0)), ("spine1", "spine", (0.0, 0.12, -0.01)),
    ("spine2", "spine1", (0.0, 0.12, 0.0)), ("neck", "spine2", (0.0, 0.14, 0.0)), ("head", "neck", (0.0, 0.1, 0.02)),
    ("l_shoulder", "spine2", (0.03, 0.10, 0.0)), ("l_arm", "l_shoulder", (0.12, 0.0, 0.0)),
    ("l_forearm", "l_arm", tuple(0.27 * _A)), ("l_hand", "l_forearm", tuple(0.25 * _A)),
    ("l_middle", "l_hand", tuple(0.09 * _A)),
    ("r_shoulder", "spine2", (-0.03, 0.10, 0.0)), ("r_arm", "r_shoulder", (-0.12, 0.0, 0.0)),
    ("r_forearm", "r_arm", tuple(0.27 * _A * [-1, 1, 1])), ("r_hand", "r_forearm", tuple(0.25 * _A * [-1, 1, 1])),
    ("r_middle", "r_hand", tuple(0.09 * _A * [-1, 1, 1])),
]
# the same in a T-pose: arms along +-X
SKELETON_T = [(k, p, (np.sign(o[0]) * np.linalg.norm(o), 0.0, 0.0) if k[2:] in ("forearm", "hand", "middle") else o)
              for k, p, o in SKELETON]
_MB = {"hips": "Hips", "l_upleg": "LeftUpLeg", "l_leg": "LeftLeg", "l_foot": "LeftFoot", "l_toe": "LeftToeBase",
       "spine": "LowerBack", "spine1": "Spine", "spine2": "Spine1", "neck": "Neck", "head": "Head",
       "l_shoulder": "LeftShoulder", "l_arm": "LeftArm", "l_forearm": "LeftForeArm", "l_hand": "LeftHand",
       "l_middle": "LeftFingerBase"}
_MB.update({k.replace("l_", "r_", 1): v.replace("Left", "Right") for k, v in _MB.items() if k.startswith("l_")})
_MIXAMO = {k: "mixamorig:" + v for k, v in _MB.items()}
_MIXAMO.update({"spine": "mixamorig:Spine", "spine1": "mixamorig:Spine1", "spine2": "mixamorig:Spine2",
                "l_middle": "mixamorig:LeftHandMiddle1", "r_middle": "mixamorig:RightHandMiddle1"})
CONVENTIONS = {"motionbuilder": _MB, "mixamo": _MIXAMO}
REST_POSE = {"motionbuilder": SKELETON, "mixamo": SKELETON_T}     # A-pose and T-pose arms
UNITS = {"metres": 1.0, "centimetres": 0.01, "inches": 0.0254}
# Y-up channels Z X Y become, turned Z-up by (x, y, z) -> (x, -z, y): -Y, X, Z.
ROT_Y_UP, ROT_Z_UP = "Zrotation Xrotation Yrotation", "Yrotation Xrotation Zrotation"


def motion_values(n=24, seed=3, calibration=False):
    """Smooth made-up motion: (n, 3) root positions (m) and (n, J, 3) Z, X, Y angles in degrees."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None, None] / 30.0
    angles = rng.uniform(10, 45, (1, len(SKELETON), 3)) * np.sin(rng.uniform(1, 4, (1, len(SKELETON), 3)) * t
                                                                 + rng.uniform(0, 6, (1, len(SKELETON), 3)))
    root = np.stack([0.3 + 0.8 * t[:, 0, 0], 0.93 + 0.02 * np.sin(6 * t[:, 0, 0]), -0.2 + 0.3 * t[:, 0, 0]], 1)
    if calibration:                                  # a rest (here: A-) pose frame at the origin first
        angles[0], root[0] = 0.0, (0.0, 0.95, 0.0)
    return root, angles


def write_bvh(path, names=_MB, metres_per_unit=1.0, z_up=False, frames=None, fps=30.0, skeleton=SKELETON):
    root, angles = frames if frames is not None else motion_values()
    s = 1.0 / metres_per_unit

    def vec(v):
        v = np.asarray(v, float) * s
        return (v[0], -v[2], v[1]) if z_up else tuple(v)

    lines, depth = ["HIERARCHY"], {}
    order = [k for k, _, _ in skeleton]
    for i, (key, parent, offset) in enumerate(skeleton):
        d = 0 if parent is None else depth[parent] + 1
        depth[key] = d
        pos = "Xposition Yposition Zposition " if parent is None else ""
        lines += ["\t" * d + ("ROOT " if parent is None else "JOINT ") + names[key], "\t" * d + "{",
                  "\t" * (d + 1) + "OFFSET %.6f %.6f %.6f" % vec(offset),
                  "\t" * (d + 1) + f"CHANNELS {6 if parent is None else 3} {pos}{ROT_Z_UP if z_up else ROT_Y_UP}"]
        nxt = depth.get(skeleton[i + 1][1], -1) + 1 if i + 1 < len(skeleton) else 0
        if nxt <= d:                                 # a leaf: End Site, then close up to the next joint's level
            lines += ["\t" * (d + 1) + "End Site", "\t" * (d + 1) + "{",
                      "\t" * (d + 2) + "OFFSET %.6f %.6f %.6f" % vec(np.asarray(offset) * 0.3 + [0, 0, 0.01]),
                      "\t" * (d + 1) + "}"]
            lines += ["\t" * e + "}" for e in range(d, nxt - 1, -1)]
    lines += ["MOTION", f"Frames: {len(root)}", f"Frame Time: {1.0 / fps:.7f}"]
    for r, a in zip(root, angles):
        a = a * ([-1, 1, 1] if z_up else 1)          # Z about the Y-up file's Z is about -Y in the Z-up one
        vals = list(vec(r)) + [v for j in range(len(order)) for v in a[j]]
        lines.append(" ".join(f"{v:.9f}" for v in vals))
    path.write_text("\n".join(lines) + "\n")
    return path


def gen_limbs(names):
    return limbs(left_hip=names["l_upleg"], left_knee=names["l_leg"], left_ankle=names["l_foot"],
                 right_hip=names["r_upleg"], right_knee=names["r_leg"], right_ankle=names["r_foot"],
                 left_shoulder=names["l_arm"], left_elbow=names["l_forearm"], left_wrist=names["l_hand"],
                 right_shoulder=names["r_arm"], right_elbow=names["r_forearm"], right_wrist=names["r_hand"],
                 pelvis=names["hips"], spine3=names["spine2"])


def _rotations(motion):
    from scipy.spatial.transform import Rotation
    rv = np.concatenate([motion.global_orient[:, None], motion.body_pose], 1).reshape(-1, 3)
    return Rotation.from_rotvec(rv).as_matrix()


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_generated_names_import_with_limbs_following(tmp_path, convention):
    names = CONVENTIONS[convention]
    path = write_bvh(tmp_path / "take.bvh", names, skeleton=REST_POSE[convention])
    motion = read_bvh(path)
    assert motion.num_frames == 24 and motion.fps == 30.0
    cos = cosines(motion, path.read_text(), gen_limbs(names))
    for limb, c in cos.items():   # one BVH bone per limb: exact but for the spine's three bones
        assert (np.median(c) if limb == "pelvis->spine3" else c.min()) >= (0.95 if limb == "pelvis->spine3"
                                                                            else 0.999), (limb, c)
    root, _ = motion_values()   # x and z are the file's (as AMASS import keeps them)
    np.testing.assert_allclose(motion.transl[:, [0, 2]], root[:, [0, 2]], atol=1e-6)
    # the height is SMPL's own: its soles are where the BVH's are, the first frame on y = 0
    pos, bvh_names = bvh_positions(path.read_text())
    feet = pos[:, [bvh_names.index(names[k]) for k in ("l_foot", "r_foot", "l_toe", "r_toe")], 1]
    bvh_soles = np.minimum(feet[:, :2].min(1) - 0.08, feet[:, 2:].min(1) - 0.025)
    np.testing.assert_allclose(sole_heights(motion), bvh_soles - bvh_soles[0], atol=1e-6)


@pytest.mark.parametrize("unit", ["centimetres", "inches"])
def test_units_are_detected(tmp_path, unit):
    ref = read_bvh(write_bvh(tmp_path / "m.bvh", metres_per_unit=1.0))
    got = read_bvh(write_bvh(tmp_path / f"{unit}.bvh", metres_per_unit=UNITS[unit]))
    np.testing.assert_allclose(got.transl, ref.transl, atol=1e-6)
    np.testing.assert_allclose(_rotations(got), _rotations(ref), atol=1e-6)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_z_up_imports_as_its_y_up_original(tmp_path, convention):
    names, skeleton = CONVENTIONS[convention], REST_POSE[convention]
    ref = read_bvh(write_bvh(tmp_path / "y.bvh", names, skeleton=skeleton))
    path = write_bvh(tmp_path / "z.bvh", names, metres_per_unit=0.01, z_up=True, skeleton=skeleton)
    got = read_bvh(path)
    np.testing.assert_allclose(got.transl, ref.transl, atol=1e-6)
    np.testing.assert_allclose(_rotations(got), _rotations(ref), atol=1e-6)
    cos = cosines(got, path.read_text(), gen_limbs(names), up_z=True)   # and directions in Y-up hold
    assert min(c.min() for k, c in cos.items() if k != "pelvis->spine3") >= 0.999


def test_a_calibration_first_frame_is_dropped(tmp_path):
    root, angles = motion_values(25, calibration=True)
    got = read_bvh(write_bvh(tmp_path / "t.bvh", frames=(root, angles)))
    ref = read_bvh(write_bvh(tmp_path / "m.bvh", frames=(root[1:], angles[1:])))
    assert got.num_frames == 24
    np.testing.assert_allclose(got.transl, ref.transl, atol=1e-9)
    np.testing.assert_allclose(_rotations(got), _rotations(ref), atol=1e-9)
    still = read_bvh(write_bvh(tmp_path / "s.bvh", frames=(root[1:2].repeat(5, 0), angles[1:2].repeat(5, 0))))
    assert still.num_frames == 5                     # a motion that starts still keeps its first frame


def test_windows_line_ends_and_tabs_read_the_same(tmp_path):
    path = write_bvh(tmp_path / "m.bvh")
    crlf = tmp_path / "crlf.bvh"
    crlf.write_bytes(path.read_text().replace(" ", "\t").replace("\n", "\r\n").encode())
    a, b = read_bvh(path), read_bvh(crlf)
    np.testing.assert_array_equal(a.transl, b.transl)
    np.testing.assert_array_equal(a.body_pose, b.body_pose)


def test_fps_limits_the_frames_read(tmp_path):
    path = write_bvh(tmp_path / "m.bvh", frames=motion_values(100), fps=120.0)
    full, part = read_bvh(path), read_bvh(path, fps=30.0, max_frames=5)
    assert full.num_frames == 100 and part.num_frames == 18      # output frames 0..4 need source rows 0..17
    np.testing.assert_allclose(part.transl, full.transl[:18], atol=1e-9)


# ---- hostile files: each refused with one line that names the file and where --------------------

def _good(tmp_path):
    return write_bvh(tmp_path / "good.bvh", frames=motion_values(6)).read_text()


def _motion_line(text):
    return text.split("\n").index("MOTION") + 1       # 1-based


def _replace_value(text, frame, value):
    lines = text.split("\n")
    k = _motion_line(text) + 2 + frame                 # 0-based index of the frame's line
    vals = lines[k].split()
    vals[4] = value
    lines[k] = " ".join(vals)
    return "\n".join(lines), k + 1


def _case(name, tmp_path):
    """-> (file text or bytes, words the message must hold)."""
    good = _good(tmp_path)
    m = _motion_line(good)
    lines = good.split("\n")
    if name == "truncated_hierarchy":
        return "\n".join(lines[: m // 2]), ["HIERARCHY", "truncated"]
    if name == "missing_motion":
        return "\n".join(lines[: m - 1]) + "\n", ["MOTION"]
    if name == "wrong_value_count":
        lines[m + 3] += " 1.0"
        return "\n".join(lines), [f"line {m + 4}", "expected"]
    if name in ("non_numeric", "nan", "inf"):
        text, line = _replace_value(good, 2, {"non_numeric": "1.2.3", "nan": "nan", "inf": "-inf"}[name])
        return text, [f"line {line}", "value 5", "Hips Xrotation"]
    if name == "zero_joints":
        return "HIERARCHY\nMOTION\nFrames: 1\nFrame Time: 0.033\n\n", ["ROOT"]
    if name in ("frame_time_zero", "frame_time_negative", "frame_time_absurd"):
        lines[m + 1] = "Frame Time: " + {"frame_time_zero": "0", "frame_time_negative": "-0.03",
                                         "frame_time_absurd": "1e-9"}[name]
        return "\n".join(lines), [f"line {m + 2}", "Frame Time"]
    if name == "frames_claim_a_billion":
        lines[m] = "Frames: 1000000000"
        return "\n".join(lines), [f"line {m + 1}", "Frames"]
    if name == "frames_claim_more_than_the_file_holds":
        lines[m] = "Frames: 99999"
        return "\n".join(lines), [f"line {m + 1}", "truncated"]
    if name == "truncated_motion":
        return "\n".join(lines[: m + 5]), ["line", "of the 6 frames", "truncated"]
    if name == "extra_frame_lines":
        return good + lines[m + 3] + "\n", [f"line {len(lines)}", "more frame lines"]
    if name == "unknown_channel":
        return good.replace("Zrotation", "Wrotation", 1), ["Wrotation", "unknown"]
    if name == "channel_count_mismatch":
        return good.replace("CHANNELS 3 ", "CHANNELS 4 ", 1), ["JOINT", "channel"]
    if name == "too_many_joints":
        chain = "".join(f"JOINT j{i}\n{{\nOFFSET 0 1 0\nCHANNELS 3 Zrotation Xrotation Yrotation\n"
                        for i in range(300))
        text = ("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Zrotation Xrotation Yrotation\n" + chain
                + "}\n" * 301 + "MOTION\nFrames: 1\nFrame Time: 0.03\n" + "0 " * 903 + "\n")
        return text, ["256 joints"]
    if name == "offset_infinite":
        return good.replace("OFFSET 0.090000", "OFFSET inf", 1), ["line", "OFFSET x", "LeftUpLeg"]
    if name == "no_knees":
        return good.replace("LeftLeg", "Shin1").replace("RightLeg", "Shin2"), ["left knee", "LeftUpLeg"]
    if name == "root_far_away":
        lines[m + 5] = " ".join(["9000000"] + lines[m + 5].split()[1:])
        return "\n".join(lines), ["root", "m from the origin"]
    if name == "hips_at_one_place":
        return good.replace("OFFSET 0.090000", "OFFSET 0.000000").replace("OFFSET -0.090000", "OFFSET 0.000000"), \
            ["LeftUpLeg", "side by side"]
    if name == "upside_down":
        upside = [(k, p, (x, -y, z)) for k, p, (x, y, z) in SKELETON]
        return write_bvh(tmp_path / "u.bvh", frames=motion_values(6), skeleton=upside).read_text(), \
            ["head", "+Y or +Z up"]
    if name == "binary":
        return bytes(range(256)) * 10, ["HIERARCHY"]
    if name == "empty":
        return b"", ["HIERARCHY"]
    raise AssertionError(name)


HOSTILE = ["truncated_hierarchy", "missing_motion", "wrong_value_count", "non_numeric", "nan", "inf",
           "zero_joints", "frame_time_zero", "frame_time_negative", "frame_time_absurd", "frames_claim_a_billion",
           "frames_claim_more_than_the_file_holds", "truncated_motion", "extra_frame_lines", "unknown_channel",
           "channel_count_mismatch", "too_many_joints", "offset_infinite", "no_knees", "root_far_away",
           "hips_at_one_place", "upside_down", "binary", "empty"]


@pytest.mark.hostile
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bvh_is_refused_with_one_line(tmp_path, name):
    content, words = _case(name, tmp_path)
    path = tmp_path / f"{name}.bvh"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    with pytest.raises(MotionError) as e:
        read_bvh(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg, msg
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.hostile
def test_hostile_bvh_folder_is_refused(tmp_path):
    with pytest.raises(MotionError) as e:
        read_bvh(tmp_path)
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)
