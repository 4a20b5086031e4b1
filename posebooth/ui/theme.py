"""Colour theme: Fusion with a dark palette when the platform is dark (or the
user chose dark), the platform's own light palette otherwise.

A platform that does not say (plain X11, Xvfb) gets dark: PoseBooth is a 3D
tool and dark is what artists expect from one (Blender, Maya, Cascadeur).
"""
from __future__ import annotations

from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

_state = {"preference": "system", "connected": False}


def platform_is_dark() -> bool | None:
    """True / False when the platform says (Qt 6.5+), None when unknown."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is None:
        return None
    value = scheme()
    if value == Qt.ColorScheme.Dark:
        return True
    if value == Qt.ColorScheme.Light:
        return False
    return None


def wants_dark(preference: str) -> bool:
    if preference == "dark":
        return True
    if preference == "light":
        return False
    dark = platform_is_dark()
    return True if dark is None else dark


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, alt, text = QColor(48, 48, 50), QColor(34, 34, 36), QColor(42, 42, 45), QColor(222, 222, 222)
    accent = QColor(232, 125, 13)  # Blender-like orange for the active element
    roles = {
        QPalette.ColorRole.Window: window, QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base, QPalette.ColorRole.AlternateBase: alt,
        QPalette.ColorRole.ToolTipBase: QColor(30, 30, 30), QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(130, 130, 130),
        QPalette.ColorRole.Text: text, QPalette.ColorRole.Button: QColor(60, 60, 63),
        QPalette.ColorRole.ButtonText: text, QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Light: QColor(80, 80, 84), QPalette.ColorRole.Midlight: QColor(66, 66, 70),
        QPalette.ColorRole.Mid: QColor(40, 40, 42), QPalette.ColorRole.Dark: QColor(26, 26, 28),
        QPalette.ColorRole.Shadow: QColor(10, 10, 10),
        QPalette.ColorRole.Highlight: QColor(71, 114, 179), QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(110, 160, 240), QPalette.ColorRole.LinkVisited: QColor(170, 130, 230),
        QPalette.ColorRole.Accent: accent,
    }
    for role, color in roles.items():
        p.setColor(role, color)
    disabled = QColor(120, 120, 120)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor(70, 70, 74))
    return p


def style_sheet() -> str:
    try:
        return resources.files("posebooth").joinpath("resources/style/posebooth.qss").read_text("utf-8")
    except (FileNotFoundError, OSError, ModuleNotFoundError):
        return ""


def apply_theme(app: QApplication, preference: str = "system") -> bool:
    """Apply the theme; returns True when dark. Follows later platform changes
    while the preference is 'system'."""
    _state["preference"] = preference
    app.setStyle(QStyleFactory.create("Fusion"))
    dark = wants_dark(preference)
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    app.setProperty("posebooth_dark", dark)
    app.setStyleSheet(style_sheet())
    hints = QGuiApplication.styleHints()
    if not _state["connected"] and hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda *_: _state["preference"] == "system"
                                         and apply_theme(app, "system"))
        _state["connected"] = True
    return dark


def is_dark() -> bool:
    app = QApplication.instance()
    return bool(app and app.property("posebooth_dark"))
