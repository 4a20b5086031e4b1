"""The generated image (or the latest step preview) scaled to fit, with the
step progress under it. Step previews are small (the latent size); they are
drawn at the final image's size so the picture does not jump when the full
image lands."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from posebooth.ui.generation.history import to_qimage


class ImageView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("generationImage")
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self._aspect = 1.0
        self._text = "No image yet: load a model and press Generate (Ctrl+Return)"

    def sizeHint(self) -> QSize:
        return QSize(256, 256)

    def set_image(self, image: np.ndarray | None, aspect: float | None = None) -> None:
        self._image = None if image is None else to_qimage(image)
        if aspect:
            self._aspect = aspect
        elif image is not None:
            self._aspect = image.shape[1] / image.shape[0]
        self.update()

    def set_text(self, text: str) -> None:
        self._text = text
        self.update()

    def has_image(self) -> bool:
        return self._image is not None

    def image(self) -> QImage | None:
        return self._image

    def _target(self) -> QRectF:
        w, h = self.width(), self.height()
        if w / max(h, 1) > self._aspect:
            tw, th = h * self._aspect, h
        else:
            tw, th = w, w / self._aspect
        return QRectF((w - tw) / 2, (h - th) / 2, tw, th)

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if self._image is None:
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect().adjusted(12, 12, -12, -12), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       self._text)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(self._target(), self._image)


class PreviewPane(QWidget):
    """ImageView + a step progress bar and the fidelity overlay toggle."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = ImageView()
        self.steps = QProgressBar()
        self.steps.setObjectName("generationSteps")
        self.steps.setTextVisible(True)
        self.steps.setFormat("")
        self.steps.setMaximumHeight(14)
        self.overlay = QCheckBox("Keypoints")
        self.overlay.setObjectName("fidelityOverlay")
        self.overlay.setToolTip("Draw the pose model's keypoints (white crosses) next to the true ones (dots), "
                                "joined green within the PCK limit, red beyond (a scored result)")
        self.overlay.setEnabled(False)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.steps, 1)
        row.addWidget(self.overlay)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.view, 1)
        lay.addLayout(row)
        self.reset_steps()

    def reset_steps(self, text: str = "") -> None:
        self.steps.setRange(0, 1)
        self.steps.setValue(0)
        self.steps.setFormat(text)

    def busy(self, text: str) -> None:
        self.steps.setRange(0, 0)   # indeterminate: rendering the conditioning, queued, loading
        self.steps.setFormat(text)

    def set_step(self, step: int, total: int) -> None:
        self.steps.setRange(0, max(1, total))
        self.steps.setValue(step)
        self.steps.setFormat(f"step {step} / {total}")

    def done(self, text: str) -> None:
        self.steps.setRange(0, 1)
        self.steps.setValue(1)
        self.steps.setFormat(text)
