"""A `dataset run --ray` whose driver is killed with SIGKILL (the OOM killer,
`kill -9 PID`) while its tasks are writing, then run again with the same
command, ends with the dataset an uninterrupted one-process run writes.

The driver is a real `python -m posebooth dataset run --ray` starting its own
local Ray, capped at 2 CPUs. Only the driver is killed, not its process group:
that is the hard case, where Ray's own processes must notice. They are found
by a marker in their environment, so this test sees and ends only the Ray
processes it started, never another run's (no `ray stop`)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from test_dataset_engine import _recipe, _toml

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.gl, pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds processes in /proc")]

REPO = Path(__file__).resolve().parents[1]
SAMPLES = 24
MARK = "POSEBOOTH_TEST_RAY_RUN"
# Ray's per-node agents outlive a killed raylet for about a minute (they try to
# report its death to the dead GCS first); they never open the dataset.
AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")


def _ours(token: str) -> dict[int, str]:
    """pid -> command line of the live processes started with our marker."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"{MARK}={token}\0".encode() in (proc / "environ").read_bytes():
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, UnicodeDecodeError):   # gone meanwhile, or not ours to read
            continue
    return found


def _open_under(pid: int, folder: Path) -> list[str]:
    paths = []
    for link in [Path(f"/proc/{pid}/cwd"), *Path(f"/proc/{pid}/fd").glob("*")]:
        try:
            target = os.readlink(link)
        except OSError:
            continue
        if target.startswith(str(folder)):
            paths.append(target)
    return paths


def _wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def _end(token: str) -> None:
    """SIGKILL what is left of one of our runs (only processes carrying its marker)."""
    for _ in range(100):
        left = _ours(token)
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"could not end our Ray processes: {_ours(token)}")


def _records(out: Path) -> list[Path]:
    return sorted(out.glob(".posebooth/samples/*/*.npz"))


def _arrays(npz: Path) -> dict:
    with np.load(npz, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture
def ray_env():
    """The environment of one run: its own Ray temp folder (short: Ray's socket
    paths must fit 107 bytes), 2 CPUs, and a marker naming its processes."""
    tmp = Path(tempfile.mkdtemp(prefix="pbray-"))
    tokens = []

    def env_for() -> tuple[dict, str]:
        tokens.append(uuid.uuid4().hex)
        return {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_TMPDIR": str(tmp),
                "RAY_OVERRIDE_RESOURCES": json.dumps({"CPU": 2}), MARK: tokens[-1]}, tokens[-1]

    yield env_for
    for token in tokens:
        _end(token)
    shutil.rmtree(tmp, ignore_errors=True)


def test_a_ray_run_whose_driver_was_killed_resumes_to_the_same_dataset(tmp_path, hr, ray_env):
    from posebooth.dataset.run import run_recipe

    recipe = _recipe(samples=SAMPLES, camera={"size": [64, 64]})
    toml = _toml(tmp_path / "r.toml", recipe)
    out = tmp_path / "ray"
    command = [sys.executable, "-m", "posebooth", "dataset", "run", str(toml), "--out", str(out), "--ray",
               "--quiet"]

    # 1. The driver, killed while its tasks write: at least 2 samples done, not all.
    env, first = ray_env()
    with open(tmp_path / "first.log", "wb") as log:
        driver = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    deadline = time.monotonic() + 240
    while len(_records(out)) < 2:
        assert driver.poll() is None, (tmp_path / "first.log").read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "no sample written within 240 s"
        time.sleep(0.01)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert 2 <= len(_records(out)) < SAMPLES

    # 2. The same command again at once, as a retry loop would, while the dead
    # run's tasks may still be writing (the reference run, in this process,
    # overlaps its Ray start-up).
    env, second = ray_env()
    with open(tmp_path / "second.log", "wb") as log:   # a file: Ray's processes may inherit a pipe
        rerun = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    whole = tmp_path / "whole"
    assert run_recipe(recipe, whole, workers=1, progress=False, renderer=hr)["complete"]

    # 3. What the killed driver started ends with it (Ray fate-shares its raylet,
    # GCS and workers with the driver); what lingers holds nothing in the dataset.
    _wait_until(lambda: all(cmd.startswith(AGENTS) for cmd in _ours(first).values()), 60,
                f"the killed run's Ray processes end: {_ours(first)}")
    for pid in _ours(first):
        assert _open_under(pid, out) == [], _ours(first).get(pid)
    assert rerun.wait(timeout=300) == 0, (tmp_path / "second.log").read_text(errors="replace")[-3000:]
    assert f"wrote {SAMPLES} of {SAMPLES}" in (tmp_path / "second.log").read_text()
    _wait_until(lambda: not _ours(second), 60, f"the finished run's Ray processes end: {_ours(second)}")

    # 4. Every sample once, nothing half-written, and the same dataset as one process writes.
    indices = sorted(int(p.stem) for p in _records(out))
    assert indices == list(range(SAMPLES))
    assert not [p for p in out.rglob("*") if p.name.startswith(".") and ".tmp" in p.name]
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"recipe.toml"}
    assert files == {str(p.relative_to(whole)) for p in whole.rglob("*") if p.is_file()}
    for rel in sorted(files):
        a, b = out / rel, whole / rel
        if rel.endswith(".npz"):   # a zip's entries carry their write time: compare the arrays
            x, y = _arrays(a), _arrays(b)
            assert x.keys() == y.keys(), rel
            for k in x:
                np.testing.assert_array_equal(x[k], y[k], err_msg=f"{rel}:{k}")
        elif rel.endswith("run.json"):
            assert json.loads(a.read_text())["settings"] == json.loads(b.read_text())["settings"]
        elif rel == "dataset.json":
            x, y = json.loads(a.read_text()), json.loads(b.read_text())
            assert x["complete"] is True
            for when in ("created", "updated"):
                x.pop(when), y.pop(when)
            assert x == y
        else:
            assert a.read_bytes() == b.read_bytes(), rel
    for shard in sorted(out.glob("shards/*")):
        metas = [json.loads(line) for line in (shard / "samples.jsonl").read_text().splitlines()]
        first_index = int(shard.name) * recipe.output.shard_size
        assert [m["index"] for m in metas] == list(range(first_index, first_index + recipe.output.shard_size))
