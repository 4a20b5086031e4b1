"""The panel's fidelity settings: score results on or off, and the pose and
depth models (a Hugging Face id or a local folder, as for the diffusion
model). They are the user's, not the scene's: kept in the app's settings
file (ui.settings), read when the panel opens and written on each change."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QGridLayout, QLabel, QLineEdit, QToolButton, QWidget

from posebooth.pipeline.estimators import DEFAULT_DEPTH_MODEL, DEFAULT_POSE_MODEL

KEYS = {"enabled": "fidelity/score_results", "pose": "fidelity/pose_model", "depth": "fidelity/depth_model"}


def settings_store():
    """The app's QSettings (module attribute: tests point it at their own file)."""
    from posebooth.ui.settings import app_settings

    return app_settings()


def ask_estimator_folder(parent, what: str) -> str | None:
    """A model folder (module attribute: tests replace it)."""
    return QFileDialog.getExistingDirectory(parent, f"{what} folder") or None


class FidelityControls(QWidget):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.enabled = QCheckBox("Score results (fidelity)")
        self.enabled.setObjectName("scoreResults")
        self.enabled.setToolTip("Run a pose model and a depth model on each result, on the generation worker, "
                                "and show how well the image keeps the annotated pose (FORMAT.md, "
                                "\"Fidelity scores\")")
        self.pose = QLineEdit()
        self.pose.setObjectName("poseModel")
        self.depth = QLineEdit()
        self.depth.setObjectName("depthModel")
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.enabled, 0, 0, 1, 3)
        for row, (label, edit, default, what) in enumerate(
                (("Pose", self.pose, DEFAULT_POSE_MODEL, "Pose model (ViTPose)"),
                 ("Depth", self.depth, DEFAULT_DEPTH_MODEL, "Depth model (Depth Anything)")), start=1):
            edit.setPlaceholderText(f"{default} (empty: no {label.lower()} score)")
            edit.setToolTip(f"{what}: a Hugging Face id or a local folder (config.json, model.safetensors, "
                            f"preprocessor_config.json); empty: that score is not computed")
            browse = QToolButton()
            browse.setText("…")
            browse.setToolTip(f"Choose a {what} folder")
            browse.clicked.connect(lambda _=False, e=edit, w=what: self._browse(e, w))
            lay.addWidget(QLabel(label), row, 0)
            lay.addWidget(edit, row, 1)
            lay.addWidget(browse, row, 2)
        self._load()
        self.enabled.toggled.connect(self._store)
        self.pose.editingFinished.connect(self._store)
        self.depth.editingFinished.connect(self._store)

    def values(self) -> tuple[bool, str, str]:
        return self.enabled.isChecked(), self.pose.text().strip(), self.depth.text().strip()

    def set_values(self, enabled: bool, pose: str, depth: str) -> None:
        self.pose.setText(pose)
        self.depth.setText(depth)
        self.enabled.setChecked(enabled)
        self._store()

    def _load(self) -> None:
        s = settings_store()
        enabled = str(s.value(KEYS["enabled"], "false")).lower() == "true"
        self.pose.setText(str(s.value(KEYS["pose"], DEFAULT_POSE_MODEL) or ""))
        self.depth.setText(str(s.value(KEYS["depth"], DEFAULT_DEPTH_MODEL) or ""))
        self.enabled.setChecked(enabled)

    def _store(self, *args) -> None:
        s = settings_store()
        enabled, pose, depth = self.values()
        s.setValue(KEYS["enabled"], "true" if enabled else "false")
        s.setValue(KEYS["pose"], pose)
        s.setValue(KEYS["depth"], depth)
        s.sync()
        self.changed.emit()

    def _browse(self, edit: QLineEdit, what: str) -> None:
        path = ask_estimator_folder(self, what)
        if path:
            edit.setText(path)
            self._store()
