"""The session's generated images as a strip of thumbnails (newest first).

Clicking one emits `entryActivated(result)` so the panel shows it with its
settings; the tooltip says prompt, seed, steps, guidance, model and time.
At most MAX_ENTRIES results are kept (each holds its full-size image).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

MAX_ENTRIES = 60
THUMB = 60


def to_qimage(image: np.ndarray) -> QImage:
    """HxWx3 uint8 RGB -> a QImage that owns its pixels."""
    arr = np.ascontiguousarray(image, np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def summary(result) -> str:
    """One line: seed, steps, guidance, time."""
    s = result.settings
    secs = result.timings.get("total")
    return (f"seed {result.seed} · {s.get('steps')} steps · guidance {float(s.get('guidance', 0)):g} · "
            f"{s.get('width')}×{s.get('height')}" + (f" · {secs:.1f} s" if secs is not None else ""))


def describe(result) -> str:
    """One result's settings as tooltip text."""
    s = result.settings
    prompt = str(s.get("prompt", ""))
    lines = [prompt if len(prompt) <= 120 else prompt[:117] + "…",
             f"seed {result.seed} · {s.get('steps')} steps · guidance {float(s.get('guidance', 0)):g}",
             f"{s.get('width')}×{s.get('height')} · {s.get('model', '')} ({s.get('scheduler', '')})"]
    controls = ", ".join(f"{c['kind']} {c['scale']:g}" for c in s.get("controls", []))
    if controls:
        lines.append(f"controls: {controls}")
    if "total" in result.timings:
        lines.append(f"{result.timings['total']:.1f} s on {s.get('device', '?')}")
    return "\n".join(lines)


class HistoryStrip(QListWidget):
    entryActivated = Signal(object)   # GenerationResult

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("generationHistory")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setSpacing(2)
        self.setUniformItemSizes(True)
        self.setGridSize(QSize(THUMB + 6, THUMB + 6))
        self.setFixedHeight(THUMB + 22)   # a row of thumbnails and the horizontal scroll bar
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setToolTip("This session's images: click one to see it and its settings")
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)

    def add_result(self, result) -> QListWidgetItem:
        pix = QPixmap.fromImage(to_qimage(result.image)).scaled(
            THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        item = QListWidgetItem(QIcon(pix), "")
        item.setSizeHint(QSize(THUMB + 4, THUMB + 4))
        item.setData(Qt.ItemDataRole.UserRole, result)
        item.setToolTip(describe(result))
        self.insertItem(0, item)
        while self.count() > MAX_ENTRIES:
            self.takeItem(self.count() - 1)
        self.setCurrentItem(item)
        return item

    def results(self) -> list:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        self.entryActivated.emit(item.data(Qt.ItemDataRole.UserRole))
