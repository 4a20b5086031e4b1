"""The session's generated images as a strip of thumbnails (newest first).

Clicking one emits `entryActivated(result)` so the panel shows it with its
settings; the tooltip says prompt, seed, steps, guidance, model and time.
At most MAX_ENTRIES results are kept (each holds its full-size image).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

MAX_ENTRIES = 60
SCORE_ROLE = Qt.ItemDataRole.UserRole + 1   # the entry's ui.generation.scoring.ScoredResult
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


def _labelled(pix: QPixmap, fidelity: float) -> QPixmap:
    """The thumbnail with its fidelity in a corner ("–": nobody could be scored)."""
    out = QPixmap(pix)
    p = QPainter(out)
    text = f"{fidelity:.2f}" if fidelity >= 0 else "–"
    box = QRect(0, out.height() - 14, 30, 14)
    p.fillRect(box, QColor(0, 0, 0, 170))
    p.setPen(QColor(255, 255, 255))
    f = QFont(p.font())
    f.setPixelSize(10)
    p.setFont(f)
    p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    return out


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

    def set_score(self, request_id: str, scored) -> bool:
        """Keep a result's fidelity score with its entry (tooltip and label); False if not listed."""
        for i in range(self.count()):
            item = self.item(i)
            if item.data(Qt.ItemDataRole.UserRole).request_id == request_id:
                item.setData(SCORE_ROLE, scored)
                item.setIcon(QIcon(_labelled(item.icon().pixmap(THUMB, THUMB), scored.scores.frame_fidelity())))
                item.setToolTip(describe(item.data(Qt.ItemDataRole.UserRole)) + "\n" + scored.text())
                return True
        return False

    def score_of(self, request_id: str):
        for i in range(self.count()):
            item = self.item(i)
            if item.data(Qt.ItemDataRole.UserRole).request_id == request_id:
                return item.data(SCORE_ROLE)
        return None

    def results(self) -> list:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        self.entryActivated.emit(item.data(Qt.ItemDataRole.UserRole))
