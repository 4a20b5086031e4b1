"""Shape panel: the selected person's body model and shape parameters.

anny phenotypes (gender, age, height, weight, muscle, proportions, ...) are
0..1 sliders; SMPL-family betas are -3..3. The names come from the body
backend itself (`body.shape_names`), built lazily: only when the panel is
shown, because the first anny build takes a minute.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QVBoxLayout,
                               QWidget)

from posebooth.ui.widgets import (EditBurst, bind_drag, button, compact_combo, hint_label, set_quietly, slider, title_label,
                                  vertical_scroll)

PREPARING = "Preparing the body model…"
BODY_MODELS = (("anny", "anny (free, default)"), ("smpl", "SMPL"), ("smplh", "SMPL-H"), ("smplx", "SMPL-X"))


def shape_label(name: str) -> str:
    if name.startswith("beta") and name[4:].isdigit():
        return f"β{name[4:]}"
    return name.replace("_", " ").capitalize()


class ShapePanel(QWidget):
    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self._burst = EditBurst(parent=self)
        self._shown_for: tuple | None = None  # (person, model, names) the sliders were built for
        self._sliders: dict[str, object] = {}
        self._updating = False

        self.title = title_label()
        self.hint = hint_label()
        self.model_combo = compact_combo(QComboBox(), 10)
        self.model_combo.setObjectName("bodyModelCombo")
        for key, label in BODY_MODELS:
            self.model_combo.addItem(label, key)
        self.model_combo.activated.connect(self._on_model_chosen)
        self.reset_btn = button("Reset shape")
        self.reset_btn.clicked.connect(self.reset_shape)
        top = QHBoxLayout()
        top.addWidget(self.model_combo, 1)
        top.addWidget(self.reset_btn)

        self.params_box = QGroupBox("Shape")
        self.form = QFormLayout(self.params_box)
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(self.title)
        lay.addLayout(top)
        lay.addWidget(self.hint)
        lay.addWidget(self.params_box)
        lay.addStretch(1)
        vertical_scroll(self, inner)

        for sig in (doc.sceneReplaced, doc.selectionChanged, doc.bodyReady):
            sig.connect(self.refresh)
        doc.personChanged.connect(lambda i: i == doc.selected_person and self.refresh())

    def showEvent(self, event):
        super().showEvent(event)
        self.refresh()

    def _body(self, spec):
        body_model = getattr(self.doc, "body_model", None)
        if body_model is not None:
            return body_model(spec)
        from posebooth.assets.registry import get_body
        return get_body(spec)

    def refresh(self, *args):
        if not self.isVisible() or self._burst.dragging:
            return  # built lazily: the body may take long the first time
        i = self.doc.person_to_edit()
        self.setEnabled(i is not None)
        if i is None:
            self.title.setText("No person selected")
            return
        person = self.doc.scene.people[i]
        self.title.setText(person.name)
        idx = self.model_combo.findData(person.body.model)
        self.model_combo.setCurrentIndex(max(idx, 0))
        if getattr(self.doc, "body_pending", False):   # a warm start: the body is still building
            self.hint.setText(PREPARING)
            self.params_box.setEnabled(False)
            return
        self.params_box.setEnabled(True)
        try:
            names = tuple(self._body(person.body).shape_names)
            self.hint.setText("")
        except Exception as e:  # noqa: BLE001 - show why, keep the panel usable
            names = ()
            self.hint.setText(f"Body model unavailable: {e}")
        key = (i, person.body.model, names)
        if key != self._shown_for:
            self._build(names, person.body.model)
            self._shown_for = key
        self._updating = True
        try:
            for name, s in self._sliders.items():
                default = 0.5 if person.body.model == "anny" else 0.0
                set_quietly(s, float(person.body.shape.get(name, default)))
        finally:
            self._updating = False

    def _build(self, names, model: str):
        while self.form.rowCount():
            self.form.removeRow(0)
        self._sliders.clear()
        lo, hi = (0.0, 1.0) if model == "anny" else (-3.0, 3.0)
        for name in names:
            s = slider(lo, hi, 2)
            s.setObjectName(f"shape_{name}")
            bind_drag(s, self._burst, self.refresh)
            s.valueChanged.connect(lambda v, n=name: self._on_edited(n, v))
            self.form.addRow(shape_label(name), s)
            self._sliders[name] = s
        self.params_box.setTitle("Phenotype" if model == "anny" else "Shape (betas)")
        self.params_box.setVisible(bool(names))

    def _on_edited(self, name: str, value: float):
        i = self.doc.person_to_edit()
        if self._updating or i is None:
            return
        self.doc.set_shape(i, name, float(value), drag=self._burst.token())

    def reset_shape(self):
        i = self.doc.person_to_edit()
        if i is not None and self.doc.scene.people[i].body.shape:
            self.doc.edit_person(i, lambda p: setattr(p.body, "shape", {}), "Reset shape")

    def _on_model_chosen(self, index: int):
        i = self.doc.person_to_edit()
        model = self.model_combo.itemData(index)
        if i is None or model == self.doc.scene.people[i].body.model:
            return
        spec = self.doc.scene.people[i].body.model_copy(update={"model": model, "shape": {}})
        try:
            self._body(spec)  # refuse a model whose files are missing, with the reason
        except Exception as e:  # noqa: BLE001
            self.refresh()
            self.hint.setText(f"Cannot use {model}: {e}")
            return

        def mutate(p):
            p.body.model, p.body.shape = model, {}
        self.doc.edit_person(i, mutate, f"Body model: {model}")
