"""Help → Keyboard Shortcuts, generated from the window's menus and their
QActions at the moment it opens, so the list cannot drift from the keys;
then the keys and mouse gestures of the viewport and the timeline strip
(ui/gestures.py), which are not menu actions."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QMenu, QTreeWidget, QTreeWidgetItem, QVBoxLayout


def shortcut_rows(menu_bar) -> list[tuple[str, str, str]]:
    """(menu, action text, shortcuts) for every action with a shortcut."""
    rows, seen = [], set()

    def walk(menu: QMenu, path: str):
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} › {action.menu().title().replace('&', '')}")
                continue
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
            if keys and id(action) not in seen:
                seen.add(id(action))
                rows.append((path, action.text().replace("&", "").rstrip("…. "), "  or  ".join(keys)))

    for top in menu_bar.actions():
        if top.menu() is not None:
            walk(top.menu(), top.menu().title().replace("&", ""))
    return rows


def all_rows(menu_bar) -> list[tuple[str, str, str]]:
    """The menus' shortcuts, then the viewport's and the timeline's own keys and mouse gestures."""
    from posebooth.ui.gestures import GESTURES
    return [*shortcut_rows(menu_bar), *GESTURES]


class ShortcutsDialog(QDialog):
    def __init__(self, menu_bar, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts and Mouse")
        self.resize(620, 680)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Action", "Shortcut"])
        self.tree.setRootIsDecorated(False)
        groups: dict[str, QTreeWidgetItem] = {}
        for menu, text, keys in all_rows(menu_bar):
            if menu not in groups:
                groups[menu] = QTreeWidgetItem(self.tree, [menu, ""])
                font = groups[menu].font(0)
                font.setBold(True)
                groups[menu].setFont(0, font)
                groups[menu].setFirstColumnSpanned(True)
            QTreeWidgetItem(groups[menu], [text, keys])
        self.tree.setRootIsDecorated(True)
        self.tree.expandAll()
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tree)
        lay.addWidget(buttons)
