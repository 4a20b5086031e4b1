"""A `posebooth render` killed with SIGKILL mid-export leaves no helper
process behind, with full-size frames (export.helpers' parent watchdog).

The regression: a helper's writer thread blocked forever on the full pipe
of frame reports to its dead parent (the helper holds both ends, so no
EPIPE ever comes) and the helper never reached its parent-alive check. Small
frames never fill that pipe, so this runs the real command line on a
512x512, 3-person scene with every image pass and the real anny body, and
stops the parent first, so that its helper's reports pile up unread as they
would behind a stalled parent, before killing it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostile_harness import REPO, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.gl]

PASSES = "render,depth,normal,parts,mask,control,overlay"
LIVENESS_BOUND_S = 60      # how long the helpers get to notice; not a timing assertion


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid`, from /proc/*/stat (field 4)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # the name may hold spaces and parentheses
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2:].split()[0] == "Z"   # a zombie has exited


def _sidecars(out: Path) -> int:
    folder = out / ".posebooth" / "frames"
    return len(list(folder.glob("*.npy"))) if folder.is_dir() else 0


def _wait(condition, limit_s: float, step_s: float = 0.2) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step_s)
    return condition()


def test_helpers_die_with_a_killed_full_size_render(tmp_path):
    scene = tmp_path / "s.json"
    made = run_cli("scene", "new", str(scene), "--people", "3", "--frames", "200")
    assert made.returncode == 0, made.stderr
    out = tmp_path / "out"
    log = (tmp_path / "render.log").open("w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "posebooth", "render", str(scene), "--out", str(out),
                             "--size", "512x512", "--passes", PASSES, "--processes", "2", "--quiet"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    helpers: list[int] = []
    try:
        # Frames from both processes: the helper takes whole chunks of 16
        # once warm, so 48 sidecars mean it is writing too.
        assert _wait(lambda: _sidecars(out) >= 48 or proc.poll() is not None, 900), \
            "the export did not get going"
        assert proc.poll() is None, (tmp_path / "render.log").read_text()[-3000:]
        helpers = _children(proc.pid)
        assert helpers, "no helper process was started"
        # Stop the parent: it no longer reads its helper's reports, which fill
        # the pipe; wait until the helper has stalled on it (no new frames).
        os.kill(proc.pid, signal.SIGSTOP)
        last = [-1]

        def stalled():
            n, last[0] = last[0], _sidecars(out)
            return n == last[0]
        _wait(stalled, 120, step_s=3.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _wait(lambda: all(_gone(h) for h in helpers), LIVENESS_BOUND_S), \
            f"helper process(es) {[h for h in helpers if not _gone(h)]} outlived the killed render"
        # And nothing more is written once they are gone.
        written = _sidecars(out)
        assert written < 200
        time.sleep(1.0)
        assert _sidecars(out) == written
    finally:
        log.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for h in helpers:
            if not _gone(h):
                os.kill(h, signal.SIGKILL)
