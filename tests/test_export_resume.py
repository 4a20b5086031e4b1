"""`posebooth render`: interrupted and resumed exports, atomic writes, refusing
to write outside OUT, and clear errors for bad input (export.render_command,
export.files, export.writer)."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from posebooth.cli.main import main
from posebooth.export.files import ExportError, SafeOut
from posebooth.scene.io import save_scene
from posebooth.assets.starter import starter_scene

RUNNER = Path(__file__).with_name("render_with_fake_body.py")
REPO = Path(__file__).resolve().parents[1]


def _scene_file(tmp_path, frames=3, people=1, width=64, height=48) -> Path:
    path = tmp_path / "scene.json"
    save_scene(starter_scene(people=people, frames=frames, width=width, height=height), path)
    return path


def _main_fake(monkeypatch, *args) -> int:
    """`posebooth render ...` in this process, with the test body."""
    from fake_body import fake_body
    monkeypatch.setattr("posebooth.assets.registry.get_body", lambda spec, model_dir=None: fake_body())
    return main(["render", *map(str, args)])


def _files(out: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


@pytest.mark.gl
def test_killed_export_resumes_without_rewriting_finished_frames(tmp_path, monkeypatch):
    n = 16
    passes = "render,depth,normal,parts,mask,control,overlay,mesh"
    scene = _scene_file(tmp_path, frames=n)
    out = tmp_path / "out"
    env = dict(os.environ, POSEBOOTH_TEST_FRAME_DELAY="0.2")
    proc = subprocess.Popen([sys.executable, str(RUNNER), "render", str(scene), "--out", str(out),
                             "--passes", passes, "--quiet"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sidecars = out / ".posebooth" / "frames"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if sidecars.is_dir() and len(list(sidecars.glob("*.npy"))) >= 4:
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    done = sorted(int(p.stem) for p in sidecars.glob("*.npy"))
    assert 4 <= len(done) < n
    # Whatever is under a final name is whole: every PNG decodes.
    for png in out.rglob("*.png"):
        assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED) is not None, png
    assert not (out / "dataset.json").exists()
    before = {k: v for k, v in _files(out).items()
              if any(f"{f:06d}" in k for f in done) and ".tmp" not in k}
    assert len(before) >= 8 * len(done)

    assert _main_fake(monkeypatch, scene, "--out", out, "--passes", passes, "--quiet") == 0
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["complete"] is True and manifest["frames"] == list(range(n))
    after = _files(out)
    for name, stamp in before.items():
        assert after[name] == stamp, f"{name} was rewritten"
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    npz = np.load(out / "annotations.npz")
    np.testing.assert_array_equal(npz["frame_index"], np.arange(n))
    for png in out.rglob("*.png"):
        assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED) is not None, png

    # A finished export re-run is a no-op for the frames.
    assert _main_fake(monkeypatch, scene, "--out", out, "--passes", passes, "--quiet") == 0
    again = _files(out)
    assert {k: v for k, v in again.items() if k.startswith(("render/", "mesh/"))} == \
        {k: v for k, v in after.items() if k.startswith(("render/", "mesh/"))}


@pytest.mark.gl
def test_cli_writes_a_dataset_with_a_progress_bar(tmp_path, monkeypatch, capsys):
    scene = _scene_file(tmp_path, frames=4, width=66, height=50)
    assert _main_fake(monkeypatch, scene, "--out", tmp_path / "o", "--frames", "1:2", "--size", "64x48",
                      "--video") == 0
    captured = capsys.readouterr()
    assert "frame" in captured.err and "100%" in captured.err        # tqdm
    assert "complete" in captured.out
    m = json.loads((tmp_path / "o" / "dataset.json").read_text())
    assert m["frames"] == [1, 2] and m["image_size"] == [64, 48] and m["complete"]
    assert sorted(p.name for p in (tmp_path / "o" / "render").iterdir()) == ["000001.png", "000002.png"]
    assert (tmp_path / "o" / "video" / "render.mp4").stat().st_size > 0


@pytest.mark.gl
def test_refuses_a_symlink_leading_outside_out(tmp_path, monkeypatch, capsys):
    scene = _scene_file(tmp_path, frames=1)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "depth").symlink_to(elsewhere, target_is_directory=True)
    assert _main_fake(monkeypatch, scene, "--out", out, "--quiet") == 2
    assert "outside" in capsys.readouterr().err
    assert not list(elsewhere.iterdir())


def test_safe_out_rejects_names_that_escape(tmp_path):
    out = SafeOut(tmp_path / "o")
    for bad in ("mesh/../../evil.ply", "../x.png", "/etc/passwd", "mesh/000000_..ply/../../x",
                "a//b.png", "./x.png", ""):
        with pytest.raises(ExportError):
            out.write_bytes(bad, b"x")
    (tmp_path / "secret").write_text("keep")
    (out.root / "link.png").symlink_to(tmp_path / "secret")
    with pytest.raises(ExportError, match="outside"):
        out.write_bytes("link.png", b"x")
    assert (tmp_path / "secret").read_text() == "keep"
    out.write_bytes("mesh/ok..name.ply", b"fine")        # dots inside a name are fine
    assert (out.root / "mesh" / "ok..name.ply").read_bytes() == b"fine"


def test_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    out = SafeOut(tmp_path / "o")
    out.write_bytes("depth.png", b"old complete file")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

        def write(self, data):
            self.f.write(data[:3])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: Full(real_fdopen(fd, mode, *a, **k)))
    with pytest.raises(ExportError, match="disk is full"):
        out.write_bytes("depth.png", b"new content that does not fit")
    with pytest.raises(ExportError, match="disk is full"):
        out.write_bytes("normal.png", b"new")
    monkeypatch.undo()
    assert (out.root / "depth.png").read_bytes() == b"old complete file"
    assert not (out.root / "normal.png").exists()
    assert sorted(p.name for p in out.root.iterdir()) == ["depth.png"]       # no temp files


@pytest.mark.parametrize("args, message", [
    (["--frames", "5:2"], "before"),
    (["--frames", "0:99"], "timeline"),
    (["--frames", "x"], "expected"),
    (["--size", "0x10"], "between"),
    (["--size", "big"], "WxH"),
    (["--passes", "render,nope"], "unknown pass"),
    (["--passes", ""], "empty"),
    (["--processes", "0"], "--processes must be between 1 and"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, args, message):
    scene = _scene_file(tmp_path, frames=3)
    assert main(["render", str(scene), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("posebooth: error:") and message in err
    assert not (tmp_path / "o").exists()


def test_bad_scene_file_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "posebooth-scene", "version": 1, "people": [{"keys": []}]}')
    res = subprocess.run([sys.executable, "-m", "posebooth", "render", str(bad), "--out",
                          str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "posebooth: error:" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()
    res = subprocess.run([sys.executable, "-m", "posebooth", "render", str(tmp_path / "missing.json"),
                          "--out", str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "no such file" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.gl
def test_other_settings_into_the_same_folder_are_refused(tmp_path, monkeypatch, capsys):
    scene = _scene_file(tmp_path, frames=1)
    out = tmp_path / "out"
    assert _main_fake(monkeypatch, scene, "--out", out, "--quiet") == 0
    assert _main_fake(monkeypatch, scene, "--out", out, "--size", "32x32", "--quiet") == 2
    assert "different scene or with other settings" in capsys.readouterr().err


@pytest.mark.gl
def test_disk_full_mid_export_stops_cleanly_and_resumes(tmp_path, monkeypatch, capsys):
    """ENOSPC on one file in the writer's thread pool: exit 2 with the reason,
    no sidecar for that frame, a manifest saying incomplete; a re-run finishes."""
    from posebooth.export import files

    scene = _scene_file(tmp_path, frames=4)
    out = tmp_path / "out"
    real = files.SafeOut.write_bytes

    def flaky(self, rel, data, fsync=False):
        if rel == "normal/000002.png":
            raise files._as_export_error(OSError(errno.ENOSPC, "No space left on device"), rel)
        return real(self, rel, data, fsync)

    monkeypatch.setattr(files.SafeOut, "write_bytes", flaky)
    assert _main_fake(monkeypatch, scene, "--out", out, "--quiet", "--workers", "1") == 2
    assert "disk is full while writing normal/000002.png" in capsys.readouterr().err
    assert not (out / ".posebooth" / "frames" / "000002.npz").exists()
    assert not (out / "normal" / "000002.png").exists()
    assert json.loads((out / "dataset.json").read_text())["complete"] is False
    monkeypatch.setattr(files.SafeOut, "write_bytes", real)
    assert _main_fake(monkeypatch, scene, "--out", out, "--quiet") == 0
    assert json.loads((out / "dataset.json").read_text())["complete"] is True
