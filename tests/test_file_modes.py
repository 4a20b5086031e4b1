"""Written files honour the umask (posebooth.files.atomic): an export's
files and a saved scene are 0o644 under umask 0o022 and 0o600 under 0o077,
as `open(path, "w")` would make them; `mkstemp` alone made every one 0o600,
unreadable to the team on shared storage. Each case runs in a subprocess
started with that umask."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from posebooth.assets.starter import starter_scene
from posebooth.scene.io import save_scene

REPO = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("render_with_fake_body.py")
MODES = [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]


def _run(umask: int, *argv: str) -> subprocess.CompletedProcess:
    """argv in a subprocess whose umask is `umask` (set before exec, so the
    process reads it at start as a user's shell would give it)."""
    return subprocess.run([sys.executable, "-c", "import os, sys; os.umask(int(sys.argv[1], 8)); "
                           "os.execv(sys.argv[2], sys.argv[2:])", oct(umask), *argv],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


@pytest.mark.parametrize("umask, file_mode, _", MODES)
def test_a_saved_scene_honours_the_umask(tmp_path, umask, file_mode, _):
    new = tmp_path / "new.json"
    r = _run(umask, sys.executable, "-m", "posebooth", "scene", "new", str(new), "--people", "1")
    assert r.returncode == 0, r.stderr
    assert _mode(new) == file_mode
    # Saving over an existing scene: the same mode (the replacement is a new file).
    again = tmp_path / "again.json"
    again.write_text("{}")
    again.chmod(0o640)
    code = ("import sys; from posebooth.scene.io import load_scene, save_scene; "
            "save_scene(load_scene(sys.argv[1]), sys.argv[2])")
    r = _run(umask, sys.executable, "-c", code, str(new), str(again))
    assert r.returncode == 0, r.stderr
    assert _mode(again) == file_mode
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.gl
@pytest.mark.parametrize("umask, file_mode, folder_mode", MODES)
def test_every_exported_file_honours_the_umask(tmp_path, umask, file_mode, folder_mode):
    scene = tmp_path / "scene.json"
    save_scene(starter_scene(people=2, frames=2, width=64, height=48), scene)
    out = tmp_path / "out"
    r = _run(umask, sys.executable, str(RUNNER), "render", str(scene), "--out", str(out), "--video",
             "--passes", "render,depth,normal,parts,mask,control,overlay,mesh", "--quiet", "--processes", "1")
    assert r.returncode == 0, r.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    folders = [out, *(p for p in out.rglob("*") if p.is_dir())]
    # Every kind: bookkeeping, pass images, meshes, the videos (ffmpeg writes
    # a temporary file that is then renamed), the final files.
    names = {p.name for p in files}
    assert {"export.json", "000000.npy", "000000.png", "000000_1.ply", "render.mp4", "dataset.json",
            "annotations.npz", "coco.json", "scene.json"} <= names
    wrong = {str(p.relative_to(out)): oct(_mode(p)) for p in files if _mode(p) != file_mode}
    assert not wrong, wrong
    wrong = {str(p): oct(_mode(p)) for p in folders if _mode(p) != folder_mode}
    assert not wrong, wrong


def test_the_atomic_writer_reads_the_umask_without_changing_it():
    """The umask is read from /proc (no os.umask round trip racing other
    threads), and equals what the process was started with."""
    code = ("import os; from posebooth.files import atomic; "
            "print(oct(atomic.UMASK), oct(atomic.file_mode())); "
            "m = os.umask(0); print(oct(m))")
    r = _run(0o027, sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0o27", "0o640", "0o27"]


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    from posebooth.files.atomic import atomic_write_bytes

    target = tmp_path / "scene.json"
    target.write_bytes(b"the user's scene")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, object())      # fails mid-write
    assert target.read_bytes() == b"the user's scene"
    assert [p.name for p in tmp_path.iterdir()] == ["scene.json"]
