"""Scene outliner: people and their 24 joints in SMPL's hierarchy, then the
props (key ("prop", index)).

Selection is synced both ways with the document; the context menu adds,
duplicates, deletes and renames people (double-click renames too).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QMenu, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from posebooth.assets.joint_labels import joint_label  # noqa: F401 - the UI's joint names, re-exported
from posebooth.assets.smpl_skeleton import JOINT_NAMES, PARENTS
from posebooth.edits import prop_ops

ROLE = Qt.ItemDataRole.UserRole  # (person, joint | None), or ("prop", index)


def _swatch(rgb) -> QIcon:
    pm = QPixmap(12, 12)
    pm.fill(QColor.fromRgbF(*rgb))
    return QIcon(pm)


class _Tree(QTreeWidget):
    def event(self, e):
        # Keep plain arrow keys for tree navigation instead of the window's
        # frame-step / key-jump shortcuts.
        if e.type() == QEvent.Type.ShortcutOverride and e.modifiers() == Qt.KeyboardModifier.NoModifier \
                and e.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down):
            e.accept()
            return True
        return super().event(e)


class OutlinerPanel(QWidget):
    def __init__(self, doc, actions: dict | None = None, parent=None):
        super().__init__(parent)
        self.doc, self.action_map = doc, actions or {}
        self.tree = _Tree(self)
        self.tree.setObjectName("outlinerTree")
        self.tree.setHeaderHidden(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.DoubleClicked)
        self.tree.setUniformRowHeights(True)
        self.tree.setIndentation(12)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tree)
        self._items: dict[tuple, QTreeWidgetItem] = {}
        # Expansion the user chose; by default people and their pelvis are open
        # (hips and spine visible) and a selection opens the path to its joint.
        self._collapsed: set[tuple] = set()
        self._opened: set[tuple] = set()
        self._syncing = False

        self.tree.itemSelectionChanged.connect(self._on_tree_selection)
        self.tree.itemChanged.connect(self._on_item_renamed)
        self.tree.itemCollapsed.connect(lambda it: self._set_open(it.data(0, ROLE), False))
        self.tree.itemExpanded.connect(lambda it: self._set_open(it.data(0, ROLE), True))
        self.tree.customContextMenuRequested.connect(self._context_menu)
        doc.sceneReplaced.connect(self.rebuild)
        doc.peopleChanged.connect(self.rebuild)
        doc.personChanged.connect(self._refresh_person)
        doc.selectionChanged.connect(self._sync_from_doc)
        self.rebuild()

    # ---- model -> view --------------------------------------------------------
    def rebuild(self):
        self._syncing = True
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items.clear()
        for i, person in enumerate(self.doc.scene.people):
            top = QTreeWidgetItem([person.name])
            top.setData(0, ROLE, (i, None))
            top.setIcon(0, _swatch(person.color))
            top.setFlags(top.flags() | Qt.ItemFlag.ItemIsEditable)
            top.setToolTip(0, f"{person.name} · body: {person.body.model}")
            self.tree.addTopLevelItem(top)
            self._items[(i, None)] = top
            for j, name in enumerate(JOINT_NAMES):
                parent = top if PARENTS[j] < 0 else self._items[(i, PARENTS[j])]
                item = QTreeWidgetItem(parent, [joint_label(name)])
                item.setData(0, ROLE, (i, j))
                item.setToolTip(0, name)
                self._items[(i, j)] = item
        for i, prop in enumerate(self.doc.scene.props):
            item = QTreeWidgetItem([prop.name])
            item.setData(0, ROLE, ("prop", i))
            item.setIcon(0, _swatch(prop.color))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            depth = "in the depth control" if prop.in_depth else "left out of the depth control"
            item.setToolTip(0, f"{prop.name} · prop: {prop.kind} · {depth}")
            self.tree.addTopLevelItem(item)
            self._items[("prop", i)] = item
        for key, item in self._items.items():
            default = key[1] is None or key[1] == 0
            item.setExpanded(key in self._opened or (default and key not in self._collapsed))
        self.tree.blockSignals(False)
        self._syncing = False
        self._sync_from_doc()

    def _set_open(self, key, is_open: bool):
        (self._opened if is_open else self._collapsed).add(key)
        (self._collapsed if is_open else self._opened).discard(key)

    def _refresh_person(self, index: int):
        item = self._items.get((index, None))
        if item is None or index >= len(self.doc.scene.people):
            return self.rebuild()
        person = self.doc.scene.people[index]
        if item.text(0) != person.name:
            self.tree.blockSignals(True)
            item.setText(0, person.name)
            item.setIcon(0, _swatch(person.color))
            self.tree.blockSignals(False)

    def _sync_from_doc(self):
        if self.doc.selected_prop is not None:
            item = self._items.get(("prop", self.doc.selected_prop))
        else:
            item = self._items.get((self.doc.selected_person, self.doc.selected_joint))
        self._syncing = True
        self.tree.blockSignals(True)
        self.tree.clearSelection()
        if item is not None:
            item.setSelected(True)
            self.tree.setCurrentItem(item)
            self.tree.scrollToItem(item)
        self.tree.blockSignals(False)
        self._syncing = False

    # ---- view -> model --------------------------------------------------------
    def _on_tree_selection(self):
        if self._syncing:
            return
        items = self.tree.selectedItems()
        if items:
            person, joint = items[0].data(0, ROLE)
            if person == "prop":
                self.doc.select_prop(joint)
            else:
                self.doc.select(person, joint)

    def _on_item_renamed(self, item: QTreeWidgetItem, column: int):
        person, joint = item.data(0, ROLE)
        if person == "prop":
            name = item.text(0).strip()[:200]
            if joint < len(self.doc.scene.props) and name and name != self.doc.scene.props[joint].name:
                prop_ops.edit_prop(self.doc, joint, f"Rename to {name}", name=name)
            return
        if joint is not None or person >= len(self.doc.scene.people):
            return
        name = item.text(0).strip()[:200]
        if name and name != self.doc.scene.people[person].name:
            self.doc.edit_person(person, lambda p: setattr(p, "name", name), f"Rename to {name}")
        else:
            self._refresh_person(person)

    def rename_selected(self):
        key = ("prop", self.doc.selected_prop) if self.doc.selected_prop is not None else (self.doc.selected_person,
                                                                                             None)
        item = self._items.get(key)
        if item is not None:
            self.tree.editItem(item, 0)

    def _context_menu(self, pos):
        item = self.tree.itemAt(pos)
        if item is not None and item.data(0, ROLE)[0] == "prop":
            return self._prop_menu(item.data(0, ROLE)[1], pos)
        if item is not None:
            self.doc.select(*item.data(0, ROLE))
        menu = QMenu(self)
        for name in ("add_person", "duplicate_person", "delete_person"):
            if name in self.action_map:
                menu.addAction(self.action_map[name])
        rename = menu.addAction("Rename…", self.rename_selected)
        rename.setEnabled(self.doc.selected_person is not None)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _prop_menu(self, index: int, pos):
        self.doc.select_prop(index)
        prop = self.doc.scene.props[index]
        menu = QMenu(self)
        depth = menu.addAction("In the Depth Control")
        depth.setCheckable(True)
        depth.setChecked(prop.in_depth)
        depth.setToolTip("Shown in the depth control image; it hides people in the passes either way")
        depth.toggled.connect(lambda on: prop_ops.set_in_depth(self.doc, index, on))
        menu.addAction("Rename…", self.rename_selected)
        menu.addAction("Delete Prop", lambda: prop_ops.delete_prop(self.doc, index))
        menu.exec(self.tree.viewport().mapToGlobal(pos))
