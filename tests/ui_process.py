"""Runs the desktop app's window in a subprocess, for faults that would kill
pytest itself (Qt aborting on a corrupted saved layout) or hang it (a start-up
scene that is a FIFO).

`run_gui(code, *args)` runs PRELUDE + code under a time limit with the
settings in `settings_dir`; the prelude gives the script the fake body, the
2D viewport stand-in and dialogs that print `DIALOG name args` instead of
blocking. Scripts print `RESULT {json}` for the test to read.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
TIME_LIMIT_S = 120  # generous on a loaded 2-core machine; a hang fails the case at this bound

PRELUDE = f"""
import json, os, sys
sys.path.insert(0, {str(TESTS)!r})
from PySide6.QtCore import QSettings
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.environ["TEST_SETTINGS_DIR"])
from posebooth.ui import dialogs

def _recorder(name):
    def fn(parent, *args):
        print("DIALOG", name, json.dumps([str(a) for a in args]), flush=True)
        return {{"ask_save_changes": "discard", "ask_recover": False}}.get(name)
    return fn
for _name in ("show_error", "show_info", "ask_save_changes", "ask_recover", "get_open_path", "get_save_path"):
    setattr(dialogs, _name, _recorder(_name))

if not os.environ.get("TEST_GENERATION_WARM_UP"):  # torch in the background: seconds, and beside the point
    from posebooth.ui.generation.bridge import GenerationBridge
    GenerationBridge.warm_up = staticmethod(lambda: None)

from fake_body import fake_body_for
from ui_support import placeholder_viewport

def fake_window():
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.main_window import MainWindow
    return MainWindow(SceneDocument(body_for=fake_body_for), viewport_factory=placeholder_viewport)
"""


@dataclass
class GuiRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict:
        lines = [ln for ln in self.stdout.splitlines() if ln.startswith("RESULT ")]
        assert len(lines) == 1, f"no RESULT line:\n{self.describe()}"
        return json.loads(lines[0][len("RESULT "):])

    @property
    def dialogs(self) -> list[tuple[str, list]]:
        return [(ln.split(" ", 2)[1], json.loads(ln.split(" ", 2)[2]))
                for ln in self.stdout.splitlines() if ln.startswith("DIALOG ")]

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"

    def assert_clean_exit(self) -> None:
        """Exit 0: not killed by a signal (SIGABRT is -6), not timed out."""
        assert self.returncode == 0, self.describe()


def run_gui(code: str, *args: str, settings_dir: Path, env: dict | None = None, warm_up: bool = False,
            time_limit: int = TIME_LIMIT_S) -> GuiRun:
    """`warm_up`: let the generation panel import torch and its worker in the
    background as the app does (off by default: seconds per case)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TEST_SETTINGS_DIR": str(settings_dir),
                "POSEBOOTH_AUTOSAVE_DIR": str(Path(settings_dir) / "autosave"),
                "TEST_GENERATION_WARM_UP": "1" if warm_up else "", **(env or {})}
    try:
        r = subprocess.run([sys.executable, "-c", PRELUDE + code, *args], cwd=REPO, env=full_env,
                           capture_output=True, text=True, errors="replace", timeout=time_limit)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise AssertionError(f"the window process hung (killed after {time_limit} s):\n{out[-3000:]}") from None
    return GuiRun(r.returncode, r.stdout, r.stderr)
