"""Warm start of the desktop app: `python main.py` to a usable window.

Starts the real app N times in a subprocess with POSEBOOTH_STARTUP_PROBE=1
(posebooth/ui/startup_probe.py): it prints when each stage is reached and
quits by itself. Times are from just before the subprocess is launched:

  app            the QApplication exists (interpreter, CLI and Qt imports)
  window_built   the main window is constructed (hidden)
  window_shown   the window is exposed on screen
  body_drawn     the viewport has painted the posed body
  responsive     the event loop ran a queued call after that: usable
  body_ready     the body model is built (posing and editing need it)

plus "cpu", the CPU seconds the app (all its threads) spent up to responsive:
on a busy machine the wall-clock stages stretch, this much less. Min and
median over the runs, for two kinds of warm start:

  kept frame     the usual one: the start scene's first frame was posed by an
                 earlier start and kept (assets.first_frame), so the window
                 shows it at once and the body builds behind it;
  posed frame    the first start after the scene or PoseBooth changed (the
                 kept frames are deleted before each run): the window shows
                 once the body is built.

The anny cache must be warm (a cold first build takes a minute: run
the app once first); settings and autosaves go to a temporary folder, so the
user's layout and recent files are neither used nor touched. Needs an X
server: uses $DISPLAY, else starts Xvfb.

Target (issue): responsive
<= 2.5 s on a 2-core machine.

Run: .venv/bin/python benchmarks/bench_startup.py [--runs 7] [SCENE]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
STAGES = ("app", "window_built", "window_shown", "body_drawn", "responsive", "body_ready")


def one_start(env: dict, scene: str | None, timeout: float) -> dict[str, float]:
    t0 = time.time()
    proc = subprocess.run([sys.executable, str(REPO / "main.py"), *([scene] if scene else [])], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)
    marks = {}
    for line in proc.stderr.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "posebooth-startup":
            marks[parts[1]] = float(parts[2]) - t0
        elif len(parts) == 2 and parts[0] == "posebooth-startup-cpu":
            marks["cpu"] = float(parts[1])
        elif len(parts) == 2 and parts[0] == "posebooth-startup-first-frame":
            marks["first_frame"] = parts[1]
    if proc.returncode != 0 or "responsive" not in marks:
        sys.exit(f"the app did not start cleanly (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("scene", nargs="?")
    args = parser.parse_args()
    from bench_viewport import ensure_display
    xvfb = ensure_display()
    tmp = tempfile.TemporaryDirectory(prefix="posebooth-bench-startup-")
    env = dict(os.environ, POSEBOOTH_STARTUP_PROBE="1", HF_HUB_OFFLINE="1", QT_QPA_PLATFORM="xcb",
               XDG_CONFIG_HOME=str(Path(tmp.name) / "config"),
               POSEBOOTH_AUTOSAVE_DIR=str(Path(tmp.name) / "autosave"))
    env.setdefault("POSEBOOTH_CACHE_DIR", str(REPO / ".cache"))
    env.setdefault("POSEBOOTH_CONFIG_DIR", str(REPO / ".cache" / "config"))
    # A user's Python caches compiled modules (__pycache__): a warm start reads
    # them. `make test` sets PYTHONDONTWRITEBYTECODE, which would make every
    # start here compile the whole app again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    kept_frames = Path(env["POSEBOOTH_CACHE_DIR"]) / "first_frame"
    modes = {"kept frame": [], "posed frame": []}
    try:
        one_start(env, args.scene, args.timeout)  # page cache, compiled modules, a first saved layout: not counted
        for _ in range(args.runs):
            run = one_start(env, args.scene, args.timeout)
            modes["kept frame" if run.get("first_frame") == "kept" else "posed frame"].append(run)
        for _ in range(args.runs):
            shutil.rmtree(kept_frames, ignore_errors=True)
            modes["posed frame"].append(one_start(env, args.scene, args.timeout))
    finally:
        if xvfb is not None:
            xvfb.terminate()
        tmp.cleanup()
    print(f"warm start, {os.cpu_count()} cores (seconds from launch)")
    for mode, runs in modes.items():
        if not runs:
            continue
        print(f"  {mode}, {len(runs)} runs")
        print(f"    {'stage':<14}{'min':>7}{'median':>8}")
        for stage in (*STAGES, "cpu"):
            values = [r[stage] for r in runs if stage in r]
            if values:
                print(f"    {stage:<14}{min(values):7.2f}{statistics.median(values):8.2f}")
    load = os.getloadavg()[0]
    print(f"  (load average {load:.1f} at the end: other processes slow every stage)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
