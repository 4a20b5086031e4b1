"""anny's fingers and face: MANO-15 hand poses drive its finger bones, the
expression weights its facial blend shapes.

References: a MANO-15 kinematic chain written here (its own flat-hand rest
directions and parents, hung off the SMPL chain of tests/reference_chain.py),
the mesh itself (part labels, distances), and anny's own forward with its
facial actions for the face.
"""
import numpy as np
import pytest

from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from reference_chain import forward_kinematics, rodrigues

# MANO's joint order and parents, written out again: index, middle, pinky,
# ring, thumb; 3 joints each, the first hanging off the hand.
MANO = [f"{f}{k}" for f in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)]
MANO_PARENT = [-1 if k == 0 else 3 * f + k - 1 for f in range(5) for k in range(3)]
# The flat hand (right hand, Y up, fingers along -X, palm down, thumb towards
# +Z): each finger straight, turned towards the thumb by its spread (degrees);
# the thumb straight, 45 degrees forward and 15 degrees below the palm.
SPREAD = {"index": 6.0, "middle": 0.0, "ring": -6.0, "pinky": -12.0}
# The 21 hand points: wrist, then thumb, index, middle, ring, pinky (3 joints + tip).
H21_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def flat_direction(joint: str, side: str) -> np.ndarray:
    finger = joint[:-1]
    if finger == "thumb":
        a, d = np.radians(45.0), np.radians(15.0)
        v = np.array([-np.cos(d) * np.cos(a), -np.sin(d), np.cos(d) * np.sin(a)])
    else:
        a = np.radians(SPREAD[finger])
        v = np.array([-np.cos(a), 0.0, np.sin(a)])
    return v * ([-1.0, 1.0, 1.0] if side == "left" else 1.0)


def mano_world_rotations(hand_pose, wrist_world, hand_world):
    """World rotation of each MANO joint: the thumb hangs off the wrist, the four
    fingers off SMPL's hand joint (which bends them at the knuckles)."""
    out = [None] * 15
    for j, name in enumerate(MANO):
        p = MANO_PARENT[j]
        base = (wrist_world if name.startswith("thumb") else hand_world) if p < 0 else out[p]
        out[j] = base @ rodrigues(hand_pose[j])
    return out


def unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def body():
    from posebooth.assets.registry import get_body
    from posebooth.scene.model import BodySpec
    return get_body(BodySpec())


def random_rotvecs(rng, shape, top):
    axes = unit(rng.normal(size=(*shape, 3)))
    return axes * rng.uniform(0, top, (*shape, 1))


def test_phalanges_follow_a_mano_chain(body):
    rng = np.random.default_rng(3)
    n = 12
    go, bp = random_rotvecs(rng, (n,), np.pi), random_rotvecs(rng, (n, 23), 0.5)
    hands = random_rotvecs(rng, (n, 2, 15), 1.4)
    tr = rng.normal(size=(n, 3))
    shapes = rng.uniform(0, 1, (n, len(body.shape_names)))
    out = body.forward(go, bp, tr, shapes, left_hand_pose=hands[:, 0], right_hand_pose=hands[:, 1])
    _, world = forward_kinematics(go, bp, tr)
    worst = 1.0
    for b in range(n):
        for s, side in enumerate(("left", "right")):
            rots = mano_world_rotations(hands[b, s], world[b, J[f"{side}_wrist"]], world[b, J[f"{side}_hand"]])
            pts = out.hand21[b, s]
            for f, finger in enumerate(H21_FINGERS):
                chain = pts[1 + 4 * f:5 + 4 * f]     # 3 joints and the tip
                for k in range(3):
                    j = MANO.index(f"{finger}{k + 1}")
                    expected = rots[j] @ flat_direction(MANO[j], side)
                    worst = min(worst, float(unit(chain[k + 1] - chain[k]) @ expected))
    assert worst >= 0.99, worst


def test_flat_hands_change_no_body_vertex(body):
    zero = np.zeros((1, 3)), np.zeros((1, 23, 3)), np.zeros((1, 3))
    plain = body.forward(*zero)
    flat = body.forward(*zero, left_hand_pose=np.zeros((1, 15, 3)), right_hand_pose=np.zeros((1, 15, 3)))
    np.testing.assert_array_equal(plain.vertices, flat.vertices)
    # The hand joint still bends the four fingers as one, on top of the hand pose.
    bent = np.zeros((1, 23, 3))
    bent[0, J["right_hand"] - 1] = [0.0, 0.0, 1.2]
    by_joint = body.forward(np.zeros((1, 3)), bent, np.zeros((1, 3)))
    by_mano = np.zeros((1, 15, 3))
    for f in ("index", "middle", "ring", "pinky"):
        by_mano[0, MANO.index(f"{f}1")] = [0.0, 0.0, 1.2]
    by_hand = body.forward(*zero, right_hand_pose=by_mano)
    np.testing.assert_allclose(by_joint.hand21, by_hand.hand21, atol=1e-5)


def test_fist_closes_and_open_hand_spreads_on_the_mesh(body):
    from posebooth.assets.hand_presets import hand_preset
    zero = np.zeros((1, 3)), np.zeros((1, 23, 3)), np.zeros((1, 3))
    reach = {}
    for name in ("fist", "open"):
        out = body.forward(*zero, left_hand_pose=hand_preset(name, "left")[None],
                           right_hand_pose=hand_preset(name, "right")[None])
        v = out.vertices[0]
        for side in ("left", "right"):
            skin = v[body.part_labels == J[f"{side}_hand"]]           # the fingers' skin
            wrist = out.joints[0, J[f"{side}_wrist"]]
            knuckles = out.joints[0, J[f"{side}_hand"]]
            palm = (wrist + knuckles) / 2
            far = np.linalg.norm(skin - palm, axis=1)
            reach[name, side] = far.max()
            # fingertips are skin vertices: each lies on the mesh
            tips = out.hand21[0, "lr".index(side[0])][[4, 8, 12, 16, 20]]
            assert np.linalg.norm(v[None] - tips[:, None], axis=-1).min(1).max() < 1e-6
            if name == "fist":   # the four fingertips come back near the palm
                assert np.linalg.norm(tips[1:] - palm, axis=1).max() < 0.06, side
            else:
                assert np.linalg.norm(tips[1:] - palm, axis=1).min() > 0.09, side
    for side in ("left", "right"):
        assert reach["open", side] > reach["fist", side] + 0.04, reach


def test_hands_are_mirror_images(body):
    from posebooth.assets.hand_presets import HAND_PRESETS, hand_preset
    zero = np.zeros((1, 3)), np.zeros((1, 23, 3)), np.zeros((1, 3))
    for name in HAND_PRESETS:
        out = body.forward(*zero, left_hand_pose=hand_preset(name, "left")[None],
                           right_hand_pose=hand_preset(name, "right")[None])
        left = out.hand21[0, 0] - out.joints[0, J["left_wrist"]]
        right = out.hand21[0, 1] - out.joints[0, J["right_wrist"]]
        # anny is left-right symmetric to a few mm: the hands mirror through x = 0
        assert np.abs(left * [-1, 1, 1] - right).max() < 0.006, name


def test_expression_is_anny_facial_actions(body):
    import torch
    go, bp, tr = np.zeros((2, 3)), np.zeros((2, 23, 3)), np.array([[0.0, 1.0, 0.0], [0.3, 0.9, 0.1]])
    bp[1, J["neck"] - 1] = [0.3, 0.2, 0.0]
    names = list(body.expression_names)
    expr = np.zeros((2, len(names)), np.float32)
    expr[0, names.index("jawOpen")] = 1.0
    expr[1, names.index("mouthSmileLeft")], expr[1, names.index("eyeBlinkRight")] = 0.7, 0.4
    shape = np.array([body.default_shape, np.linspace(0.2, 0.8, len(body.shape_names))], np.float32)
    ours = body.forward(go, bp, tr, shape, expression=expr)
    params = torch.from_numpy(body.pose_parameters(go, bp, tr, shape))
    with torch.inference_mode():
        ref = body.model(pose_parameters=params, phenotype_kwargs=torch.from_numpy(shape),
                         facial_actions=torch.from_numpy(expr))["vertices"]
    # (pose_parameters' root delta already turns anny's Z-up axes into the Y-up world)
    np.testing.assert_allclose(ours.vertices, ref.numpy(), atol=2e-5)
    single = body.forward(go[1:], bp[1:], tr[1:], shape[1:], expression=expr[1:])   # one pose: its own path
    np.testing.assert_allclose(single.vertices[0], ref.numpy()[1], atol=2e-5)
    neutral = body.forward(go, bp, tr, shape)
    moved = np.linalg.norm(ours.vertices - neutral.vertices, axis=-1)
    head = body.part_labels == J["head"]
    # only the face moves: every moved vertex is near the head joint (the jaw's skin reaches the neck)
    near = np.linalg.norm(neutral.vertices[0] - neutral.joints[0, J["head"]], axis=1) < 0.2
    assert moved[0, ~near].max() == 0.0 and moved[0, head].max() > 0.01
    # an open jaw lowers the chin: the most moved point goes down
    most = moved[0].argmax()
    assert ours.vertices[0, most, 1] - neutral.vertices[0, most, 1] < -0.01


def test_scene_keys_bring_hands_and_face_to_the_posed_mesh(body):
    from posebooth.assets.face_presets import face_preset
    from posebooth.assets.hand_presets import hand_preset
    from posebooth.assets.posing import pose_people
    from posebooth.scene.model import Person, PoseKey, Scene
    key = PoseKey(frame=0, left_hand_pose=hand_preset("v", "left").ravel().tolist(),
                  right_hand_pose=hand_preset("ok", "right").ravel().tolist(), expression=face_preset("laugh"))
    posed = pose_people(Scene(people=[Person(keys=[key], on_ground=False)]), 0)[0]
    names = list(body.expression_names)
    expr = np.zeros((1, len(names)), np.float32)
    for name, w in face_preset("laugh").items():
        expr[0, names.index(name)] = w
    ref = body.forward(np.zeros((1, 3)), np.zeros((1, 23, 3)), np.array([key.transl]),
                       left_hand_pose=hand_preset("v", "left")[None], right_hand_pose=hand_preset("ok", "right")[None],
                       expression=expr)
    np.testing.assert_allclose(posed.vertices, ref.vertices[0], atol=1e-6)
    np.testing.assert_allclose(posed.hand21, ref.hand21[0], atol=1e-6)
