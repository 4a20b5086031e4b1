"""Exports shared with helper processes (export.helpers): the same dataset,
byte for byte, as one process writes; every frame once; a helper's failure
or death is a clear error and the frames written so far resume."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from fake_body import failing_fake_body_for, fake_body_for, slow_fake_body_for
from posebooth.export.driver import POSE_CHUNK, export_scene
from posebooth.export.files import ExportError
from posebooth.export.helpers import ExportHelpers
from posebooth.assets.starter import starter_scene

pytestmark = pytest.mark.gl

W, H = 64, 48
PASSES = ("render", "depth", "normal", "parts", "mask", "control", "overlay", "mesh")
FRAMES = 5 * POSE_CHUNK


def _scene(frames=FRAMES):
    sc = starter_scene(people=2, width=W, height=H, frames=frames, preset="walking")
    sc.people[1].keys[0].transl = [0.3, 0.93, -0.7]
    return sc


@pytest.fixture(scope="module")
def helpers():
    # Posing is slowed down so the helper, warm and idle, takes chunks while
    # this process works on its own.
    os.environ["POSEBOOTH_TEST_POSE_DELAY"] = "0.15"
    try:
        with ExportHelpers(1) as h:
            h.wait_warm(h.warm(_scene(), slow_fake_body_for), timeout=120)
            yield h
    finally:
        del os.environ["POSEBOOTH_TEST_POSE_DELAY"]


def _tree(root):
    """Relative path -> bytes of every file, less what differs between runs."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".posebooth" not in p.parts:
            out[str(p.relative_to(root))] = p.read_bytes()
    manifest = json.loads(out.pop("dataset.json"))
    manifest.pop("created")
    return out, manifest


def test_shared_export_equals_a_single_process_export(hr, helpers, tmp_path):
    sc = _scene()
    seen = []
    manifest = export_scene(sc, tmp_path / "shared", passes=PASSES, renderer=hr, body_for=slow_fake_body_for,
                            progress=False, helpers=helpers, on_frame=seen.append)
    by_helper = list(helpers.last_export_frames)
    assert manifest["complete"] and manifest["frames"] == list(range(FRAMES))
    assert sorted(seen) == list(range(FRAMES))            # each frame reported once
    assert 0 < len(by_helper) < FRAMES                     # both processes rendered
    assert len(set(by_helper)) == len(by_helper)
    chunks = {f // POSE_CHUNK for f in by_helper}          # whole chunks per process
    assert sorted(by_helper) == [f for c in sorted(chunks) for f in range(c * POSE_CHUNK, (c + 1) * POSE_CHUNK)]

    single = export_scene(sc, tmp_path / "single", passes=PASSES, renderer=hr, body_for=fake_body_for,
                          progress=False)
    files, m1 = _tree(tmp_path / "shared")
    reference, m2 = _tree(tmp_path / "single")
    assert m1 == m2 and single["complete"]
    assert files.keys() == reference.keys()
    different = [name for name in files if files[name] != reference[name]]
    assert not different, different[:5]


def test_helpers_are_not_used_for_one_chunk_or_an_unpicklable_body(hr, helpers, tmp_path):
    sc = _scene(frames=POSE_CHUNK)
    m = export_scene(sc, tmp_path / "one", passes=("render", "mask"), renderer=hr, body_for=fake_body_for,
                     progress=False, helpers=helpers)
    assert m["complete"] and helpers.last_export_frames == []
    sc = _scene(frames=3 * POSE_CHUNK)
    m = export_scene(sc, tmp_path / "lambda", passes=("render", "mask"), renderer=hr,
                     body_for=lambda spec: fake_body_for(spec), progress=False, helpers=helpers)
    assert m["complete"] and helpers.last_export_frames == []


def test_a_failing_helper_is_an_error_and_the_export_resumes(hr, helpers, tmp_path):
    sc = _scene(frames=4 * POSE_CHUNK)
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="helper process failed: ValueError: this body cannot"):
        export_scene(sc, out, passes=("render", "mask"), renderer=hr, body_for=failing_fake_body_for,
                     progress=False, helpers=helpers)
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["complete"] is False
    m = export_scene(sc, out, passes=("render", "mask"), renderer=hr, body_for=fake_body_for, progress=False)
    assert m["complete"] and m["frames"] == list(range(4 * POSE_CHUNK))
    # The helper reported the error and stays usable.
    m = export_scene(sc, tmp_path / "again", passes=("render", "mask"), renderer=hr,
                     body_for=slow_fake_body_for, progress=False, helpers=helpers)
    assert m["complete"] and helpers.last_export_frames


def test_a_killed_helper_is_an_error_and_the_export_resumes(hr, tmp_path, monkeypatch):
    sc = _scene()
    out = tmp_path / "out"
    monkeypatch.setenv("POSEBOOTH_TEST_POSE_DELAY", "0.3")
    with ExportHelpers(1) as h:
        h.wait_warm(h.warm(sc, slow_fake_body_for), timeout=120)
        killer = threading.Timer(0.5, lambda: h._procs[0].kill())
        killer.start()
        with pytest.raises(ExportError, match="ended unexpectedly"):
            export_scene(sc, out, passes=("render", "mask"), renderer=hr, body_for=slow_fake_body_for,
                         progress=False, helpers=h)
        killer.join()
        assert h.broken
        # A broken pool is not offered the next export: this one runs alone.
        m = export_scene(sc, out, passes=("render", "mask"), renderer=hr, body_for=fake_body_for,
                         progress=False, helpers=h)
    assert m["complete"] and m["frames"] == list(range(FRAMES))


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.split()[:2] == ["State:", "Z"] for line in f)   # a zombie has exited
    except FileNotFoundError:
        return True


def test_helpers_stop_when_the_exporting_process_is_killed(tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        os.environ["POSEBOOTH_TEST_POSE_DELAY"] = "0.3"
        from fake_body import slow_fake_body_for
        from posebooth.export.driver import export_scene
        from posebooth.export.helpers import ExportHelpers
        from posebooth.assets.starter import starter_scene

        if __name__ == "__main__":
            sc = starter_scene(people=2, width=64, height=48, frames=160)
            helpers = ExportHelpers(1)
            helpers.wait_warm(helpers.warm(sc, slow_fake_body_for), timeout=120)
            print(helpers._procs[0].pid, flush=True)
            export_scene(sc, {str(out)!r}, passes=("render", "mask"), body_for=slow_fake_body_for,
                         progress=False, helpers=helpers)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        helper = int(proc.stdout.readline())
        sidecars = out / ".posebooth" / "frames"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(sidecars.glob("*.npy"))) < 20:
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _gone(helper):
            time.sleep(0.1)
        assert _gone(helper), "the helper outlived the process that started it"
        written = len(list(sidecars.glob("*.npy")))
        time.sleep(1.0)
        assert len(list(sidecars.glob("*.npy"))) == written < 160
    finally:
        proc.kill()
        if not _gone(helper):
            os.kill(helper, 9)
