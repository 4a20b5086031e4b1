"""Test-wide settings: project-local caches, offline Hugging Face, Xvfb Qt."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("POSEBOOTH_CACHE_DIR", str(REPO / ".cache"))
os.environ.setdefault("POSEBOOTH_CONFIG_DIR", str(REPO / ".cache" / "config"))
os.environ.setdefault("POSEBOOTH_DATA_DIR", str(REPO / ".cache" / "data"))   # user pose presets
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def hr():
    """One headless EGL renderer for the whole run. Without EGL the GL tests
    skip on a developer's machine, but fail in CI, where EGL is installed."""
    from posebooth.viewport.headless import HeadlessRenderer
    from posebooth.viewport.renderer import RenderError
    try:
        r = HeadlessRenderer()
    except RenderError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no EGL OpenGL context here: {exc}")
    yield r
    r.close()


def pytest_terminal_summary(terminalreporter):
    """Print how many hostile-input cases ran (issue: "print the count")."""
    stats = terminalreporter.stats
    hostile = [r for key in ("passed", "failed") for r in stats.get(key, [])
               if r.when == "call" and "hostile" in r.keywords]
    if hostile:
        failed = sum(1 for r in hostile if r.failed)
        terminalreporter.write_line(f"hostile-input cases: {len(hostile)} run, {failed} failed")
