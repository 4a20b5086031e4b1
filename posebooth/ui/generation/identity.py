"""The generation panel's identity row: choose or clear the character's reference image
(scene.generation.identity: path + sha256 + IP-Adapter scale, frame.identity).

Every change goes through doc.edit_scene (undoable). A missing or changed file is
shown on the row in one line; the scene keeps the reference until the user clears it.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QToolButton, QWidget

from posebooth.frame.identity import IdentityError, identity_problem, make_identity_reference
from posebooth.ui.widgets import set_quietly, spin

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"


class IdentityRow(QWidget):
    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.name = QLabel()
        self.name.setObjectName("identityName")
        self.choose = QToolButton()
        self.choose.setObjectName("identityChoose")
        self.choose.setText("Choose…")
        self.choose.setToolTip("A reference image of the character: the same person in every frame "
                               "and sample (IP-Adapter; SD1.5 and SDXL models)")
        self.clear = QToolButton()
        self.clear.setObjectName("identityClear")
        self.clear.setText("✕")
        self.clear.setToolTip("No identity reference")
        self.scale = spin(0.0, 2.0, 2, 0.05)
        self.scale.setObjectName("identityScale")
        self.scale.setToolTip("How closely the image follows the reference (IP-Adapter scale)")
        self.scale.setMaximumWidth(64)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.name, 1)
        lay.addWidget(self.scale)
        lay.addWidget(self.choose)
        lay.addWidget(self.clear)
        self.choose.clicked.connect(self._ask)
        self.clear.clicked.connect(lambda: self._edit(None, "Clear identity"))
        self.scale.valueChanged.connect(self._set_scale)
        doc.sceneReplaced.connect(self.refresh)
        doc.generationChanged.connect(self.refresh)
        self.refresh()

    def refresh(self, *args) -> None:
        ident = self.doc.scene.generation.identity
        self.clear.setEnabled(ident is not None)
        self.scale.setEnabled(ident is not None)
        if ident is None:
            self.name.setText("<i>none</i>")
            self.name.setToolTip("")
            return
        set_quietly(self.scale, ident.scale)
        problem = identity_problem(self.doc.scene.generation)
        shown = Path(ident.image.path).name
        self.name.setText(f"⚠ {shown}" if problem else shown)
        self.name.setToolTip(problem or ident.image.path)

    def _ask(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Identity reference image", "", IMAGE_FILTER)
        if path:
            self.set_path(path)

    def set_path(self, path) -> str | None:
        """Use this image as the identity; returns the one-line problem, if any (shown on the row)."""
        current = self.doc.scene.generation.identity
        try:
            ref = make_identity_reference(path, scale=current.scale if current else 0.6)
        except IdentityError as e:
            self.name.setText(f"⚠ {Path(str(path)).name}")
            self.name.setToolTip(str(e))
            return str(e)
        self._edit(ref, f"Identity: {Path(ref.image.path).name}")
        return None

    def _set_scale(self, value: float) -> None:
        ident = self.doc.scene.generation.identity
        if ident is not None and ident.scale != value:
            self._edit(ident.model_copy(update={"scale": float(value)}), "Identity scale")

    def _edit(self, ref, text: str) -> None:
        def mutate(scene):
            scene.generation.identity = ref

        self.doc.edit_scene(mutate, text)
