"""Every blocking dialog the window opens, behind one small function each.

Callers use `dialogs.ask_save_changes(...)` (module attribute, not a
from-import) so tests monkeypatch these functions and never block on a
modal box.
"""
from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

SCENE_FILTER = "PoseBooth scenes (*.json);;All files (*)"
MOTION_FILTER = "AMASS motion (*.npz);;All files (*)"


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Critical, title, text.splitlines()[0] if text else title,
                      QMessageBox.StandardButton.Ok, parent)
    if text and "\n" in text:  # long validation reports go in the details pane
        box.setInformativeText("\n".join(text.splitlines()[1:9]))
    box.exec()


def show_info(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.information(parent, title, text)


def ask_save_changes(parent: QWidget | None, name: str) -> str:
    """'save', 'discard' or 'cancel'."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                      f"Save the changes to “{name}” before closing it?", parent=parent)
    box.setInformativeText("Your changes are lost if you don't save them.")
    box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                           | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    return {QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")


def ask_recover(parent: QWidget | None, text: str) -> bool:
    answer = QMessageBox.question(parent, "Recover unsaved work", text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


def get_open_path(parent: QWidget | None, title: str, directory: str, filter: str) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, directory, filter)
    return path or None


def get_save_path(parent: QWidget | None, title: str, directory: str, filter: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, directory, filter)
    return path or None


def ask_motion_mode(parent: QWidget | None, name: str, person: str) -> str | None:
    """How to import motion `name`: 'replace', 'insert', 'new' or None (cancelled)."""
    box = QMessageBox(QMessageBox.Icon.Question, "Import motion", f"Import “{name}”:", parent=parent)
    box.setInformativeText(f"Replace {person}'s animation, insert the motion into it at the current frame, "
                           "or give it to a new person? The motion starts where the person stands.")
    buttons = {box.addButton(f"Replace {person}'s keys", QMessageBox.ButtonRole.AcceptRole): "replace",
               box.addButton("Insert at playhead", QMessageBox.ButtonRole.AcceptRole): "insert",
               box.addButton("New person", QMessageBox.ButtonRole.AcceptRole): "new"}
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return buttons.get(box.clickedButton())
