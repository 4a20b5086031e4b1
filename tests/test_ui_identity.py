"""The generation panel's identity row: choose, rescale, clear (undoable), and a missing
file shown in one line while the scene keeps its reference."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image


def test_identity_row_chooses_scales_and_clears(qtbot, tmp_path):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.generation.identity import IdentityRow

    doc = SceneDocument()
    row = IdentityRow(doc)
    qtbot.addWidget(row)
    assert doc.scene.generation.identity is None and not row.clear.isEnabled()
    path = tmp_path / "hero.png"
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(path)
    assert row.set_path(path) is None
    ident = doc.scene.generation.identity
    assert ident.image.path == str(path) and ident.image.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert row.name.text() == "hero.png" and row.clear.isEnabled()
    row.scale.setValue(1.2)
    assert doc.scene.generation.identity.scale == 1.2
    path.unlink()   # missing now: the row says so, the scene keeps it
    doc.sceneReplaced.emit()
    assert row.name.text().startswith("⚠") and str(path) in row.name.toolTip()
    assert "\n" not in row.name.toolTip()
    assert row.set_path(tmp_path / "nothing.png") and doc.scene.generation.identity is not None
    row.clear.click()
    assert doc.scene.generation.identity is None
    doc.undo_stack.undo()
    assert doc.scene.generation.identity.scale == 1.2
