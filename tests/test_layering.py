"""docs/DESIGN.md's layers, enforced: import-linter's contracts (pyproject.toml)
hold, they break when a Qt import or an upward import is added (probed on a
copy of the package, never in the source tree), and no two top-level
packages import each other, counting imports inside functions."""
import ast
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def package_copy(tmp_path):
    """A copy of posebooth/ and the contracts, first on PYTHONPATH."""
    shutil.copytree(REPO / "posebooth", tmp_path / "posebooth", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_contracts_hold():
    r = _lint(REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


def test_the_copy_is_what_is_linted(package_copy):
    r = _lint(package_copy)
    assert r.returncode == 0 and "2 kept, 0 broken" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("module", ["frame/pass_images.py", "viewport/renderer.py", "export/writer.py",
                                    "cli/render.py", "edits/pose_ops.py"])
def test_a_qt_import_outside_ui_breaks_a_contract(package_copy, module):
    path = package_copy / "posebooth" / module
    path.write_text(path.read_text() + "\n\ndef _probe():\n    import PySide6.QtCore  # noqa\n")
    r = _lint(package_copy)
    dotted = "posebooth." + module[:-3].replace("/", ".")
    assert r.returncode != 0 and dotted in r.stdout, r.stdout


@pytest.mark.parametrize("module, upward", [("scene/model.py", "posebooth.assets.registry"),
                                            ("viewport/renderer.py", "posebooth.frame.annotations"),
                                            ("frame/annotations.py", "posebooth.export.writer"),
                                            ("export/writer.py", "posebooth.cli.errors")])
def test_an_upward_import_breaks_the_layers(package_copy, module, upward):
    path = package_copy / "posebooth" / module
    path.write_text(path.read_text() + f"\n\ndef _probe():\n    import {upward}  # noqa\n")
    r = _lint(package_copy)
    assert r.returncode != 0 and "Layers run one way" in r.stdout and "BROKEN" in r.stdout, r.stdout


def _package_graph() -> dict[str, set[str]]:
    """Top-level package -> packages it imports, from every import statement
    (module level or inside functions), by the AST."""
    graph = defaultdict(set)
    root = REPO / "posebooth"
    for f in root.rglob("*.py"):
        rel = f.relative_to(root).with_suffix("").parts
        if len(rel) < 2:
            continue
        here = rel[0]
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom) and node.level:
                names = [".".join(("posebooth",) + rel[:len(rel) - node.level])]
            for n in names:
                parts = n.split(".")
                if parts[0] == "posebooth" and len(parts) > 1 and parts[1] != here:
                    graph[here].add(parts[1])
    return graph


def test_no_two_packages_import_each_other():
    graph = _package_graph()
    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph.get(b, ())})
    assert not cycles, f"packages importing each other: {cycles}"
    assert "ui" in graph["cli"] and "frame" in graph["export"]   # the scan sees real edges
