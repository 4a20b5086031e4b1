"""Hand panel: per-finger curl and spread sliders and the hand presets, for
the left hand, the right or both, of the selected person.

Every edit goes through edits.hand_ops (one undo step; a slider drag merges
into one through its EditBurst token) and is keyed like the body pose.
A finger joint picked in the viewport gets flex / spread / twist sliders here.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QButtonGroup, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QRadioButton, QVBoxLayout, QWidget)

from posebooth.assets.hand_limits import DISPLAY_ORDER
from posebooth.assets.hand_skeleton import HAND_JOINT_NAMES
from posebooth.edits import hand_ops
from posebooth.ui.widgets import (EditBurst, bind_drag, button, follow_selected_person, hint_label, preset_row,
                                  set_quietly, slider, title_label, vertical_scroll)


def hand_preset_items() -> list[tuple[str, str]]:
    from posebooth.assets.hand_presets import HAND_PRESETS, hand_preset_label
    return [(name, hand_preset_label(name)) for name in HAND_PRESETS]


class HandPanel(QWidget):
    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self._burst = EditBurst(parent=self)
        self._updating = False
        self.title = title_label()
        self.hint = hint_label()

        # -- which hand ------------------------------------------------------
        self.side_radios = {}
        sides = QHBoxLayout()
        sides.addWidget(QLabel("Hand"))
        group = QButtonGroup(self)
        for side, text in (("left", "Left"), ("right", "Right"), ("both", "Both")):
            r = QRadioButton(text)
            r.setObjectName(f"hand_{side}")
            r.setToolTip(f"Edit the person's {side} hand" if side != "both" else "Edit both hands alike")
            group.addButton(r)
            sides.addWidget(r)
            self.side_radios[side] = r
        self.side_radios["both"].setChecked(True)
        for r in self.side_radios.values():   # connected after the default is set: the sliders exist by then
            r.toggled.connect(lambda on: on and self.refresh())
        sides.addStretch(1)

        # -- fingers ---------------------------------------------------------
        self.fingers_box = QGroupBox("Fingers")
        grid = QGridLayout(self.fingers_box)
        grid.addWidget(QLabel("Curl"), 0, 1)
        grid.addWidget(QLabel("Spread (°)"), 0, 2)
        self.curl_sliders, self.spread_sliders = {}, {}
        lo, hi = hand_ops.CURL_RANGE
        slo, shi = hand_ops.SPREAD_RANGE_DEG
        for row, finger in enumerate(DISPLAY_ORDER, start=1):
            grid.addWidget(QLabel(finger.capitalize()), row, 0)
            c = slider(lo, hi, 2)
            c.setObjectName(f"curl_{finger}")
            c.setToolTip(f"Curl the {finger}: 0 straight, 1 a fist's bend")
            s = slider(slo, shi, 1)
            s.setObjectName(f"spread_{finger}")
            s.setToolTip(f"Spread the {finger} at its knuckle (degrees, away from the middle finger)")
            for w, kind in ((c, "curl"), (s, "spread")):
                bind_drag(w, self._burst, self.refresh)
                w.valueChanged.connect(lambda v, f=finger, k=kind: self._on_slider(k, f, v))
            grid.addWidget(c, row, 1)
            grid.addWidget(s, row, 2)
            self.curl_sliders[finger], self.spread_sliders[finger] = c, s

        # -- the finger joint picked in the viewport ----------------------------
        self.joint_box = QGroupBox("Selected finger joint")
        jform = QFormLayout(self.joint_box)
        self.joint_sliders = []
        for label, tip in (("Flex", "Bend towards the palm, degrees"), ("Spread", "Sideways, degrees"),
                           ("Twist", "About the bone, degrees")):
            s = slider(-180.0, 180.0, 1)
            s.setObjectName(f"finger{label}")
            s.setToolTip(tip)
            bind_drag(s, self._burst, self.refresh)
            s.valueChanged.connect(self._on_joint_slider)
            jform.addRow(label, s)
            self.joint_sliders.append(s)

        # -- presets ---------------------------------------------------------
        presets_box = QGroupBox("Presets")
        form = QFormLayout(presets_box)
        self.preset_combo, self.apply_btn = preset_row(
            form, [(label, name) for name, label in hand_preset_items()], "hand",
            "Pose the chosen hand(s) with this preset", self.apply_preset)
        self.flat_btn = button("Flat hand", "Straighten every finger of the chosen hand(s)")
        self.flat_btn.clicked.connect(lambda: hand_ops.reset_hands(self.doc, self.which()))
        form.addRow("Reset", self.flat_btn)

        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(self.title)
        lay.addWidget(self.hint)
        lay.addLayout(sides)
        lay.addWidget(self.fingers_box)
        lay.addWidget(self.joint_box)
        lay.addWidget(presets_box)
        lay.addStretch(1)
        vertical_scroll(self, inner)

        follow_selected_person(doc, self.refresh)
        self.refresh()

    # ---- state ----------------------------------------------------------------
    def which(self) -> str:
        return next(side for side, r in self.side_radios.items() if r.isChecked())

    def set_which(self, which: str) -> None:
        self.side_radios[which].setChecked(True)

    def refresh(self, *args):
        if self._burst.dragging:
            return
        i = self.doc.person_to_edit()
        for w in (self.fingers_box, self.preset_combo, self.apply_btn, self.flat_btn):
            w.setEnabled(i is not None)
        self.joint_box.setEnabled(False)
        if i is None:
            self.title.setText("No person selected")
            self.hint.setText("Select a person to pose their hands.")
            return
        finger = getattr(self.doc, "selected_finger", None)
        self.joint_box.setEnabled(finger is not None)
        self.title.setText(f"{self.doc.scene.people[i].name}  ›  hands")
        self.hint.setText(f"Selected joint: {finger[0]} {HAND_JOINT_NAMES[finger[1]]} (turn it in the viewport)"
                          if finger else "Click a finger joint in the viewport (select or zoom onto a hand).")
        pose = self.doc.pose_of(i)
        side = "left" if self.which() == "both" else self.which()
        self._updating = True
        try:
            for f in DISPLAY_ORDER:
                set_quietly(self.curl_sliders[f], round(hand_ops.finger_curl(pose, side, f), 4))
                set_quietly(self.spread_sliders[f], round(hand_ops.finger_spread_deg(pose, side, f), 3))
            angles = hand_ops.finger_joint_deg(pose, *finger) if finger else (0.0, 0.0, 0.0)
            for s, v in zip(self.joint_sliders, angles):
                set_quietly(s, round(float(v), 4))
        finally:
            self._updating = False

    # ---- edits ----------------------------------------------------------------
    def _on_slider(self, kind: str, finger: str, value: float):
        if self._updating or self.doc.person_to_edit() is None:
            return
        edit = hand_ops.set_finger_curl if kind == "curl" else hand_ops.set_finger_spread
        edit(self.doc, self.which(), finger, float(value), drag=self._burst.token())

    def _on_joint_slider(self, *args):
        finger = getattr(self.doc, "selected_finger", None)
        if self._updating or self.doc.person_to_edit() is None or finger is None:
            return
        hand_ops.set_finger_joint(self.doc, *finger, [s.value() for s in self.joint_sliders],
                                  drag=self._burst.token())

    def apply_preset(self):
        name = self.preset_combo.currentData()
        if name:
            hand_ops.apply_hand_preset(self.doc, name, self.which())
