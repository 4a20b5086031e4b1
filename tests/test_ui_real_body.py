"""Smoke test with the real anny body and the real GL viewport."""
import numpy as np
import pytest

from posebooth.assets.starter import starter_scene
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_window_with_anny_body(make_window, qtbot):
    pytest.importorskip("anny")
    from posebooth.assets.registry import get_body
    win = make_window(scene=starter_scene(people=2, preset="walking"), real_viewport=True, body_for=get_body)
    win.shape_dock.raise_()
    qtbot.waitUntil(lambda: bool(win.shape_panel._sliders), timeout=180_000)  # first anny build can be slow
    names = set(win.shape_panel._sliders)
    assert {"gender", "age", "height", "weight", "muscle", "proportions"} <= names
    win.doc.select(0, 16)
    win.action_map["mirror_pose"].trigger()
    posed = win.doc.posed()
    assert len(posed) == 2 and posed[0].vertices.shape[1] == 3
    if hasattr(win.viewport, "grabFramebuffer"):
        qtbot.wait(200)
        image = win.viewport.grabFramebuffer()
        arr = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
        assert arr.std() > 5  # something was drawn
