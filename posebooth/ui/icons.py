"""Toolbar icons: small line-art SVGs in resources/icons, drawn in the
palette's text colour so they read on the dark and the light theme."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication


def _svg_text(name: str) -> str | None:
    try:
        return resources.files("posebooth").joinpath(f"resources/icons/{name}.svg").read_text("utf-8")
    except (FileNotFoundError, OSError, ModuleNotFoundError):
        return None


@lru_cache(maxsize=None)
def _icon(name: str, color: str) -> QIcon:
    text = _svg_text(name)
    if text is None:
        return QIcon()
    renderer = QSvgRenderer(QByteArray(text.replace("currentColor", color).encode("utf-8")))
    icon = QIcon()
    for size in (16, 24, 32, 48):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pm)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        icon.addPixmap(pm)
    return icon


def icon(name: str) -> QIcon:
    app = QApplication.instance()
    color = app.palette().color(QPalette.ColorRole.ButtonText).name() if app else "#dddddd"
    return _icon(name, color)
