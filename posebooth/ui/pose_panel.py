"""Pose panel: rotate the selected joint with X/Y/Z sliders (degrees, local or
global axes), reset / mirror / copy-side buttons, presets, root position.

A slider drag is one undo step: a drag token is made at sliderPressed and
dropped at sliderReleased; every value in between carries it and the undo
stack merges them. While dragging, the panel does not re-read the sliders
from the document, so the Euler triple under the mouse stays stable.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout,
                               QInputDialog, QLabel, QRadioButton, QVBoxLayout, QWidget)

from posebooth.assets.smpl_skeleton import JOINT_NAMES
from posebooth.edits import pose_ops
from posebooth.edits.joint_rotation import joint_euler_deg, with_joint_euler
from posebooth.ui.outliner import joint_label
from posebooth.ui.widgets import (EditBurst, Vec3Edit, bind_drag, button, compact_combo, follow_selected_person,
                                  hint_label, set_quietly, slider, title_label, vertical_scroll)

AXIS_COLORS = ("#e0505a", "#6cc04a", "#4f8fe0")  # Blender's X/Y/Z colours


class PosePanel(QWidget):
    spaceChanged = Signal(str)  # "local" / "global", mirrored to the viewport gizmo

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.space = "local"
        self._burst = EditBurst(parent=self)
        self._move_burst = EditBurst(parent=self)
        self._updating = False

        self.title = title_label()
        self.hint = hint_label()

        # -- rotation ------------------------------------------------------
        self.rotation_box = QGroupBox("Rotation")
        grid = QGridLayout(self.rotation_box)
        self.local_radio, self.global_radio = QRadioButton("Local"), QRadioButton("Global")
        self.local_radio.setToolTip("Angles about the parent bone's axes (Euler XYZ)")
        self.global_radio.setToolTip("Angles about the world axes (Euler XYZ)")
        self.local_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.local_radio)
        group.addButton(self.global_radio)
        self.global_radio.toggled.connect(lambda on: self.set_space("global" if on else "local"))
        axes_row = QHBoxLayout()
        axes_row.addWidget(QLabel("Axes"))
        axes_row.addWidget(self.local_radio)
        axes_row.addWidget(self.global_radio)
        axes_row.addStretch(1)
        grid.addLayout(axes_row, 0, 0, 1, 2)
        self.sliders = []
        for row, (axis, color) in enumerate(zip("XYZ", AXIS_COLORS), start=1):
            label = QLabel(f"<b style='color:{color}'>{axis}</b>")
            s = slider(-180.0, 180.0, 1)
            s.setObjectName(f"rot{axis}")
            s.setToolTip(f"Rotation about {axis}, degrees")
            bind_drag(s, self._burst, self.refresh)
            s.valueChanged.connect(self._on_rotation_edited)
            grid.addWidget(label, row, 0)
            grid.addWidget(s, row, 1)
            self.sliders.append(s)

        self.reset_joint_btn = button("Joint")
        self.reset_joint_btn.setToolTip("Clear the selected joint's rotation (Alt+R)")
        self.reset_limb_btn = button("Limb")
        self.reset_limb_btn.setToolTip("Clear the rotations of the selected joint's limb")
        self.reset_pose_btn = button("Pose")
        self.reset_pose_btn.setToolTip("Back to the rest pose, standing where the person is")
        self.reset_joint_btn.clicked.connect(lambda: pose_ops.reset_joint(doc))
        self.reset_limb_btn.clicked.connect(lambda: pose_ops.reset_limb(doc))
        self.reset_pose_btn.clicked.connect(lambda: pose_ops.reset_pose(doc))
        resets = QHBoxLayout()
        resets.addWidget(QLabel("Reset"))
        for b in (self.reset_joint_btn, self.reset_limb_btn, self.reset_pose_btn):
            resets.addWidget(b)
        grid.addLayout(resets, 4, 0, 1, 2)

        # -- whole pose ----------------------------------------------------------
        pose_box = QGroupBox("Pose")
        form = QFormLayout(pose_box)
        self.mirror_btn = button("Mirror")
        self.mirror_btn.setToolTip("Flip the pose left ↔ right (Ctrl+M)")
        self.copy_lr_btn = button("L → R")
        self.copy_lr_btn.setToolTip("Copy the left side's rotations onto the right side")
        self.copy_rl_btn = button("R → L")
        self.copy_rl_btn.setToolTip("Copy the right side's rotations onto the left side")
        self.mirror_btn.clicked.connect(lambda: pose_ops.mirror(doc))
        self.copy_lr_btn.clicked.connect(lambda: pose_ops.copy_side(doc, "left"))
        self.copy_rl_btn.clicked.connect(lambda: pose_ops.copy_side(doc, "right"))
        sym = QHBoxLayout()
        for b in (self.mirror_btn, self.copy_lr_btn, self.copy_rl_btn):
            sym.addWidget(b)
        form.addRow("Symmetry", sym)
        self.preset_combo = compact_combo(QComboBox(), 10)
        self.preset_combo.setObjectName("presetCombo")
        self.apply_btn = button("Apply")
        self.apply_btn.clicked.connect(self.apply_preset)
        self.save_preset_btn = button("Save…")
        self.save_preset_btn.setObjectName("savePreset")
        self.save_preset_btn.setToolTip("Save this pose as your own preset (in your user folder)")
        self.save_preset_btn.clicked.connect(lambda: self.save_preset())
        presets = QHBoxLayout()
        presets.addWidget(self.preset_combo, 1)
        presets.addWidget(self.apply_btn)
        presets.addWidget(self.save_preset_btn)
        form.addRow("Preset", presets)
        self.preset_problem = QLabel()   # one line naming a broken user preset file
        self.preset_problem.setObjectName("presetProblem")
        self.preset_problem.setWordWrap(True)
        form.addRow(self.preset_problem)
        self.fill_presets()
        self.position = Vec3Edit(-100, 100, 3, 0.05, "")
        self.position.setToolTip("Pelvis position in the world (x, y, z in metres, Y up)")
        self.position.edited.connect(self._on_position_edited)
        form.addRow("Position (m)", self.position)

        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(self.title)
        lay.addWidget(self.hint)
        lay.addWidget(self.rotation_box)
        lay.addWidget(pose_box)
        lay.addStretch(1)
        vertical_scroll(self, inner)

        follow_selected_person(doc, self.refresh)
        self.refresh()

    # ---- state ----------------------------------------------------------------
    def set_space(self, space: str):
        if space == self.space:
            return
        self.space = space
        radio = self.global_radio if space == "global" else self.local_radio
        if not radio.isChecked():
            radio.setChecked(True)
        self.spaceChanged.emit(space)
        self.refresh()

    def refresh(self, *args):
        if self._burst.dragging:
            return
        i, j = self.doc.person_to_edit(), self.doc.selected_joint
        has_person, has_joint = i is not None, i is not None and j is not None
        for w in (self.mirror_btn, self.copy_lr_btn, self.copy_rl_btn, self.reset_pose_btn, self.position,
                  self.apply_btn, self.preset_combo, self.save_preset_btn):
            w.setEnabled(has_person)
        self.apply_btn.setEnabled(has_person and self.preset_combo.count() > 0)
        self.rotation_box.setEnabled(has_joint)
        self.reset_joint_btn.setEnabled(has_joint)
        self.reset_limb_btn.setEnabled(has_joint)
        if not has_person:
            self.title.setText("No person selected")
            self.hint.setText("Add a person (Shift+A) or select one in the outliner.")
            return
        person = self.doc.scene.people[i]
        pose = self.doc.pose_of(i)
        self._updating = True
        try:
            self.position.set_value(pose.transl)
            if has_joint:
                name = JOINT_NAMES[j]
                self.title.setText(f"{person.name}  ›  {joint_label(name)}")
                self.hint.setText("Drag a slider to rotate; I keys the pose at this frame.")
                for s, v in zip(self.sliders, joint_euler_deg(pose, j, self.space)):
                    set_quietly(s, float(np.round(v, 6)))
            else:
                self.title.setText(person.name)
                self.hint.setText("Select a joint in the outliner or the viewport to rotate it.")
                for s in self.sliders:
                    set_quietly(s, 0.0)
        finally:
            self._updating = False

    # ---- edits ----------------------------------------------------------------
    def _on_rotation_edited(self, *args):
        i, j = self.doc.person_to_edit(), self.doc.selected_joint
        if self._updating or i is None or j is None:
            return
        euler = [s.value() for s in self.sliders]
        pose = with_joint_euler(self.doc.pose_of(i), j, euler, self.space, self.doc.joint_limits)
        self.doc.set_pose(i, pose, f"Rotate {joint_label(JOINT_NAMES[j])}", drag=self._burst.token())

    def _on_position_edited(self, xyz):
        i = self.doc.person_to_edit()
        if self._updating or i is None:
            return
        pose = self.doc.pose_of(i)
        moved = pose.with_body(transl=xyz)
        self.doc.set_pose(i, moved, "Move person", drag=self._move_burst.token())

    def fill_presets(self, select: str | None = None):
        """The shipped presets, then the user's; a broken user file is named below."""
        from posebooth.assets.user_presets import user_presets_problem
        self.preset_combo.clear()
        for name, label in pose_ops.preset_names():
            self.preset_combo.addItem(label, name)
        if select is not None:
            self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData(select)))
        problem = user_presets_problem()
        self.preset_problem.setText(problem or "")
        self.preset_problem.setVisible(bool(problem))

    def save_preset(self, label: str | None = None) -> str | None:
        """Save the selected person's pose as a user preset; returns its name."""
        from posebooth.assets.presets import PresetFileError
        from posebooth.assets.user_presets import save_user_preset
        from posebooth.ui import dialogs
        i = self.doc.person_to_edit()
        if i is None:
            return None
        if label is None:
            label, ok = QInputDialog.getText(self, "Save pose preset", "Name of the preset:")
            if not ok or not label.strip():
                return None
        try:
            name = save_user_preset(label, self.doc.pose_of(i))
        except PresetFileError as e:
            dialogs.show_error(self, "Cannot save the preset", str(e))
            return None
        self.fill_presets(select=name)
        return name

    def apply_preset(self):
        name = self.preset_combo.currentData()
        if name:
            pose_ops.apply_preset(self.doc, name)
