"""The Generation dock: a placeholder until the generation panel lands.

The generation engineer replaces the content with `set_panel(widget)`; the
dock itself (object name "generationDock", left column under the prompt)
stays, so saved layouts keep working.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QVBoxLayout, QWidget

from posebooth.ui.widgets import hint_label

OBJECT_NAME = "generationDock"


class GenerationDock(QDockWidget):
    def __init__(self, doc, parent=None):
        super().__init__("Generation", parent)
        self.setObjectName(OBJECT_NAME)
        self.doc = doc
        placeholder = QWidget()
        placeholder.setObjectName("generationPlaceholder")
        lay = QVBoxLayout(placeholder)
        title = QLabel("Image generation")
        title.setObjectName("panelTitle")
        lay.addWidget(title)
        lay.addWidget(hint_label("Generated images and previews will appear here. The prompt above and "
                                 "the camera's view of the bodies (depth, pose) drive the diffusion model."))
        lay.addStretch(1)
        lay.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setWidget(placeholder)

    def set_panel(self, widget: QWidget) -> None:
        self.setWidget(widget)
