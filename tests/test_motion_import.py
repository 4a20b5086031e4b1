"""AMASS .npz import: layouts, Z-up -> Y-up, resampling to the scene's fps, and
every bad file turned into a MotionError that leaves the scene untouched."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from posebooth.assets.motion import SMPL_REST_PELVIS, Z_UP_TO_Y_UP, MotionError, import_motion, load_amass
from posebooth.scene import Person, PoseKey, Scene

WIDTH = {"smpl": 72, "smplh": 156, "smplx": 165}


def _scene(fps=30.0):
    s = Scene(people=[Person(name="A"), Person(name="B", keys=[PoseKey(frame=3, transl=[1, 1, 1])])])
    s.timeline.fps = fps
    s.timeline.end = 10
    return s


def _motion(n, seed=0):
    rng = np.random.default_rng(seed)
    root = rng.normal(0, 0.8, (n, 3))
    body = rng.normal(0, 0.5, (n, 54, 3))        # enough rows for any layout (SMPL-X: 54)
    trans = rng.normal(0, 1, (n, 3))
    return root, body, trans


def write_amass(path, layout, root, body, trans, fps, rate_key="mocap_framerate", split=False, **extra):
    n = root.shape[0]
    if layout == "smpl":
        poses = np.concatenate([root, body[:, :23].reshape(n, -1)], axis=1)
    else:
        poses = np.concatenate([root, body.reshape(n, -1)], axis=1)[:, :WIDTH[layout]]
    arrays = {"trans": trans, rate_key: np.array(fps), "betas": np.zeros(16), "gender": np.array("neutral")}
    if split:
        arrays.update(root_orient=root, pose_body=body[:, :21].reshape(n, -1), pose_hand=np.zeros((n, 90)))
    else:
        arrays["poses"] = poses
    arrays.update(extra)
    np.savez(path, **arrays)
    return path


def _expected(root, body, trans, layout):
    """Source frames converted to PoseBooth: (N, 24, 3) rotvecs, (N, 3) pelvis."""
    n = root.shape[0]
    go = (Rotation.from_matrix(Z_UP_TO_Y_UP) * Rotation.from_rotvec(root)).as_rotvec()
    rot = np.zeros((n, 24, 3))
    rot[:, 0] = go
    k = 23 if layout == "smpl" else 21
    rot[:, 1:1 + k] = body[:, :k]
    return rot, (trans + SMPL_REST_PELVIS) @ Z_UP_TO_Y_UP.T


def _same_rot(a, b, atol=1e-9):
    np.testing.assert_allclose(Rotation.from_rotvec(a.reshape(-1, 3)).as_matrix(),
                               Rotation.from_rotvec(b.reshape(-1, 3)).as_matrix(), atol=atol)


@pytest.mark.parametrize("layout,split,rate_key", [("smpl", False, "mocap_framerate"),
                                                    ("smplh", False, "mocap_framerate"),
                                                    ("smplx", False, "mocap_frame_rate"),
                                                    ("smplx", True, "mocap_frame_rate")])
def test_layouts_import_at_scene_fps(tmp_path, layout, split, rate_key):
    root, body, trans = _motion(121)                     # 1 s at 120 fps
    path = write_amass(tmp_path / "m.npz", layout, root, body, trans, 120.0, rate_key, split)
    scene = _scene(30.0)
    before = scene.model_dump()
    out = import_motion(scene, path)
    assert scene.model_dump() == before                 # the input is never modified
    keys = out.people[0].keys
    assert [k.frame for k in keys] == list(range(31)) and out.timeline.end == 30
    assert out.people[1] == scene.people[1]             # the other person is untouched
    rot, pelvis = _expected(root, body, trans, layout)
    for k in (0, 7, 30):                                 # 120 / 30: scene frame k is source frame 4k
        got = np.concatenate([[keys[k].global_orient], np.reshape(keys[k].body_pose, (23, 3))])
        _same_rot(got, rot[4 * k])
        np.testing.assert_allclose(keys[k].transl, pelvis[4 * k], atol=1e-12)
    if layout != "smpl":                                 # SMPL's hand joints stay at rest
        assert np.all(np.reshape(keys[5].body_pose, (23, 3))[21:] == 0.0)
    assert load_amass(path).layout == layout


def test_resampling_matches_slerp_at_the_exact_times(tmp_path):
    root, body, trans = _motion(51, seed=2)             # 1 s at 50 fps -> 30 fps: fractional source frames
    path = write_amass(tmp_path / "m.npz", "smpl", root, body, trans, 50.0)
    out = import_motion(_scene(30.0), path)
    rot, pelvis = _expected(root, body, trans, "smpl")
    keys = out.people[0].keys
    assert len(keys) == 31
    for k in range(31):
        u = k * 50 / 30
        i = min(int(np.floor(u + 1e-9)), 49)
        t = u - i
        ref = np.array([Slerp([0, 1], Rotation.from_rotvec(rot[i:i + 2, j]))([t]).as_rotvec()[0] for j in range(24)])
        got = np.concatenate([[keys[k].global_orient], np.reshape(keys[k].body_pose, (23, 3))])
        _same_rot(got, ref, atol=1e-8)
        np.testing.assert_allclose(keys[k].transl, (1 - t) * pelvis[i] + t * pelvis[i + 1], atol=1e-12)


def test_z_up_becomes_y_up(tmp_path):
    n = 61
    root = np.tile([np.pi / 2, 0.0, 0.0], (n, 1))       # how AMASS stands an upright SMPL body in Z-up
    trans = np.stack([np.zeros(n), np.linspace(0, 3, n), np.full(n, 1.15)], axis=1)   # walking along +Y
    path = write_amass(tmp_path / "walk.npz", "smplh", root, np.zeros((n, 54, 3)), trans, 60.0)
    keys = import_motion(_scene(30.0), path).people[0].keys
    first, last = np.array(keys[0].transl), np.array(keys[-1].transl)
    assert last[2] - first[2] < -2.9 and abs(last[0] - first[0]) < 1e-9     # along -Z
    assert abs(first[1] - (1.15 + SMPL_REST_PELVIS[2])) < 1e-9            # AMASS z is height
    np.testing.assert_allclose(keys[10].global_orient, 0.0, atol=1e-9)     # upright, facing +Z


def test_start_frame_and_max_frames(tmp_path):
    root, body, trans = _motion(121)
    path = write_amass(tmp_path / "m.npz", "smpl", root, body, trans, 120.0)
    out = import_motion(_scene(30.0), path, person_index=1, start_frame=40, max_frames=5)
    assert [k.frame for k in out.people[1].keys] == [40, 41, 42, 43, 44]
    assert out.timeline.end == 44 and out.people[0] == _scene().people[0]
    short = import_motion(_scene(30.0), path, max_frames=3)
    assert short.timeline.end == 10                     # never shrinks the timeline


def _bad_npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def _good(n=10):
    return {"poses": np.zeros((n, 72)), "trans": np.zeros((n, 3)), "mocap_framerate": np.array(120.0)}


def _case(tmp_path, name):
    g = _good()
    if name == "missing":
        return tmp_path / "nope.npz", "no such file"
    if name == "folder":
        return tmp_path, "is a folder"
    if name == "text":
        (tmp_path / "a.npz").write_text("poses,trans\n1,2\n")
        return tmp_path / "a.npz", "not an .npz archive"
    if name == "npy":
        with open(tmp_path / "b.npz", "wb") as f:
            np.save(f, np.zeros((10, 72)))
        return tmp_path / "b.npz", "not an .npz archive"
    if name == "truncated":
        p = _bad_npz(tmp_path, **g)
        p.write_bytes(p.read_bytes()[:300])
        return p, "not an .npz archive"
    if name == "corrupt":                      # zip structure intact, member data damaged (CRC fails)
        p = _bad_npz(tmp_path, **g)
        raw = bytearray(p.read_bytes())
        at = raw.index(b"\x93NUMPY") + 200
        raw[at:at + 64] = b"\xff" * 64
        p.write_bytes(bytes(raw))
        return p, "looks damaged"
    if name == "pickled":
        return _bad_npz(tmp_path, **{**g, "poses": np.array([{"a": 1}] * 10, dtype=object)}), \
            "the file contains pickled objects, which PoseBooth refuses to load"
    if name == "no_keys":
        return _bad_npz(tmp_path, betas=np.zeros(16)), "missing 'poses', 'trans', 'mocap_framerate'"
    if name == "no_rate":
        return _bad_npz(tmp_path, poses=g["poses"], trans=g["trans"]), "missing 'mocap_framerate'"
    if name == "width":
        return _bad_npz(tmp_path, **{**g, "poses": np.zeros((10, 70))}), "'poses' has shape (10, 70)"
    if name == "trans_shape":
        return _bad_npz(tmp_path, **{**g, "trans": np.zeros((10, 2))}), "'trans' has shape (10, 2), expected (10, 3)"
    if name == "trans_count":
        return _bad_npz(tmp_path, **{**g, "trans": np.zeros((9, 3))}), "'trans' has shape (9, 3), expected (10, 3)"
    if name == "split_shape":
        return _bad_npz(tmp_path, root_orient=np.zeros((10, 3)), pose_body=np.zeros((10, 60)),
                        trans=g["trans"], mocap_frame_rate=np.array(60.0)), "'pose_body' has shape (10, 60)"
    if name == "nan":
        poses = g["poses"].copy()
        poses[3, 5] = np.nan
        return _bad_npz(tmp_path, **{**g, "poses": poses}), "'poses' contains NaN or infinite"
    if name == "inf":
        trans = g["trans"].copy()
        trans[0, 0] = np.inf
        return _bad_npz(tmp_path, **{**g, "trans": trans}), "'trans' contains NaN or infinite"
    if name == "zero_fps":
        return _bad_npz(tmp_path, **{**g, "mocap_framerate": np.array(0.0)}), "must be between 1 and 1000"
    if name == "negative_fps":
        return _bad_npz(tmp_path, **{**g, "mocap_framerate": np.array(-30.0)}), "must be between 1 and 1000"
    if name == "text_array":
        return _bad_npz(tmp_path, **{**g, "poses": np.full((10, 72), "x")}), "not numbers"
    raise AssertionError(name)


BAD = ["missing", "folder", "text", "npy", "truncated", "corrupt", "pickled", "no_keys", "no_rate", "width", "trans_shape",
       "trans_count", "split_shape", "nan", "inf", "zero_fps", "negative_fps", "text_array"]


@pytest.mark.parametrize("name", BAD)
def test_bad_files_raise_motion_error_and_leave_the_scene(tmp_path, name):
    path, message = _case(tmp_path, name)
    scene = _scene()
    before = scene.model_dump()
    with pytest.raises(MotionError) as e:
        import_motion(scene, path)
    assert message in str(e.value), str(e.value)
    assert scene.model_dump() == before


def test_missing_keys_message_lists_what_is_expected(tmp_path):
    path, _ = _case(tmp_path, "no_keys")
    with pytest.raises(MotionError) as e:
        import_motion(_scene(), path)
    msg = str(e.value)
    for word in ("poses", "root_orient", "pose_body", "trans", "mocap_frame_rate", "Found: betas"):
        assert word in msg


def test_bad_arguments(tmp_path):
    root, body, trans = _motion(5)
    path = write_amass(tmp_path / "m.npz", "smpl", root, body, trans, 30.0)
    with pytest.raises(MotionError, match="no person 3: people are numbered 1..2"):
        import_motion(_scene(), path, person_index=2)
    with pytest.raises(MotionError, match="max_frames"):
        import_motion(_scene(), path, max_frames=0)
    with pytest.raises(MotionError, match="start_frame"):
        import_motion(_scene(), path, start_frame=-1)
