"""The model settings of scene.generation: seed (lock, randomise), steps,
guidance, one row per control kind (on/off, scale, start/end), clip strategy.

Every change goes through doc.edit_scene (undoable); a burst of changes (a
slider drag, held spin-box arrows) merges into one undo step (EditBurst).
The prompt is edited in the prompt panel, not here.
"""
from __future__ import annotations

import random

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                               QSpinBox, QToolButton, QWidget)

from posebooth.frame.controls import CONTROL_KINDS, OPENPOSE_PARTS
from posebooth.scene.model import ControlSetting
from posebooth.ui.generation.identity import IdentityRow
from posebooth.ui.widgets import EditBurst, bind_drag, compact_combo, set_quietly, slider, spin

SEED_MAX = 2 ** 31 - 1   # QSpinBox is 32-bit; the scene allows larger seeds (shown clamped)
KIND_LABELS = {"depth": "Depth", "openpose": "OpenPose", "normal": "Normals"}
STRATEGY_TIPS = {
    "fixed-seed": "Same seed and starting noise for every frame (cheap; may flicker)",
    "previous-frame": "Each frame starts from the previous one (img2img; smoother, may drift)",
    "cross-frame-attention": "Every frame attends to the first frame (most consistent look)",
}


def random_seed() -> int:
    return random.randint(0, SEED_MAX)


class _ControlRow:
    def __init__(self, kind: str):
        self.kind = kind
        self.enabled = QCheckBox(KIND_LABELS[kind])
        self.enabled.setObjectName(f"control_{kind}")
        self.scale = slider(0.0, 2.0, 2)
        self.scale.setObjectName(f"control_{kind}_scale")
        self.scale.setToolTip("How strongly this image steers the model (ControlNet conditioning scale)")
        self.start = spin(0.0, 1.0, 2, 0.05)
        self.end = spin(0.0, 1.0, 2, 0.05)
        self.start.setToolTip("Fraction of the denoising steps where this control starts")
        self.end.setToolTip("Fraction of the denoising steps where this control ends")
        for w in (self.start, self.end):
            w.setMaximumWidth(58)
        # What a newly enabled control starts from (ControlSetting's defaults); afterwards the
        # row keeps the last values the scene had, so off and on again restores them.
        default = ControlSetting(kind=kind)
        set_quietly(self.scale, default.scale)
        set_quietly(self.start, default.start)
        set_quietly(self.end, default.end)


class GenerationSettings(QWidget):
    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self._burst = EditBurst(parent=self)
        self._updating = False

        self.seed = QSpinBox()
        self.seed.setObjectName("generationSeed")
        self.seed.setRange(0, SEED_MAX)
        self.seed.setKeyboardTracking(False)
        self.seed_lock = QToolButton()
        self.seed_lock.setObjectName("generationSeedLock")
        self.seed_lock.setCheckable(True)
        self.seed_lock.setToolTip("Locked: Generate uses this seed. Unlocked: a new random seed each time "
                                  "(shown in the history)")
        self.dice = QToolButton()
        self.dice.setObjectName("generationSeedRandom")
        self.dice.setText("↻")
        self.dice.setToolTip("New random seed")
        seed_row = QHBoxLayout()
        seed_row.setSpacing(3)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.seed_lock)
        seed_row.addWidget(self.dice)

        self.steps = QSpinBox()
        self.steps.setObjectName("generationStepCount")
        self.steps.setRange(1, 200)
        self.steps.setKeyboardTracking(False)
        self.guidance = spin(0.0, 30.0, 1, 0.5)
        self.guidance.setObjectName("generationGuidance")
        self.guidance.setToolTip("Classifier-free guidance: how closely the image follows the prompt")
        sg = QHBoxLayout()
        sg.addWidget(self.steps)
        sg.addWidget(QLabel("Guidance"))
        sg.addWidget(self.guidance)

        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        for col, text in enumerate(("Control", "Scale", "From", "To")):
            grid.addWidget(QLabel(f"<small>{text}</small>"), 0, col)
        self.rows = {k: _ControlRow(k) for k in CONTROL_KINDS}
        for r, row in enumerate(self.rows.values(), start=1):
            grid.addWidget(row.enabled, r, 0)
            grid.addWidget(row.scale, r, 1)
            grid.addWidget(row.start, r, 2)
            grid.addWidget(row.end, r, 3)
        grid.setColumnStretch(1, 1)
        # What the OpenPose image shows: body, body and hands, or full (hands and face).
        self.openpose_parts = compact_combo(QComboBox(), 8)
        self.openpose_parts.setObjectName("control_openpose_parts")
        self.openpose_parts.setToolTip("OpenPose image: the body, the body and hands, or full "
                                       "(body, hands and face, as controlnet_aux's openpose_full)")
        for name in OPENPOSE_PARTS:
            self.openpose_parts.addItem(name, name)
        grid.addWidget(self.openpose_parts, 1 + list(self.rows).index("openpose"), 4)

        self.strategy = compact_combo(QComboBox(), 10)
        self.strategy.setObjectName("clipStrategy")
        for name, tip in STRATEGY_TIPS.items():
            self.strategy.addItem(name, name)
            self.strategy.setItemData(self.strategy.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.strength = spin(0.05, 1.0, 2, 0.05)
        self.strength.setToolTip("previous-frame: how much of each frame is re-generated")
        clip_row = QHBoxLayout()
        clip_row.addWidget(self.strategy, 1)
        clip_row.addWidget(QLabel("Strength"))
        clip_row.addWidget(self.strength)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", sg)
        form.addRow(grid)
        form.addRow("Clips", clip_row)
        self.identity = IdentityRow(doc)   # the character's reference image (IP-Adapter)
        form.addRow("Identity", self.identity)

        self.seed.valueChanged.connect(lambda v: self._set("Seed", seed=int(v)))
        self.seed_lock.toggled.connect(lambda on: self._set("Lock seed" if on else "Unlock seed", drag=False,
                                                            seed_locked=bool(on)))
        self.dice.clicked.connect(lambda: self._set("Random seed", drag=False, seed=random_seed()))
        self.steps.valueChanged.connect(lambda v: self._set("Steps", steps=int(v)))
        self.guidance.valueChanged.connect(lambda v: self._set("Guidance", guidance=float(v)))
        self.strategy.activated.connect(
            lambda i: self._set("Clip strategy", drag=False, clip_strategy=self.strategy.itemData(i)))
        self.strength.valueChanged.connect(lambda v: self._set("Clip strength", img2img_strength=float(v)))
        self.openpose_parts.activated.connect(
            lambda i: self._set_control(self.rows["openpose"], "openpose", self.openpose_parts.itemData(i)))
        for row in self.rows.values():
            row.enabled.toggled.connect(lambda on, r=row: self._toggle_control(r, on))
            row.scale.valueChanged.connect(lambda v, r=row: self._set_control(r, "scale", v))
            row.start.valueChanged.connect(lambda v, r=row: self._set_control(r, "start", v))
            row.end.valueChanged.connect(lambda v, r=row: self._set_control(r, "end", v))
            bind_drag(row.scale, self._burst, lambda: None)
        doc.sceneReplaced.connect(self.refresh)
        doc.generationChanged.connect(self.refresh)
        self.refresh()

    # ---- from the document ------------------------------------------------------------
    def refresh(self, *args) -> None:
        g = self.doc.scene.generation
        self._updating = True
        try:
            set_quietly(self.seed, min(g.seed, SEED_MAX))
            self.seed_lock.blockSignals(True)
            self.seed_lock.setChecked(g.seed_locked)
            self.seed_lock.blockSignals(False)
            self.seed_lock.setText("Locked" if g.seed_locked else "Random")
            set_quietly(self.steps, g.steps)
            set_quietly(self.guidance, g.guidance)
            self.strategy.setCurrentIndex(max(0, self.strategy.findData(g.clip_strategy)))
            set_quietly(self.strength, max(0.05, g.img2img_strength))
            self.strength.setEnabled(g.clip_strategy == "previous-frame")
            by_kind = {c.kind: c for c in g.controls}
            for kind, row in self.rows.items():
                c = by_kind.get(kind)
                row.enabled.blockSignals(True)
                row.enabled.setChecked(c is not None)
                row.enabled.blockSignals(False)
                if c is not None:
                    set_quietly(row.scale, min(c.scale, 2.0))
                    set_quietly(row.start, c.start)
                    set_quietly(row.end, c.end)
                for w in (row.scale, row.start, row.end):
                    w.setEnabled(c is not None)
            pose = by_kind.get("openpose")
            self.openpose_parts.setCurrentIndex(self.openpose_parts.findData(pose.openpose if pose else "body"))
            self.openpose_parts.setEnabled(pose is not None)
        finally:
            self._updating = False

    def set_model_kinds(self, kinds) -> None:
        """Mark the control kinds the loaded model has no ControlNet for (they are not used)."""
        for kind, row in self.rows.items():
            missing = kinds is not None and kind not in kinds
            row.enabled.setToolTip(f"The loaded model has no {KIND_LABELS[kind]} ControlNet: not used"
                                   if missing else f"Condition on the {KIND_LABELS[kind].lower()} image")
            row.enabled.setText(KIND_LABELS[kind] + (" ⚠" if missing else ""))

    # ---- to the document --------------------------------------------------------------
    def _set(self, text: str, drag: bool = True, **fields) -> None:
        if self._updating:
            return

        def mutate(scene):
            for k, v in fields.items():
                setattr(scene.generation, k, v)
        self.doc.edit_scene(mutate, text, drag=self._burst.token() if drag else None)

    def _toggle_control(self, row: _ControlRow, on: bool) -> None:
        if self._updating:
            return
        start, end = row.start.value(), row.end.value()
        if end <= start:
            start, end = 0.0, 1.0
        new = ControlSetting(kind=row.kind, scale=row.scale.value(), start=start, end=end,
                             openpose=self.openpose_parts.currentData() or "body")

        def mutate(scene):
            kept = [c for c in scene.generation.controls if c.kind != row.kind]
            if on:
                kept.append(new)
            order = {k: i for i, k in enumerate(CONTROL_KINDS)}
            scene.generation.controls = sorted(kept, key=lambda c: order[c.kind])
        self.doc.edit_scene(mutate, f"{'Use' if on else 'Drop'} {KIND_LABELS[row.kind]} control")

    def _set_control(self, row: _ControlRow, field: str, value) -> None:
        if self._updating:
            return
        value = value if isinstance(value, str) else float(value)

        def mutate(scene):
            for c in scene.generation.controls:
                if c.kind == row.kind:
                    setattr(c, field, value)
        drag = None if isinstance(value, str) else self._burst.token()
        self.doc.edit_scene(mutate, f"{KIND_LABELS[row.kind]} control {field}", drag=drag)
