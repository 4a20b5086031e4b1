"""Face panel: the selected person's facial expression as anny's facial
actions (0..1 sliders, grouped by region in collapsible sections) and the
face presets.

Every edit goes through edits.face_ops (one undo step; a slider drag merges
into one) and is keyed like the body pose.
"""
from __future__ import annotations

import re

from PySide6.QtWidgets import QFormLayout, QGroupBox, QVBoxLayout, QWidget
from superqt import QCollapsible

from posebooth.assets.face_presets import FACE_PRESETS, FACIAL_ACTIONS, face_preset_label
from posebooth.edits import face_ops
from posebooth.ui.widgets import (EditBurst, bind_drag, button, follow_selected_person, hint_label, preset_row,
                                  set_quietly, slider, title_label, vertical_scroll)

REGIONS = (("brow", "Brows"), ("eye", "Eyes"), ("cheek", "Cheeks"), ("nose", "Nose"), ("jaw", "Jaw"),
           ("mouth", "Mouth"), ("tongue", "Tongue"))


def action_label(name: str) -> str:
    """'mouthSmileLeft' -> 'Smile left' (the region is the section's title)."""
    for prefix, _ in REGIONS:
        if name.startswith(prefix) and name != prefix:
            name = name[len(prefix):]
            break
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)
    return " ".join(words).capitalize()


class FacePanel(QWidget):
    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self._burst = EditBurst(parent=self)
        self._updating = False
        self.title = title_label()
        self.hint = hint_label("Weights of anny's facial actions (ARKit names), 0 to 1.")

        presets_box = QGroupBox("Expression")
        form = QFormLayout(presets_box)
        self.preset_combo, self.apply_btn = preset_row(
            form, [(face_preset_label(n), n) for n in FACE_PRESETS], "face", "Set the expression to this preset",
            self.apply_preset)
        self.neutral_btn = button("Neutral", "Clear every facial action")
        self.neutral_btn.clicked.connect(lambda: face_ops.reset_face(self.doc))
        form.addRow("Reset", self.neutral_btn)

        self.sliders: dict[str, object] = {}
        self.sections = []
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(self.title)
        lay.addWidget(self.hint)
        lay.addWidget(presets_box)
        for prefix, title in REGIONS:
            names = [n for n in FACIAL_ACTIONS if n.startswith(prefix)]
            section = QCollapsible(title)
            body = QWidget()
            sform = QFormLayout(body)
            for name in names:
                s = slider(0.0, 1.0, 2)
                s.setObjectName(f"face_{name}")
                s.setToolTip(name)
                bind_drag(s, self._burst, self.refresh)
                s.valueChanged.connect(lambda v, n=name: self._on_slider(n, v))
                sform.addRow(action_label(name), s)
                self.sliders[name] = s
            section.addWidget(body)
            if prefix in ("eye", "mouth"):
                section.expand(animate=False)
            lay.addWidget(section)
            self.sections.append(section)
        lay.addStretch(1)
        vertical_scroll(self, inner)

        follow_selected_person(doc, self.refresh)
        self.refresh()

    def refresh(self, *args):
        if self._burst.dragging:
            return
        i = self.doc.person_to_edit()
        enabled = i is not None
        for w in (self.preset_combo, self.apply_btn, self.neutral_btn, *self.sections):
            w.setEnabled(enabled)
        self.title.setText(f"{self.doc.scene.people[i].name}  ›  face" if enabled else "No person selected")
        face = self.doc.pose_of(i).expression if enabled else {}
        self._updating = True
        try:
            for name, s in self.sliders.items():
                set_quietly(s, float(face.get(name, 0.0)))
        finally:
            self._updating = False

    def _on_slider(self, name: str, value: float):
        if self._updating or self.doc.person_to_edit() is None:
            return
        face_ops.set_face_weight(self.doc, name, float(value), drag=self._burst.token())

    def apply_preset(self):
        name = self.preset_combo.currentData()
        if name:
            face_ops.apply_face_preset(self.doc, name)
