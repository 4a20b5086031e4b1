"""Camera panel: lens, sensor, output resolution (with aspect presets), and the
camera at the current frame (position, target, roll). Changes to the keyed
fields go through `doc.set_camera_key` (keyed at this frame with auto-key).
"""
from __future__ import annotations

import math

from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox,
                               QVBoxLayout, QWidget)

from posebooth.scene.tracks import camera_key_at
from posebooth.edits import key_ops
from posebooth.ui.viewport import host as viewport_host
from posebooth.ui.widgets import (EditBurst, Vec3Edit, button, compact_combo, hint_label, set_quietly, spin,
                                  vertical_scroll)

ASPECTS = (("Custom", None), ("1:1", 1.0), ("4:3", 4 / 3), ("3:2", 3 / 2), ("16:9", 16 / 9), ("9:16", 9 / 16))


def size_for_aspect(width: int, height: int, aspect: float) -> tuple[int, int]:
    """Keep the long side, fit the other to the aspect (multiples of 8, as diffusion wants)."""
    long_side = max(width, height)
    if aspect >= 1:
        w, h = long_side, long_side / aspect
    else:
        w, h = long_side * aspect, long_side
    snap = lambda v: max(8, int(round(v / 8)) * 8)  # noqa: E731
    return snap(w), snap(h)


class CameraPanel(QWidget):
    def __init__(self, doc, viewport=None, parent=None):
        super().__init__(parent)
        self.doc, self.viewport = doc, viewport
        self._burst = EditBurst(parent=self)
        self._updating = False

        lens = QGroupBox("Lens and output")
        form = QFormLayout(lens)
        self.focal = spin(2.0, 2000.0, 1, 1.0, " mm")
        self.focal.setObjectName("focalLength")
        self.sensor = spin(2.0, 100.0, 1, 0.5, " mm")
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box in (self.width_box, self.height_box):
            box.setRange(8, 8192)
            box.setSingleStep(8)
            box.setKeyboardTracking(False)
        self.aspect = compact_combo(QComboBox(), 5)
        for label, value in ASPECTS:
            self.aspect.addItem(label, value)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_box)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_box)
        form.addRow("Focal length", self.focal)
        form.addRow("Sensor width", self.sensor)
        form.addRow("Resolution", size_row)
        form.addRow("Aspect", self.aspect)

        place = QGroupBox("Placement (this frame)")
        pform = QFormLayout(place)
        self.position = Vec3Edit(-1000, 1000, 2, 0.05, "")
        self.target = Vec3Edit(-1000, 1000, 2, 0.05, "")
        self.roll = spin(-180.0, 180.0, 1, 1.0, "°")
        pform.addRow("Position (m)", self.position)
        pform.addRow("Target (m)", self.target)
        pform.addRow("Roll", self.roll)

        self.from_view_btn = button("Set from view")
        self.from_view_btn.setToolTip("Make the render camera match the viewport's view (Ctrl+Alt+0)")
        self.from_view_btn.clicked.connect(self.set_from_view)
        self.key_btn = button("Key camera")
        self.key_btn.setToolTip("Insert a camera key at the current frame")
        self.key_btn.clicked.connect(lambda: key_ops.insert_camera_key(doc))
        buttons = QHBoxLayout()
        buttons.addWidget(self.from_view_btn)
        buttons.addWidget(self.key_btn)
        self.hint = hint_label()

        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(lens)
        lay.addWidget(place)
        lay.addLayout(buttons)
        lay.addWidget(self.hint)
        lay.addStretch(1)
        vertical_scroll(self, inner)

        self.focal.valueChanged.connect(self._on_focal)
        self.position.edited.connect(lambda v: self._key(position=v, text="Camera position"))
        self.target.edited.connect(lambda v: self._key(target=v, text="Camera target"))
        self.roll.valueChanged.connect(lambda v: self._key(roll=math.radians(v), text="Camera roll"))
        self.sensor.valueChanged.connect(self._on_sensor)
        self.width_box.valueChanged.connect(lambda *_: self._on_size())
        self.height_box.valueChanged.connect(lambda *_: self._on_size())
        self.aspect.activated.connect(self._on_aspect)
        for sig in (doc.sceneReplaced, doc.cameraChanged, doc.frameChanged):
            sig.connect(self.refresh)
        self.refresh()

    def refresh(self, *args):
        spec = self.doc.scene.camera
        key = camera_key_at(spec, self.doc.frame)
        self._updating = True
        try:
            set_quietly(self.focal, key.focal_mm)
            set_quietly(self.sensor, spec.sensor_width_mm)
            set_quietly(self.width_box, spec.width)
            set_quietly(self.height_box, spec.height)
            self.position.set_value(key.position)
            self.target.set_value(key.target)
            set_quietly(self.roll, math.degrees(key.roll))
            ratio = spec.width / spec.height
            match = next((i for i, (_, a) in enumerate(ASPECTS) if a and abs(a - ratio) < 0.01), 0)
            self.aspect.setCurrentIndex(match)
        finally:
            self._updating = False
        keyed = any(k.frame == self.doc.frame for k in spec.keys)
        self.key_btn.setText("◆ Keyed — update" if keyed else "◇ Key camera")

    def _key(self, text: str, **fields):
        if self._updating:
            return
        try:
            self.doc.set_camera_key(text, drag=self._burst.token(), **fields)
            self.hint.setText("")
        except ValueError as e:  # e.g. position == target
            self.hint.setText(str(e).splitlines()[-1])
            self.refresh()

    def _on_focal(self, value: float):
        if not self._updating:   # a camera setting, unless the user keyed the lens (key_ops)
            key_ops.set_focal_length(self.doc, value, drag=self._burst.token())

    def _on_sensor(self, value: float):
        if not self._updating:
            self.doc.edit_camera(lambda c: setattr(c, "sensor_width_mm", float(value)), "Sensor width",
                                 drag=self._burst.token())

    def _on_size(self):
        if self._updating:
            return
        w, h = self.width_box.value(), self.height_box.value()

        def mutate(c):
            c.width, c.height = w, h
        self.doc.edit_camera(mutate, "Resolution", drag=self._burst.token())

    def _on_aspect(self, index: int):
        aspect = self.aspect.itemData(index)
        if aspect is None:
            return
        spec = self.doc.scene.camera
        w, h = size_for_aspect(spec.width, spec.height, aspect)

        def mutate(c):
            c.width, c.height = w, h
        self.doc.edit_camera(mutate, f"Aspect {self.aspect.itemText(index)}")

    def set_from_view(self):
        if not viewport_host.call(self.viewport, "set_render_camera_from_view"):
            self.hint.setText("The 3D viewport is needed to set the camera from the view.")
