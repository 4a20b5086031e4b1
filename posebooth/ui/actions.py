"""Every QAction of the main window, its menu and shortcut, in one table.

Help → Keyboard Shortcuts reads the menus built here, so this table is the
single place a shortcut is defined. Keys follow Blender's pose mode where it
has one (I, Alt+I, Alt+R, Shift+A, X, F, 1/3/7/0, Space, arrows).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from posebooth.edits import key_ops, pose_ops

from posebooth.ui import map_export
from posebooth.ui import openpose_reference
from posebooth.ui.viewport import host as viewport_host
from posebooth.ui.icons import icon

Std = QKeySequence.StandardKey


@dataclass
class Spec:
    name: str
    text: str
    keys: tuple = ()
    slot: Callable | None = None      # called with the window (and `checked` for checkable actions)
    icon: str | None = None
    tip: str = ""
    checkable: bool = False
    checked: bool = False
    viewport: str | None = None       # viewport capability this action needs
    needs: str | None = None          # a key of NEEDS: greyed out while the document lacks it


def _specs(w) -> dict[str, list[Spec]]:
    tl = lambda: w.timeline  # noqa: E731 - panels are looked up when triggered
    return {
        "&File": [
            Spec("new", "&New", (Std.New,), lambda: w.files.new(), "new", "Start a new scene"),
            Spec("open", "&Open…", (Std.Open,), lambda: w.files.open(), "open", "Open a scene file"),
            Spec("recent", "Open &Recent"),  # submenu placeholder
            None,
            Spec("save", "&Save", (Std.Save,), lambda: w.files.save(), "save", "Save the scene"),
            Spec("save_as", "Save &As…", ("Ctrl+Shift+S",), lambda: w.files.save_as(), None,
                 "Save the scene under a new name"),
            None,
            Spec("import_motion", "&Import Motion…", ("Ctrl+Shift+I",), lambda: w.files.import_motion(), None,
                 "Import an AMASS .npz motion into the selected person", needs="people"),
            None,
            Spec("export_maps", "Export &Maps…", ("Ctrl+Shift+E",), lambda: map_export.export_maps(w), None,
                 "Write depth, OpenPose, normals, parts, mask and control images of this frame or a range "
                 "(no model needed)"),
            Spec("copy_map", "&Copy Map"),  # submenu placeholder
            Spec("import_openpose", "Import &OpenPose JSON…", (), lambda: openpose_reference.import_reference(w),
                 None, "Show an OpenPose JSON's skeletons over the camera view, to pose by"),
            Spec("clear_openpose", "Clear OpenPose Reference", (), lambda: openpose_reference.clear_reference(w)),
            None,
            Spec("quit", "&Quit", (Std.Quit,), lambda: w.close()),
        ],
        "&Edit": [
            Spec("undo", "&Undo", ("Ctrl+Z",), w.undo, "undo"),
            Spec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), w.redo, "redo"),
            Spec("undo_history", "Undo &History…", ("Ctrl+Alt+Z",), w.show_undo_history),
            None,
            Spec("preferences", "&Preferences…", ("Ctrl+,",), w.show_preferences),
        ],
        "&View": [
            Spec("view_front", "&Front", ("1",), lambda: w.viewport_call("set_view", "front"), None,
                 "Look at the scene from the front", viewport="set_view"),
            Spec("view_back", "&Back", ("Ctrl+1",), lambda: w.viewport_call("set_view", "back"), None,
                 "Look at the scene from behind", viewport="set_view"),
            Spec("view_right", "&Right Side", ("3",), lambda: w.viewport_call("set_view", "right"), None,
                 "Look at the scene from the right", viewport="set_view"),
            Spec("view_left", "&Left Side", ("Ctrl+3",), lambda: w.viewport_call("set_view", "left"), None,
                 "Look at the scene from the left", viewport="set_view"),
            Spec("view_top", "&Top", ("7",), lambda: w.viewport_call("set_view", "top"), None,
                 "Look down at the scene", viewport="set_view"),
            Spec("view_bottom", "B&ottom", ("Ctrl+7",), lambda: w.viewport_call("set_view", "bottom"), None,
                 "Look up at the scene", viewport="set_view"),
            Spec("view_camera", "Through &Camera", ("0",), lambda on: w.viewport_flag("look_through", on),
                 "camera", "Look through the render camera", checkable=True, viewport="look_through"),
            None,
            Spec("frame_selected", "Frame Se&lected", ("F",), lambda: w.viewport_call("frame_selected"), "frame",
                 "Zoom the view onto the selection", viewport="frame_selected"),
            Spec("frame_all", "Frame &All", ("Home",), lambda: w.viewport_call("frame_all"), None,
                 "Zoom the view onto every person", viewport="frame_all"),
            None,
            Spec("overlays", "&Overlay"),  # submenu placeholder
            Spec("gizmo_space", "&Global Gizmo Axes", (",",), lambda on: w.set_space("global" if on else "local"),
                 "globe", "Rotate in world axes instead of the bone's own (local) axes", checkable=True),
            None,
            Spec("panels", "&Panels"),  # submenu placeholder
            Spec("reset_layout", "&Reset Layout", (), w.reset_layout),
        ],
        "&Pose": [
            Spec("mirror_pose", "&Mirror Pose", ("Ctrl+M",), lambda: pose_ops.mirror(w.doc), "mirror",
                 "Flip the selected person's pose left ↔ right", needs="person"),
            Spec("copy_lr", "Copy &Left → Right", (), lambda: pose_ops.copy_side(w.doc, "left"), needs="person"),
            Spec("copy_rl", "Copy Right → L&eft", (), lambda: pose_ops.copy_side(w.doc, "right"), needs="person"),
            None,
            Spec("reset_joint", "Reset &Joint", ("Alt+R",), lambda: pose_ops.reset_joint(w.doc), "reset",
                 "Clear the selected joint's rotation", needs="joint"),
            Spec("reset_limb", "Reset Lim&b", ("Shift+Alt+R",), lambda: pose_ops.reset_limb(w.doc), needs="joint"),
            Spec("reset_pose", "Reset &Pose", ("Ctrl+Alt+R",), lambda: pose_ops.reset_pose(w.doc), needs="person"),
            None,
            Spec("ik", "Auto &IK", ("Shift+I",), lambda on: w.viewport_flag("ik_enabled", on), "ik",
                 "Drag a hand or foot and let the limb follow (inverse kinematics)", checkable=True,
                 viewport="ik_enabled"),
            Spec("joint_limits", "Joint &Limits", ("Shift+L",), lambda on: setattr(w.doc, "joint_limits", bool(on)),
                 None, "Keep joints inside their anatomical ranges (off: free posing)", checkable=True,
                 checked=True),
            None,
            Spec("hands_panel", "Pose &Hands…", ("Ctrl+H",), lambda: _raise_dock(w, "hand_dock"), None,
                 "Finger curl, spread and hand presets of the selected person", needs="person"),
            Spec("face_panel", "&Face Expression…", ("Ctrl+E",), lambda: _raise_dock(w, "face_dock"), None,
                 "Facial expression sliders and presets of the selected person", needs="person"),
            None,
            Spec("add_person", "&Add Person", ("Shift+A",), lambda: w.doc.add_person(), "person_add",
                 "Add a person in the rest pose"),
            Spec("duplicate_person", "D&uplicate Person", ("Shift+D",), w.duplicate_person, needs="person"),
            Spec("delete_person", "&Delete Person", ("X", "Delete"), w.delete_person, needs="person"),
            Spec("rename_person", "Re&name Person…", ("F2",), lambda: w.outliner.rename_selected(), needs="person"),
        ],
        "&Camera": [
            Spec("camera_from_view", "Set Camera from &View", ("Ctrl+Alt+0",),
                 lambda: w.viewport_call("set_render_camera_from_view"), None,
                 "Make the render camera match the viewport", viewport="set_render_camera_from_view"),
            Spec("key_camera", "&Key Camera", ("K",), w.key_camera, "key",
                 "Insert a camera key at the current frame"),
            "view_camera",
        ],
        "&Timeline": [
            Spec("play", "&Play / Pause", ("Space",), lambda: tl().playback.toggle(), "play", "Play the animation"),
            Spec("loop", "&Loop Playback", (), lambda on: tl().loop_box.setChecked(on), checkable=True, checked=True),
            None,
            Spec("next_frame", "&Next Frame", ("Right",), lambda: tl().step(1), "next_frame"),
            Spec("prev_frame", "P&revious Frame", ("Left",), lambda: tl().step(-1), "prev_frame"),
            Spec("jump_start", "Jump to &Start", ("Shift+Left",), lambda: tl().jump_end(False), "jump_start"),
            Spec("jump_end", "Jump to &End", ("Shift+Right",), lambda: tl().jump_end(True), "jump_end"),
            Spec("next_key", "Next &Key", ("Up",), lambda: tl().jump_key(1), "next_key", "Jump to the next key",
                 needs="next_key"),
            Spec("prev_key", "Previous K&ey", ("Down",), lambda: tl().jump_key(-1), "prev_key",
                 "Jump to the previous key", needs="prev_key"),
            None,
            Spec("insert_key", "&Insert Key", ("I",), lambda: tl().insert_key(), "key",
                 "Key the selected person (or the camera) at this frame"),
            Spec("delete_key", "&Delete Key", ("Alt+I",), lambda: tl().delete_key(), "key_delete",
                 "Delete the selected person's key at this frame", needs="key_here"),
            Spec("auto_key", "&Auto Keying", (), w.set_auto_key, "record",
                 "Edits insert a key at the current frame", checkable=True, checked=True),
            None,
            Spec("copy_keys", "&Copy Pose / Keys", ("Ctrl+C",), lambda: tl().copy(), None,
                 "Copy the keys selected on the timeline, or else the selected person's pose"),
            Spec("paste_keys", "&Paste Pose / Keys", ("Ctrl+V",), lambda: tl().paste(), None,
                 "Paste at the current frame onto the selected person"),
            Spec("delete_keys", "Delete Selected &Keys", (), lambda: tl().delete_selected_keys(), None,
                 "Delete the keys selected on the timeline (Delete with the timeline focused)"),
        ],
        "&Help": [
            Spec("shortcuts", "&Keyboard Shortcuts…", ("Ctrl+F1",), w.show_shortcuts),
            Spec("about", "&About PoseBooth", (), w.show_about),
        ],
    }


def _raise_dock(w, name: str) -> None:
    dock = getattr(w, name, None)
    if dock is not None:
        dock.show()
        dock.raise_()


def _make(w, spec: Spec) -> QAction:
    act = QAction(spec.text, w)
    act.setObjectName(f"action_{spec.name}")
    if spec.keys:
        act.setShortcuts([QKeySequence(k) for k in spec.keys])
    tip = spec.tip or spec.text.replace("&", "").rstrip("…")
    keys = ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in spec.keys)
    act.setToolTip(f"{tip} ({keys})" if keys else tip)
    act.setStatusTip(tip)
    if spec.icon:
        act.setIcon(icon(spec.icon))
        act.setProperty("icon_name", spec.icon)  # re-drawn in the text colour when the theme changes
    if spec.checkable:
        act.setCheckable(True)
        act.setChecked(spec.checked)
    if spec.slot is not None:
        slot = spec.slot
        if spec.checkable:
            act.toggled.connect(slot)
        else:
            act.triggered.connect(lambda checked=False, s=slot: s())
    if spec.needs:
        act.setProperty("needs", spec.needs)
    if spec.viewport and not w.viewport_supports(spec.viewport):
        act.setEnabled(False)
        act.setStatusTip(f"{tip} — needs the 3D viewport")
    return act


# What an action needs of the document to do anything (Spec.needs), checked on
# every selection, scene, key and frame change (update_enabled).
NEEDS: dict[str, Callable] = {
    "people": lambda d: bool(d.scene.people),
    "person": lambda d: d.person_to_edit() is not None,
    "joint": lambda d: d.person_to_edit() is not None and d.selected_joint is not None,
    # Delete Key deletes the selected person's key here, or the camera's with nobody selected.
    "key_here": lambda d: d.frame in key_ops.key_frames(d, d.person_to_edit()),
    "next_key": lambda d: key_ops.neighbour_key(d, 1) is not None,
    "prev_key": lambda d: key_ops.neighbour_key(d, -1) is not None,
}


def update_enabled(w) -> None:
    """Grey out the actions whose Spec.needs the document does not meet now."""
    for act in w.action_map.values():
        need = act.property("needs")
        if need:
            act.setEnabled(bool(NEEDS[need](w.doc)))


def connect_enabled(w) -> None:
    d = w.doc
    for sig in (d.selectionChanged, d.sceneReplaced, d.peopleChanged, d.personChanged, d.cameraChanged,
                d.frameChanged, d.timelineChanged):
        sig.connect(lambda *_: update_enabled(w))
    update_enabled(w)


OVERLAYS = ((None, "&Shaded"), ("depth", "&Depth"), ("normal", "&Normals"), ("parts", "Body &Parts"),
            ("openpose", "&OpenPose Skeleton"))


def build(w) -> dict[str, QAction]:
    """Create the actions, the menus and the toolbar of main window `w`."""
    actions: dict[str, QAction] = {}
    menus = _specs(w)
    bar = w.menuBar()
    for title, specs in menus.items():
        menu = bar.addMenu(title)
        menu.setObjectName(f"menu_{title.replace('&', '').lower()}")
        for spec in specs:
            if spec is None:
                menu.addSeparator()
            elif isinstance(spec, str):
                menu.addAction(actions[spec])
            elif spec.name == "recent":
                w.recent_menu = menu.addMenu(spec.text)
                w.recent_menu.setObjectName("menu_recent")
            elif spec.name == "copy_map":
                map_export.fill_copy_menu(w, menu.addMenu(spec.text), actions)
            elif spec.name == "overlays":
                _overlay_menu(w, menu.addMenu(spec.text), actions)
            elif spec.name == "panels":
                w.panels_menu = menu.addMenu(spec.text)
            else:
                actions[spec.name] = _make(w, spec)
                menu.addAction(actions[spec.name])
    w.addActions(list(actions.values()))  # shortcuts live even while the menu bar is hidden
    _toolbar(w, actions)
    return actions


def refresh_icons(actions: dict) -> None:
    for act in actions.values():
        name = act.property("icon_name")
        if name:
            act.setIcon(icon(name))


def _overlay_menu(w, menu: QMenu, actions: dict):
    group = QActionGroup(menu)
    supported = w.viewport_supports("overlay") or w.viewport_supports("show_depth")
    for name, text in OVERLAYS:
        act = menu.addAction(text)
        act.setObjectName(f"action_overlay_{name or 'shaded'}")
        act.setCheckable(True)
        act.setChecked(name is None)
        act.setEnabled(supported)
        group.addAction(act)
        act.triggered.connect(lambda _=False, n=name: viewport_host.set_overlay(w.viewport, n))
        actions[f"overlay_{name or 'shaded'}"] = act


def _toolbar(w, actions: dict):
    tb = QToolBar("Main toolbar", w)
    tb.setObjectName("mainToolBar")
    tb.setMovable(False)
    for name in ("new", "open", "save", None, "undo", "redo", None, "add_person", "mirror_pose", "reset_joint",
                 None, "gizmo_space", "ik", "frame_selected", "view_camera", None, "insert_key", "delete_key",
                 "play"):
        if name is None:
            tb.addSeparator()
        else:
            tb.addAction(actions[name])
    w.addToolBar(tb)
    w.toolbar = tb
