"""SMPL-H / SMPL-X bodies take the MANO-15 hand poses (and SMPL-X its own
expression coefficients); AMASS SMPL-H / SMPL-X files bring the fingers along.

Runs on the synthetic model files of tests/fixtures/smpl_models.py. Truth: a
MANO chain over the fixture's own rest joints (written in the fixture, not in
the code), smplx's module called directly, and the values written into the
motion file.
"""
import importlib.util

import numpy as np
import pytest

from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from reference_chain import forward_kinematics, rodrigues
from fixtures.smpl_models import J0, _skeleton, write_synthetic_model

needs_smplx = pytest.mark.skipif(importlib.util.find_spec("smplx") is None, reason="smplx not installed")
MANO = [f"{f}{k}" for f in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)]
FIRST = {"smplh": (22, 37), "smplx": (25, 40)}   # first finger joint of each hand in the model


@pytest.fixture(scope="module")
def bodies(tmp_path_factory):
    if importlib.util.find_spec("smplx") is None:
        pytest.skip("smplx not installed")
    from posebooth.assets.smpl_body import SmplBody
    root = tmp_path_factory.mktemp("smpl_hands")
    for kind in ("smplh", "smplx"):
        write_synthetic_model(root, kind)
    return {k: SmplBody(k, "neutral", root) for k in ("smplh", "smplx")}


@needs_smplx
@pytest.mark.parametrize("kind", ["smplh", "smplx"])
def test_finger_joints_follow_a_mano_chain(bodies, kind):
    rng = np.random.default_rng(7)
    n = 3
    go, bp = rng.normal(0, 0.5, (n, 3)), rng.normal(0, 0.3, (n, 23, 3))
    bp[:, [J["left_hand"] - 1, J["right_hand"] - 1]] = 0.0   # the hand joint: see the next test
    hands = rng.normal(0, 0.6, (n, 2, 15, 3))
    tr = rng.normal(0, 0.5, (n, 3))
    out = bodies[kind].forward(go, bp, tr, left_hand_pose=hands[:, 0], right_hand_pose=hands[:, 1])
    rest, _ = _skeleton(kind)
    _, world = forward_kinematics(go, bp, tr)
    for b in range(n):
        for s, side in enumerate(("left", "right")):
            first = FIRST[kind][s]
            rots = {}
            for j, name in enumerate(MANO):
                parent = world[b, J[f"{side}_wrist"]] if j % 3 == 0 else rots[j - 1]
                rots[j] = parent @ rodrigues(hands[b, s, j])
            # each finger's bones: joint k -> k+1 turns as the chain says
            for f in range(5):
                finger = MANO[3 * f][:-1]
                col = 1 + 4 * ("thumb", "index", "middle", "ring", "pinky").index(finger)
                pts = out.hand21[b, s, col:col + 3]
                for k in range(2):
                    j = 3 * f + k
                    expected = rots[j] @ (rest[first + j + 1] - rest[first + j])
                    got = pts[k + 1] - pts[k]
                    np.testing.assert_allclose(got, expected, atol=2e-5)


@needs_smplx
def test_the_hand_joint_bends_the_four_fingers(bodies):
    body = bodies["smplh"]
    bp = np.zeros((1, 23, 3))
    bp[0, J["right_hand"] - 1] = [0.0, 0.0, 0.9]
    by_joint = body.forward(np.zeros((1, 3)), bp, np.zeros((1, 3)))
    mano = np.zeros((1, 15, 3))
    for f in ("index", "middle", "ring", "pinky"):
        mano[0, MANO.index(f"{f}1")] = [0.0, 0.0, 0.9]
    by_mano = body.forward(np.zeros((1, 3)), np.zeros((1, 23, 3)), np.zeros((1, 3)), right_hand_pose=mano)
    np.testing.assert_allclose(by_joint.vertices, by_mano.vertices, atol=1e-6)
    assert np.abs(by_joint.vertices - body.forward(np.zeros((1, 3)), np.zeros((1, 23, 3)),
                                                   np.zeros((1, 3))).vertices).max() > 0.01


@needs_smplx
def test_smplx_expression_passes_through(bodies):
    import torch
    body = bodies["smplx"]
    m = body.torch_model
    m.expr_dirs = torch.randn_like(m.expr_dirs) * 0.01   # the synthetic file has no expression space
    assert body.expression_names == tuple(f"smplx_expr{i}" for i in range(m.num_expression_coeffs))
    expr = np.linspace(-0.5, 0.5, m.num_expression_coeffs)[None]
    ours = body.forward(np.zeros((1, 3)), np.zeros((1, 23, 3)), np.zeros((1, 3)), expression=expr)
    with torch.no_grad():
        m.batch_size = 1
        ref = m(betas=torch.zeros(1, len(body.shape_names)), expression=torch.tensor(expr, dtype=torch.float32),
                transl=torch.tensor(-J0[None], dtype=torch.float32)).vertices.numpy()
    np.testing.assert_allclose(ours.vertices, ref, atol=1e-5)


@pytest.mark.parametrize("layout, width, offset", [("smplh", 156, 66), ("smplx", 165, 75)])
def test_amass_fingers_become_hand_poses(tmp_path, layout, width, offset):
    from posebooth.assets.motion import import_motion
    from posebooth.scene.model import Scene, Timeline
    rng = np.random.default_rng(1)
    n = 6
    poses = rng.normal(0, 0.3, (n, width))
    np.savez(tmp_path / "m.npz", poses=poses, trans=rng.normal(0, 0.1, (n, 3)), mocap_framerate=np.array(30.0))
    scene = import_motion(Scene(timeline=Timeline(fps=30.0)), tmp_path / "m.npz")
    keys = scene.people[0].keys
    assert len(keys) == n
    for k, key in enumerate(keys):
        np.testing.assert_allclose(key.left_hand_pose, poses[k, offset:offset + 45], atol=1e-9)
        np.testing.assert_allclose(key.right_hand_pose, poses[k, offset + 45:offset + 90], atol=1e-9)
