"""`posebooth render` in a subprocess with the test body (tests/fake_body.py)
in place of the body registry, so CLI tests need no anny build.

POSEBOOTH_TEST_FRAME_DELAY (seconds) slows each frame's posing down, so a
test can interrupt the export part-way."""
import os
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_body  # noqa: E402

_delay = float(os.environ.get("POSEBOOTH_TEST_FRAME_DELAY", "0"))


class _SlowBody:
    def __init__(self, body):
        self._body = body

    def __getattr__(self, name):
        return getattr(self._body, name)

    def forward(self, *args, **kwargs):
        time.sleep(_delay)
        return self._body.forward(*args, **kwargs)


_body = _SlowBody(fake_body.fake_body()) if _delay else fake_body.fake_body()
registry = types.ModuleType("posebooth.assets.registry")
registry.get_body = lambda spec, model_dir=None: _body
sys.modules["posebooth.assets.registry"] = registry

from posebooth.cli.main import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
