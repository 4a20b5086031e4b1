"""dataset.malloc: a sample maker asks glibc to keep freed memory."""
import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_takes_the_settings_once_per_process():
    code = ("from posebooth.dataset.malloc import keep_freed_memory as k; "
            "print(k(), k())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]
