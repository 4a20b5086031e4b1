"""DESIGN.md's layering: Qt only in ui/ and the Qt side of viewport/ (import-linter)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 kept, 0 broken" in r.stdout


def test_contract_catches_a_violation(tmp_path):
    """The contract is live: a Qt import slipped into scene/ breaks it."""
    bad = REPO / "posebooth" / "scene" / "_qt_leak_probe.py"
    bad.write_text("import PySide6.QtCore  # probe written by test_layering\n")
    try:
        lint = Path(sys.executable).with_name("lint-imports")
        r = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert r.returncode != 0 and "posebooth.scene._qt_leak_probe" in r.stdout
    finally:
        bad.unlink()
