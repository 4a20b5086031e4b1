"""The anny body backend: SMPL-24 retargeting, Y-up world, mesh data.

The first run builds anny's model data (about a minute) into the project-local
cache (POSEBOOTH_CACHE_DIR, set by conftest.py and the Makefile).
"""
import numpy as np
import pytest

from posebooth.assets.body import BodyModel
from posebooth.assets.smpl_skeleton import BONES, COCO17_FROM_SMPL, JOINT_INDEX as J, JOINT_NAMES
from reference_chain import forward_kinematics

# Limbs whose direction on anny matches SMPL's. The others join SMPL joints
# placed differently on the two skeletons (anny's hips sit level with its
# root, its spine curves the other way between spine2, spine3 and neck, its
# clavicles start higher): those keep anny's own rest direction and must turn
# exactly as SMPL turns them.
ANATOMY_DIFFERS = {(J["pelvis"], J["left_hip"]), (J["pelvis"], J["right_hip"]),
                   (J["spine2"], J["spine3"]), (J["spine3"], J["neck"]),
                   (J["spine3"], J["left_collar"]), (J["spine3"], J["right_collar"])}
MATCHED = [b for b in BONES if b not in ANATOMY_DIFFERS]


@pytest.fixture(scope="session")
def body():
    from posebooth.assets.anny_body import get_anny_body
    return get_anny_body()


def random_poses(n, seed=0):
    rng = np.random.default_rng(seed)
    go = rng.normal(size=(n, 3))
    go *= rng.uniform(0, np.pi, (n, 1)) / np.linalg.norm(go, axis=1, keepdims=True)
    axes = rng.normal(size=(n, 23, 3))
    bp = axes / np.linalg.norm(axes, axis=-1, keepdims=True) * rng.uniform(0, 0.6, (n, 23, 1))
    return go, bp, rng.normal(scale=0.5, size=(n, 3))


def unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def zero_pose(body, n=1, shape=None):
    return body.forward(np.zeros((n, 3)), np.zeros((n, 23, 3)), np.zeros((n, 3)), shape)


def test_limb_directions_follow_smpl(body):
    go, bp, tr = random_poses(20)
    out = body.forward(go, bp, tr)
    ref, world_rot = forward_kinematics(go, bp, tr)
    rest = zero_pose(body).joints[0]
    for p, c in MATCHED:
        cos = (unit(out.joints[:, c] - out.joints[:, p]) * unit(ref[:, c] - ref[:, p])).sum(-1)
        assert cos.min() > 0.98, (JOINT_NAMES[p], JOINT_NAMES[c], cos.min())
    for p, c in ANATOMY_DIFFERS:   # anny's own rest limb, turned by SMPL's world rotation
        expected = np.einsum("bij,j->bi", world_rot[:, p], rest[c] - rest[p])
        cos = (unit(out.joints[:, c] - out.joints[:, p]) * unit(expected)).sum(-1)
        assert cos.min() > 0.999, (JOINT_NAMES[p], JOINT_NAMES[c], cos.min())


def test_zero_pose_is_a_t_pose(body):
    joints = zero_pose(body).joints[0]
    for side, sign in (("left", 1), ("right", -1)):
        for a, b in (("shoulder", "elbow"), ("elbow", "wrist")):
            d = unit(joints[J[f"{side}_{b}"]] - joints[J[f"{side}_{a}"]])
            assert d[0] * sign > 0.99, (side, a, b, d)
        leg = unit(joints[J[f"{side}_ankle"]] - joints[J[f"{side}_hip"]])
        assert leg[1] < -0.99
    # A left-right symmetric body, head above the pelvis.
    mirrored = joints[[J[n.replace("left", "@").replace("right", "left").replace("@", "right")]
                       for n in JOINT_NAMES]] * [-1, 1, 1]
    np.testing.assert_allclose(joints, mirrored, atol=2e-3)


def test_outputs(body):
    assert isinstance(body, BodyModel)
    assert body.name == "anny" and body.version.startswith("anny 0.6")
    assert body.default_shape.dtype == np.float32
    assert body.default_shape.shape == (len(body.shape_names),)
    assert {"gender", "age", "muscle", "weight", "height", "proportions"} <= set(body.shape_names)
    go, bp, tr = random_poses(2, seed=1)
    out = body.forward(go, bp, tr)
    V = body.part_labels.shape[0]
    assert out.vertices.shape == (2, V, 3) and out.joints.shape == (2, 24, 3)
    assert out.coco17.shape == (2, 17, 3) and out.batch_size == 2
    for a in (out.vertices, out.joints, out.coco17):
        assert a.dtype == np.float32 and np.isfinite(a).all()
    for k, j in COCO17_FROM_SMPL.items():
        np.testing.assert_array_equal(out.coco17[:, k], out.joints[:, j])
    np.testing.assert_allclose(out.joints[:, J["pelvis"]], tr, atol=1e-5)


def test_faces_and_parts(body):
    import trimesh

    faces, V = body.faces, body.part_labels.shape[0]
    assert faces.dtype == np.int32 and faces.ndim == 2 and faces.shape[1] == 3
    assert faces.min() >= 0 and faces.max() < V
    assert (faces[:, 0] != faces[:, 1]).all() and (faces[:, 1] != faces[:, 2]).all()
    mesh = trimesh.Trimesh(zero_pose(body).vertices[0], faces, process=False)
    assert mesh.volume > 0.03   # outward normals; an adult is ~0.06-0.08 m^3
    assert body.part_labels.dtype == np.uint8 and body.part_labels.max() <= 23
    assert set(np.unique(body.part_labels)) == set(range(24))


def test_parts_sit_near_their_joints(body):
    out = zero_pose(body)
    v, joints = out.vertices[0], out.joints[0]
    for name in ("head", "left_hand", "right_foot", "left_knee", "right_elbow"):
        centre = v[body.part_labels == J[name]].mean(0)
        nearest = np.linalg.norm(joints - centre, axis=1).argsort()[:3]
        assert J[name] in nearest, name


def test_y_up_facing_plus_z(body):
    out = body.forward(np.zeros((1, 3)), np.zeros((1, 23, 3)), np.array([[0.3, 1.0, -2.0]]))
    joints, coco = out.joints[0], out.coco17[0]
    assert joints[J["head"], 1] > joints[J["pelvis"], 1] > joints[J["left_ankle"], 1]
    assert coco[0, 2] > joints[J["pelvis"], 2] + 0.05          # nose in front
    assert coco[1, 0] > coco[0, 0] > coco[2, 0]                 # left eye at +X
    assert coco[3, 0] > coco[1, 0] and coco[4, 0] < coco[2, 0]  # ears outside the eyes
    assert coco[3, 2] < coco[1, 2]                              # ears behind the eyes
    v = out.vertices[0]
    assert 1.5 < v[:, 1].max() - v[:, 1].min() < 1.9            # a standing adult, metres


def test_global_orient_turns_about_pelvis(body):
    tr = np.array([[0.5, 0.9, 0.1]])
    turned = body.forward(np.array([[0.0, np.pi / 2, 0.0]]), np.zeros((1, 23, 3)), tr)
    np.testing.assert_allclose(turned.joints[0, 0], tr[0], atol=1e-5)
    nose = turned.coco17[0, 0] - tr[0]
    assert nose[0] > 0.05 and abs(nose[2]) < 0.03      # +Z rotated about +Y faces +X


def test_batch_matches_singles(body):
    go, bp, tr = random_poses(3, seed=2)
    shapes = np.random.default_rng(3).uniform(0, 1, (3, len(body.shape_names)))
    batch = body.forward(go, bp, tr, shapes)
    for i in range(3):
        one = body.forward(go[i:i + 1], bp[i:i + 1], tr[i:i + 1], shapes[i])
        np.testing.assert_allclose(batch.vertices[i], one.vertices[0], atol=2e-5)
        np.testing.assert_allclose(batch.joints[i], one.joints[0], atol=2e-5)
        np.testing.assert_allclose(batch.coco17[i], one.coco17[0], atol=2e-5)


def anny_reference(body, go, bp, tr, shapes):
    """Vertices and joints from anny's own forward, one pose at a time (batch 1,
    rest model built by anny for that shape alone, no cache); only the SMPL ->
    anny rotation deltas come from PoseBooth's retargeting."""
    import torch

    from posebooth.assets.retarget import JOINT_BONES

    m = body.model
    labels = list(m.bone_labels)
    joint_bones = [labels.index(JOINT_BONES[j]) for j in JOINT_NAMES]
    vertices, joints = [], []
    with torch.inference_mode():
        for i in range(len(go)):
            phen = torch.tensor(shapes[i:i + 1], dtype=torch.float32)
            rest = m(pose_parameters=None, phenotype_kwargs=phen)
            prep = body.retarget.prepare(rest["rest_bone_heads"], rest["rest_bone_poses"][..., :3, :3])
            aa = torch.tensor(np.concatenate([go[i:i + 1, None], bp[i:i + 1]], 1), dtype=torch.float32)
            delta = torch.eye(4).repeat(1, len(labels), 1, 1)
            delta[..., :3, :3] = body.retarget(aa, prep)
            delta[0, 0, :3, 3] = body.retarget.ref_root @ torch.tensor(tr[i], dtype=torch.float32)
            out = m(pose_parameters=delta, phenotype_kwargs=phen)
            vertices.append(out["vertices"][0].numpy())
            joints.append(out["bone_poses"][0, joint_bones, :3, 3].numpy())
    return np.stack(vertices), np.stack(joints)


def shape_batch(body, case, seed):
    """Shapes for a batch: every pose its own (more than the rest cache takes
    per call), the same ones twice over, or a few, one of them already posed."""
    rng = np.random.default_rng(seed)
    fresh = lambda n: rng.uniform(0, 1, (n, len(body.shape_names))).astype(np.float32)
    if case == "distinct":
        return fresh(20)
    if case == "repeated":
        return fresh(20)[rng.permutation(np.arange(40) % 20)]
    known, new = fresh(1), fresh(3)
    zero_pose(body, shape=known[0])
    return np.concatenate([new[:1], known, new[1:2], new[:1], known, new[2:]])


@pytest.mark.parametrize("case", ["distinct", "repeated", "few"])
def test_shape_batches_match_anny(body, case):
    shapes = shape_batch(body, case, seed={"distinct": 10, "repeated": 11, "few": 12}[case])
    go, bp, tr = random_poses(len(shapes), seed=6)
    out = body.forward(go, bp, tr, shapes)
    vertices, joints = anny_reference(body, go, bp, tr, shapes)
    assert np.abs(out.vertices - vertices).max() <= 1e-5
    assert np.abs(out.joints - joints).max() <= 1e-5


def test_a_pose_is_bit_identical_alone_or_in_a_batch(body):
    """Once its shape's rest model is known, a pose's output does not depend on
    the batch around it (retargeting, skinning and keypoints are per pose, to
    the bit). Shapes new to a call are built in one batched anny call, whose
    matrix products may round their last bit differently with the batch."""
    go, bp, tr = random_poses(8, seed=8)
    shapes = np.random.default_rng(9).uniform(0, 1, (8, len(body.shape_names))).astype(np.float32)
    batch = body.forward(go, bp, tr, shapes)
    for i in range(8):
        one = body.forward(go[i:i + 1], bp[i:i + 1], tr[i:i + 1], shapes[i])
        np.testing.assert_array_equal(batch.vertices[i], one.vertices[0])
        np.testing.assert_array_equal(batch.joints[i], one.joints[0])
        np.testing.assert_array_equal(batch.coco17[i], one.coco17[0])


def test_shape_changes_the_body(body):
    h = body.shape_names.index("height")
    heights = []
    for value in (0.0, 1.0):
        shape = body.default_shape.copy()
        shape[h] = value
        v = zero_pose(body, shape=shape).vertices[0]
        heights.append(v[:, 1].max() - v[:, 1].min())
    assert heights[1] > heights[0] + 0.1
    default = zero_pose(body).vertices
    np.testing.assert_allclose(zero_pose(body, shape=body.default_shape).vertices, default, atol=1e-6)
    with pytest.raises(ValueError):
        zero_pose(body, shape=np.zeros(3))


def test_limbs_follow_smpl_for_other_shapes(body):
    go, bp, tr = random_poses(4, seed=4)
    shapes = np.random.default_rng(5).uniform(0, 1, (4, len(body.shape_names)))
    out = body.forward(go, bp, tr, shapes)
    ref, _ = forward_kinematics(go, bp, tr)
    for p, c in MATCHED:
        cos = (unit(out.joints[:, c] - out.joints[:, p]) * unit(ref[:, c] - ref[:, p])).sum(-1)
        assert cos.min() > 0.98, (JOINT_NAMES[p], JOINT_NAMES[c], cos.min())


def test_build_keeps_only_the_compact_file(tmp_path):
    from posebooth.assets.anny_body import prune_build_files

    old = tmp_path / "v14" / "load_data_old.safetensors"
    old.parent.mkdir()
    old.write_bytes(b"")
    before = set(tmp_path.rglob("*.safetensors"))
    for name in ("load_data_x", "build_model_data_y", "build_compact_model_data_z"):
        (old.parent / f"{name}.safetensors").write_bytes(b"")
    prune_build_files(tmp_path, before)
    assert sorted(p.name for p in old.parent.iterdir()) == [
        "build_compact_model_data_z.safetensors", "load_data_old.safetensors"]


def test_twist_is_shared_with_the_twist_bone(body):
    import roma
    import torch

    labels = list(body.model.bone_labels)
    rest, prep = body._rest(torch.from_numpy(body.default_shape)[None])
    aa = torch.zeros(1, 24, 3)
    aa[0, J["left_wrist"], 0] = 1.0     # pronation: about the T-pose forearm (+X)
    D = body.retarget(aa, prep)
    D0 = body.retarget(torch.zeros(1, 24, 3), prep)
    angle = lambda R: float(roma.rotmat_to_rotvec(R).norm())
    half = angle(D[0, labels.index("lowerarm02.L")] @ D0[0, labels.index("lowerarm02.L")].T)
    assert abs(half - 0.5) < 0.05


def test_rodrigues_matches_roma():
    import roma
    import torch

    from posebooth.assets.retarget import rotvec_to_rotmat

    v = torch.cat([torch.randn(64, 3) * 2, torch.zeros(1, 3), torch.full((1, 3), 1e-7)])
    torch.testing.assert_close(rotvec_to_rotmat(v), roma.rotvec_to_rotmat(v), atol=2e-6, rtol=0)
