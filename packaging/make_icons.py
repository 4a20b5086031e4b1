"""Render the app icon's PNG sizes from its SVG (run once after editing the SVG):

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py
"""
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICONS = Path(__file__).resolve().parent.parent / "posebooth" / "resources" / "app"


def main() -> None:
    app = QGuiApplication([])  # noqa: F841 (QPainter needs the application)
    svg = QSvgRenderer(str(ICONS / "posebooth.svg"))
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        with_painter = QPainter(image)
        with_painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        svg.render(with_painter)
        with_painter.end()
        image.save(str(ICONS / f"posebooth-{size}.png"))
        print(f"posebooth-{size}.png")


if __name__ == "__main__":
    main()
