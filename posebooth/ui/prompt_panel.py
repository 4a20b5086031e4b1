"""Prompt panel: prompt and negative prompt of scene.generation.

Typing is pushed to the document after a short pause (one undo step per
pause), and at once before undo, save or losing focus (`flush`), so the
document is never behind what the user sees for long.
"""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget
from superqt.utils import QSignalDebouncer

PAUSE_MS = 600


class _Edit(QPlainTextEdit):
    def __init__(self, on_focus_out, parent=None):
        super().__init__(parent)
        self._on_focus_out = on_focus_out
        self.setTabChangesFocus(True)

    def focusOutEvent(self, event):
        self._on_focus_out()
        super().focusOutEvent(event)


class PromptPanel(QWidget):
    FIELDS = ("prompt", "negative_prompt")

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.prompt = _Edit(self.flush)
        self.prompt.setObjectName("promptEdit")
        self.prompt.setPlaceholderText("Describe the image: who, clothing, place, light…")
        self.negative = _Edit(self.flush)
        self.negative.setObjectName("negativePromptEdit")
        self.negative.setPlaceholderText("What to avoid…")
        self.negative.setMaximumHeight(70)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addWidget(self.prompt, 3)
        lay.addWidget(QLabel("Negative prompt"))
        lay.addWidget(self.negative, 1)

        self._pause = QSignalDebouncer(parent=self)
        self._pause.setTimeout(PAUSE_MS)
        self._pause.triggered.connect(self.flush)
        self.prompt.textChanged.connect(self._pause.throttle)
        self.negative.textChanged.connect(self._pause.throttle)
        doc.sceneReplaced.connect(self.refresh)
        doc.generationChanged.connect(self.refresh)
        self.refresh()

    def _edits(self):
        return zip(self.FIELDS, (self.prompt, self.negative))

    def refresh(self, *args):
        gen = self.doc.scene.generation
        for field, edit in self._edits():
            text = getattr(gen, field)
            if edit.toPlainText() != text:  # leave the cursor alone when nothing changed
                edit.blockSignals(True)
                edit.setPlainText(text)
                edit.blockSignals(False)

    def flush(self):
        """Push pending typing to the document now (one undo step)."""
        self._pause.cancel()
        gen = self.doc.scene.generation
        changes = {f: e.toPlainText() for f, e in self._edits() if e.toPlainText() != getattr(gen, f)}
        if not changes:
            return

        def mutate(scene):
            for field, text in changes.items():
                setattr(scene.generation, field, text[:10_000])
        what = "Prompt" if "prompt" in changes else "Negative prompt"
        self.doc.edit_scene(mutate, f"Edit {what.lower()}")
