"""Edit → Preferences: theme, autosave interval, auto-keying."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox

from posebooth.ui.settings import THEMES, Preferences


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._prefs = prefs
        self.theme = QComboBox()
        for key in THEMES:
            self.theme.addItem({"system": "Follow the system", "dark": "Dark", "light": "Light"}[key], key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(prefs.theme)))
        self.autosave = QSpinBox()
        self.autosave.setRange(0, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setSpecialValueText("Off")
        self.autosave.setValue(prefs.autosave_seconds)
        self.auto_key = QCheckBox("Edits insert a key at the current frame")
        self.auto_key.setChecked(prefs.auto_key)
        form = QFormLayout(self)
        form.addRow("Theme", self.theme)
        form.addRow("Autosave every", self.autosave)
        form.addRow("Auto-keying", self.auto_key)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def preferences(self) -> Preferences:
        return replace(self._prefs, theme=self.theme.currentData(), autosave_seconds=self.autosave.value(),
                       auto_key=self.auto_key.isChecked())
