"""`posebooth scene ...` through the real console entry point (a subprocess)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posebooth.scene import load_scene


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "posebooth", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_new_then_check(tmp_path):
    out = tmp_path / "s.json"
    r = run("scene", "new", str(out), "--people", "3", "--frames", "12")
    assert r.returncode == 0, r.stderr
    scene = load_scene(out)
    assert len(scene.people) == 3 and len(scene.timeline.frames) == 12
    xs = [p.keys[0].transl[0] for p in scene.people]
    assert xs == sorted(xs) and len(set(xs)) == 3
    r = run("scene", "check", str(out))
    assert r.returncode == 0 and "valid scene" in r.stdout


def test_new_with_preset(tmp_path):
    out = tmp_path / "s.json"
    r = run("scene", "new", str(out), "--preset", "t-pose")
    assert r.returncode == 0, r.stderr
    r = run("scene", "new", str(out), "--preset", "no-such-pose")
    assert r.returncode == 2 and "no-such-pose" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("content", ["", "{", "[]", '{"format": "posebooth-scene", "version": 9}'])
def test_check_rejects_bad_files_without_traceback(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = run("scene", "check", str(bad))
    assert r.returncode == 2
    assert r.stderr.startswith("posebooth: error: ") and "Traceback" not in r.stderr


def test_check_missing_file(tmp_path):
    r = run("scene", "check", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_bad_arguments(tmp_path):
    r = run("scene", "new", str(tmp_path / "s.json"), "--people", "0")
    assert r.returncode == 2 and "--people" in r.stderr
    r = run("scene", "new", str(tmp_path / "nofolder" / "s.json"))
    assert r.returncode == 2 and "no such folder" in r.stderr


def test_schema_is_json_schema():
    r = run("scene", "schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert schema["title"] == "Scene" and "people" in schema["properties"]


@pytest.mark.hostile
def test_new_never_replaces_an_existing_scene_unasked(tmp_path):
    out = tmp_path / "s.json"
    out.write_text("the user's work")
    r = run("scene", "new", str(out))
    assert r.returncode == 2 and "already exists" in r.stderr and "--force" in r.stderr
    assert out.read_text() == "the user's work"
    r = run("scene", "new", str(out), "--force")
    assert r.returncode == 0 and out.read_text().startswith("{")


CMU = Path(__file__).resolve().parents[2] / "shared" / "data" / "motion" / "cmu_131_01.bvh"


@pytest.mark.skipif(not CMU.is_file(), reason="the shared CMU motion files are not here")
def test_import_motion_reads_a_real_bvh(tmp_path):
    scene = tmp_path / "s.json"
    assert run("scene", "new", str(scene), "--frames", "1").returncode == 0
    r = run("scene", "import-motion", str(scene), str(CMU), "--max-frames", "168")
    assert r.returncode == 0, r.stderr
    keys = load_scene(scene).people[0].keys
    assert [k.frame for k in keys] == list(range(168))
    walked = np.subtract(keys[-1].transl, keys[0].transl)
    assert 1.5 < np.hypot(walked[0], walked[2]) < 6.0       # 7 s of "start, walk, stop", in metres
