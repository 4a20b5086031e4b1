"""assets.torch_preload: torch's libraries are loaded by the C library's
dlopen (outside the GIL), with torch's own flags, and torch then imports and
works as usual. Run in a fresh interpreter: the test process has torch."""
from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is Linux only")

CODE = """
import sys
from posebooth.assets.torch_preload import preload_torch_libraries
ok = preload_torch_libraries()
maps = open("/proc/self/maps").read()
print("preloaded", ok, "torch" in sys.modules, "libtorch_cpu.so" in maps, "libtorch_global_deps.so" in maps)
import torch
print("sum", float(torch.arange(4.0).sum()), preload_torch_libraries())
"""


def test_preload_maps_the_libraries_then_torch_imports_as_usual():
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "preloaded True False True True" in r.stdout, r.stdout   # loaded, torch itself not imported
    assert "sum 6.0 True" in r.stdout, r.stdout


def test_without_torch_it_does_nothing(monkeypatch):
    from posebooth.assets import torch_preload
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(torch_preload.importlib.util, "find_spec", lambda name: None)
    assert torch_preload.preload_torch_libraries() is False
