"""Hostile scene files and `scene` command arguments, through the real CLI:
numbers that would overflow downstream, special files, output paths that
are not files, out-of-range options. Each answer is one line naming the file
and the field (tests/hostile_harness.py); nothing is written or lost."""
import json
import os
import socket

import numpy as np
import pytest

from hostile_harness import assert_clear_error, run_cli
from posebooth.assets.starter import starter_scene
from posebooth.scene import SceneError, load_scene, scene_to_json


def _valid() -> dict:
    return json.loads(scene_to_json(starter_scene()))


def _key(d):
    return d["people"][0]["keys"][0]


def _cam(d):
    return d["camera"]["keys"][0]


def _set(container, field, index, value):
    container[field][index] = value


# (case, mutation, field path the message must name, what it must say is allowed)
NUMBERS = [
    ("camera_position", lambda d: _set(_cam(d), "position", 2, 1e308), "camera.keys.0.position.2",
     "between -10000 and 10000"),
    ("camera_target", lambda d: _set(_cam(d), "target", 0, -1e308), "camera.keys.0.target.0",
     "between -10000 and 10000"),
    ("translation", lambda d: _set(_key(d), "transl", 0, 1e308), "people.0.keys.0.transl.0",
     "between -10000 and 10000"),
    ("root_rotation", lambda d: _key(d).update(global_orient=[1e308, 0.0, 0.0]), "people.0.keys.0.global_orient",
     "at most 4 pi"),
    ("joint_rotation", lambda d: _set(_key(d), "body_pose", 40, -1e308), "people.0.keys.0.body_pose",
     "joint 14"),                          # entries 39..41 are the 14th joint's
    ("fx_tiny", lambda d: d["camera"].update(intrinsics={"fx": 1e-300, "fy": 500.0, "cx": 256.0, "cy": 256.0}),
     "camera.intrinsics.fx", "must be between"),
    ("fy_for_image", lambda d: d["camera"].update(intrinsics={"fx": 500.0, "fy": 2.0, "cx": 256.0, "cy": 256.0}),
     "intrinsics.fy", "for a 512 x 512 image"),
    ("cx_far_off", lambda d: d["camera"].update(intrinsics={"fx": 500.0, "fy": 500.0, "cx": 1e300, "cy": 256.0}),
     "camera.intrinsics.cx", "must be between"),
    ("anny_shape", lambda d: d["people"][0]["body"].update(shape={"age": 1e300}), "people.0.body.shape",
     "'age'"),
    ("smpl_betas", lambda d: d["people"][0]["body"].update(model="smpl", shape={"beta0": -1e300}),
     "people.0.body.shape", "between -10 and 10"),
    ("colour", lambda d: d["people"][0].update(color=[0.5, 1e308, 0.5]), "people.0.color.1", "between 0 and 1"),
    ("fps_tiny", lambda d: d["timeline"].update(fps=1e-300), "timeline.fps", "between 1 and 1000"),
    ("near_tiny", lambda d: d["camera"].update(near=1e-300), "camera.near", "must be between"),
    ("far_huge", lambda d: d["camera"].update(far=1e308), "camera.far", "must be between"),
    ("roll_huge", lambda d: _cam(d).update(roll=1e308), "camera.keys.0.roll", "must be between"),
    ("start_huge", lambda d: d["timeline"].update(start=10**18), "timeline.start",
     "between 0 and 10000000"),
]
RENDERED = {"camera_position", "translation", "root_rotation", "fx_tiny", "anny_shape"}


def _scene_file(tmp_path, mutate, name="s.json"):
    d = _valid()
    mutate(d)
    path = tmp_path / name
    path.write_text(json.dumps(d))
    return path


@pytest.mark.hostile
@pytest.mark.parametrize("case, mutate, field, allowed", NUMBERS, ids=[c[0] for c in NUMBERS])
def test_scene_check_bounds_every_number(tmp_path, case, mutate, field, allowed):
    path = _scene_file(tmp_path, mutate)
    line = assert_clear_error(run_cli("scene", "check", str(path)), "s.json", field, allowed)
    assert "more problem" not in line      # one thing wrong, so nothing more to report


@pytest.mark.parametrize("case, mutate, field, allowed", NUMBERS, ids=[c[0] for c in NUMBERS])
def test_load_scene_names_the_field(tmp_path, case, mutate, field, allowed):
    path = _scene_file(tmp_path, mutate)
    with pytest.raises(SceneError) as e:
        load_scene(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path)) and field in msg and allowed in msg


@pytest.mark.hostile
@pytest.mark.parametrize("case, mutate, field, allowed", [c for c in NUMBERS if c[0] in RENDERED],
                         ids=sorted(RENDERED, key=[c[0] for c in NUMBERS].index))
def test_render_refuses_before_writing_anything(tmp_path, case, mutate, field, allowed):
    path = _scene_file(tmp_path, mutate)
    out = tmp_path / "dataset"
    answer = run_cli("render", str(path), "--out", str(out), "--frames", "0", "--size", "64x64", "--quiet",
                     "--processes", "1")
    assert_clear_error(answer, "s.json", field)
    assert not out.exists()


def test_values_at_the_bounds_load(tmp_path):
    """The bounds refuse nonsense, not real scenes: the edges themselves are fine."""
    def edge(d):
        _cam(d).update(position=[10000.0, -10000.0, 10000.0], roll=-12.5)
        _key(d).update(transl=[-10000.0, 0.0, 10000.0], global_orient=[0.0, 4 * 3.14159, 0.0])
        d["people"][0]["body"]["shape"] = {"age": 0.0, "weight": 1.0}
        d["camera"].update(near=1e-4, far=1e5, intrinsics={"fx": 5.12, "fy": 1024000.0, "cx": -512.0, "cy": 1024.0})
        d["timeline"].update(fps=1000.0)
    scene = load_scene(_scene_file(tmp_path, edge))
    assert scene.camera.keys[0].position == [10000.0, -10000.0, 10000.0]


@pytest.mark.hostile
def test_several_problems_name_the_first_and_count_the_rest(tmp_path):
    def many(d):
        _set(_key(d), "transl", 1, 1e308)
        d["camera"].update(far=-1.0)
        d["timeline"].update(fps=0)
    line = assert_clear_error(run_cli("scene", "check", str(_scene_file(tmp_path, many))),
                              "s.json", "people.0.keys.0.transl.1")
    assert line.endswith("and 2 more problems")


@pytest.mark.hostile
def test_a_number_with_thousands_of_digits(tmp_path):
    text = scene_to_json(starter_scene()).replace('"seed": 0', '"seed": ' + "9" * 5000)
    (tmp_path / "s.json").write_text(text)
    assert_clear_error(run_cli("scene", "check", str(tmp_path / "s.json")), "s.json", "too long")


# ---- special files ---------------------------------------------------------------------------

def _fifo(tmp_path):
    os.mkfifo(tmp_path / "s.json")
    return tmp_path / "s.json", "named pipe"


def _dev_zero(tmp_path):
    (tmp_path / "s.json").symlink_to("/dev/zero")
    return tmp_path / "s.json", "device"


def _folder(tmp_path):
    (tmp_path / "s.json").mkdir()
    return tmp_path / "s.json", "is a folder"


def _huge(tmp_path):
    with open(tmp_path / "s.json", "wb") as f:
        f.truncate(100 << 30)              # 100 GiB sparse: refused by its size, never read
    return tmp_path / "s.json", "more than"


SPECIAL = {"fifo": _fifo, "symlink_to_dev_zero": _dev_zero, "folder": _folder, "sparse_100_GiB": _huge}


@pytest.mark.hostile
@pytest.mark.parametrize("name", SPECIAL)
def test_scene_check_refuses_special_files(tmp_path, name):
    path, said = SPECIAL[name](tmp_path)
    assert_clear_error(run_cli("scene", "check", str(path)), "s.json", said)


@pytest.mark.hostile
def test_scene_check_refuses_a_socket(tmp_path):
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "s.json"))
        assert_clear_error(run_cli("scene", "check", str(tmp_path / "s.json")), "s.json", "not a regular file")


@pytest.mark.hostile
@pytest.mark.parametrize("name", ["fifo", "symlink_to_dev_zero"])
def test_import_motion_refuses_a_special_scene_file(tmp_path, name):
    path, said = SPECIAL[name](tmp_path)
    assert_clear_error(run_cli("scene", "import-motion", str(path), str(tmp_path / "m.npz")), "s.json", said)


# ---- output paths ----------------------------------------------------------------------------

def _unwritable_folder(tmp_path):
    """A folder this process cannot create files in (root ignores modes; sysfs refuses even root)."""
    if os.geteuid() != 0:
        d = tmp_path / "locked"
        d.mkdir()
        d.chmod(0o555)
        return d
    if not os.path.isdir("/sys") or os.access("/sys", os.W_OK) and _can_create("/sys"):
        pytest.skip("no folder here refuses new files to this user")
    return "/sys"


def _can_create(folder) -> bool:
    try:
        fd = os.open(os.path.join(folder, ".posebooth-probe"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except OSError:
        return False
    os.close(fd)
    os.unlink(os.path.join(folder, ".posebooth-probe"))
    return True


@pytest.mark.hostile
def test_scene_new_onto_a_folder(tmp_path):
    (tmp_path / "out").mkdir()
    assert_clear_error(run_cli("scene", "new", str(tmp_path / "out")), "out", "is a folder")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.hostile
def test_scene_new_into_a_missing_folder(tmp_path):
    assert_clear_error(run_cli("scene", "new", str(tmp_path / "nope" / "s.json")), "nope", "no such folder")


@pytest.mark.hostile
def test_scene_new_under_a_file(tmp_path):
    (tmp_path / "plain").write_text("mine")
    assert_clear_error(run_cli("scene", "new", str(tmp_path / "plain" / "s.json")), "plain", "not a folder")
    assert (tmp_path / "plain").read_text() == "mine"


@pytest.mark.hostile
def test_scene_new_in_an_unwritable_folder(tmp_path):
    folder = _unwritable_folder(tmp_path)
    assert_clear_error(run_cli("scene", "new", os.path.join(folder, "s.json")), "s.json", "permission denied")


@pytest.mark.hostile
def test_scene_new_onto_a_device_leaves_it_alone(tmp_path):
    (tmp_path / "null.json").symlink_to("/dev/null")
    assert_clear_error(run_cli("scene", "new", str(tmp_path / "null.json")), "null.json", "not a regular file")
    assert os.path.islink(tmp_path / "null.json") and os.path.exists("/dev/null")


@pytest.mark.hostile
@pytest.mark.parametrize("args, said", [
    (["--people", "0"], "--people 0: must be between 1 and 16"),
    (["--people", str(10**9)], f"--people {10**9}: must be between 1 and 16"),
    (["--frames", "-1"], "--frames -1: must be between 1 and"),
    (["--frames", str(10**12)], f"--frames {10**12}: must be between 1 and"),
], ids=["people_0", "people_1e9", "frames_-1", "frames_1e12"])
def test_scene_new_bad_numbers(tmp_path, args, said):
    assert_clear_error(run_cli("scene", "new", str(tmp_path / "s.json"), *args), said)
    assert not (tmp_path / "s.json").exists()


# import-motion's options are checked before the motion file is even opened,
# so these need no motion file; the scene must be left exactly as it was.
@pytest.mark.hostile
@pytest.mark.parametrize("args, said", [
    (["--person", "0"], "--person 0: people are numbered 1..2"),
    (["--person", "3"], "--person 3: people are numbered 1..2"),
    (["--start", "-1"], "--start -1: must be between 0 and"),
    (["--max-frames", "0"], "--max-frames 0: must be at least 1"),
], ids=["person_0", "person_3", "start_-1", "max_frames_0"])
def test_import_motion_bad_options(tmp_path, args, said):
    path = tmp_path / "s.json"
    path.write_text(scene_to_json(starter_scene(people=2)))
    before = path.read_bytes()
    assert_clear_error(run_cli("scene", "import-motion", str(path), str(tmp_path / "m.npz"), *args), said)
    assert path.read_bytes() == before


def test_a_scene_at_the_bounds_renders_finite_numbers(tmp_path):
    """What the bounds let through must export finite numbers: a camera 9 km
    away at the longest lens, the depth range at its extremes, a root turned
    two full turns, a second person at the far corner of the allowed world."""
    import subprocess
    import sys
    from pathlib import Path

    def edge(d):
        _cam(d).update(position=[0.0, 1.0, 9000.0], target=[0.0, 0.9, 0.0], focal_mm=2000.0, roll=12.5)
        _key(d).update(global_orient=[0.0, 4 * np.pi - 1e-9, 0.0])
        d["camera"].update(near=1e-4, far=1e5)
        d["timeline"].update(fps=1000.0)
        far = json.loads(json.dumps(d["people"][0]))
        far["keys"][0].update(transl=[10000.0, -10000.0, -10000.0], global_orient=[0.0, 0.0, 0.0])
        far["color"] = [0.0, 1.0, 1.0]
        d["people"].append(far)
    path = _scene_file(tmp_path, edge)
    out = tmp_path / "dataset"
    runner = Path(__file__).with_name("render_with_fake_body.py")   # no anny build
    r = subprocess.run([sys.executable, runner, "render", str(path), "--out", str(out), "--size", "64x64",
                        "--processes", "1", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((out / "dataset.json").read_text())["complete"] is True
    with np.load(out / "annotations.npz") as a:
        for key in a.files:
            if np.issubdtype(a[key].dtype, np.floating):
                assert np.isfinite(a[key]).all(), key
        assert (a["joints2d_vis"][0, 0] > 0).any()       # the near person is in the picture
