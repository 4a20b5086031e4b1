"""Where the user chooses what the OpenPose image shows: the Generation
panel's OpenPose row (one undoable edit of ControlSetting.openpose) and
`posebooth render --openpose`; the scene setting reaches the control image."""
from __future__ import annotations

import numpy as np
import pytest

from fake_body import fake_body_for
from posebooth.assets.starter import starter_scene
from posebooth.scene.model import ControlSetting


def test_generation_panel_sets_the_openpose_parts_as_one_undo_step(qtbot):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.generation.settings import GenerationSettings

    sc = starter_scene(people=1, frames=1, width=64, height=64)
    sc.generation.controls = [ControlSetting(kind="depth"), ControlSetting(kind="openpose")]
    doc = SceneDocument(sc, body_for=fake_body_for)
    w = GenerationSettings(doc)
    qtbot.addWidget(w)
    combo = w.openpose_parts
    assert combo.isEnabled() and combo.currentData() == "body"
    before = doc.undo_stack.count()
    combo.setCurrentIndex(combo.findData("full"))
    combo.activated.emit(combo.currentIndex())
    assert [c.openpose for c in doc.scene.generation.controls if c.kind == "openpose"] == ["full"]
    assert doc.undo_stack.count() == before + 1
    doc.undo_stack.undo()
    assert doc.scene.generation.controls[1].openpose == "body" and combo.currentData() == "body"
    w.rows["openpose"].enabled.setChecked(False)     # no openpose control: nothing to choose
    assert not combo.isEnabled()


@pytest.mark.gl
def test_render_openpose_option_draws_hands_and_face(tmp_path):
    """`posebooth render --openpose full` on the real body (the scene says
    "body"): the control image has hand discs (0, 0, 255) and white face
    points, which a body-only image never has (white is no body colour)."""
    import cv2

    from posebooth.cli.main import main
    from posebooth.scene.io import save_scene

    sc = starter_scene(people=1, width=96, height=96)
    sc.generation.controls = [ControlSetting(kind="openpose")]
    scene = tmp_path / "scene.json"
    save_scene(sc, scene)
    out = tmp_path / "out"
    assert main(["render", str(scene), "--out", str(out), "--quiet", "--passes", "control",
                 "--openpose", "full"]) == 0
    img = cv2.cvtColor(cv2.imread(str(out / "control" / "000000_openpose.png")), cv2.COLOR_BGR2RGB)
    count = lambda c: int(np.all(img == c, axis=-1).sum())
    assert count((0, 0, 255)) > 20 and count((255, 255, 255)) > 10
