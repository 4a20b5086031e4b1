"""The installable app: desktop entry, icons, wheel and sdist with their
resources, the frozen app's entry point."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Files a user's install cannot run without (icons, presets, styles, the recipe starter).
RESOURCES = ["posebooth/resources/app/posebooth.svg", "posebooth/resources/app/posebooth-256.png",
             "posebooth/resources/icons/play.svg", "posebooth/resources/model_presets.json",
             "posebooth/resources/pose_presets.json", "posebooth/dataset/starter.toml"]


def test_desktop_entry_validates():
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (`make test` installs it as root)")
    r = subprocess.run([tool, str(ROOT / "packaging" / "posebooth.desktop")], capture_output=True, text=True)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr
    entry = (ROOT / "packaging" / "posebooth.desktop").read_text()
    assert "Exec=posebooth gui %f" in entry and "Icon=posebooth" in entry


def test_icon_sizes_are_square_pngs_of_their_size():
    from PIL import Image
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        with Image.open(ROOT / "posebooth" / "resources" / "app" / f"posebooth-{size}.png") as im:
            assert im.format == "PNG" and im.size == (size, size) and im.mode == "RGBA"


def test_the_window_carries_the_app_icon(qapp):
    from posebooth.ui.app import make_app
    app = make_app()
    sizes = {s.width() for s in app.windowIcon().availableSizes()}
    assert {16, 32, 256} <= sizes


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Wheel and sdist built by setuptools' own PEP 517 hooks from a copy of
    the project (nothing written into the source tree)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "posebooth", src / "posebooth", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    code = ("import sys; from setuptools import build_meta as b; "
            "w = b.build_wheel('dist'); s = b.build_sdist('dist'); print('BUILT', w, s)")
    r = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel, sdist = next(line for line in r.stdout.splitlines() if line.startswith("BUILT")).split()[1:]
    return src / "dist" / wheel, src / "dist" / sdist


def test_wheel_carries_the_resources(built):
    names = set(zipfile.ZipFile(built[0]).namelist())
    assert all(r in names for r in RESOURCES), sorted(set(RESOURCES) - names)
    assert any(n.endswith("entry_points.txt") for n in names)
    assert not any(n.startswith("tests/") for n in names)   # fixtures are never installed


def test_sdist_carries_the_resources(built):
    with tarfile.open(built[1]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert all(r in names for r in RESOURCES), sorted(set(RESOURCES) - names)


def test_frozen_entry_opens_the_app_unless_given_a_command():
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        from frozen_entry import command_line
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    assert command_line([]) == ["gui"]
    assert command_line(["walk.json"]) == ["gui", "walk.json"]
    assert command_line(["render", "s.json", "--out", "o"]) == ["render", "s.json", "--out", "o"]
    assert command_line(["--version"]) == ["--version"]
