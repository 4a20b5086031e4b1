"""The Props menu: add primitives (box, cylinder, wall, seat block), import
an OBJ/GLB/PLY mesh, delete the selected prop or leave it out of the depth
control; and the render camera's reference image (set, opacity, fit or
fill, remove). Every change is one undo step through the document
(edits.prop_ops, edit_camera). Placing props: viewport (ui.viewport.input).
"""
from __future__ import annotations

import math
import os

from PySide6.QtGui import QAction, QActionGroup

from posebooth.edits import prop_ops
from posebooth.ui import dialogs

MESH_FILTER = "Meshes (*.obj *.glb *.ply);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)"
PRIMITIVE_TEXTS = (("box", "&Box"), ("cylinder", "&Cylinder"), ("plane", "&Wall"), ("seat", "&Seat Block"))
OPACITIES = (0.25, 0.5, 0.75, 1.0)
IN_FRONT = 0.7   # metres from the selected person towards the camera, where a new prop lands


def new_prop_position(doc) -> list[float]:
    """On the ground between the selected person (or the first) and the
    render camera: where a new prop is seen at once."""
    if not doc.scene.people:
        return [0.0, 0.0, 0.0]
    p = doc.selected_person if doc.selected_person is not None else 0
    t = doc.pose_of(p).transl
    cam = doc.camera().position
    dx, dz = cam[0] - t[0], cam[2] - t[2]
    n = math.hypot(dx, dz) or 1.0
    return [float(t[0] + IN_FRONT * dx / n), 0.0, float(t[2] + IN_FRONT * dz / n)]


def add_primitive(w, kind: str) -> int:
    return prop_ops.add_primitive(w.doc, kind, position=new_prop_position(w.doc))


def import_mesh(w, path: str | None = None) -> int | None:
    """Import a mesh file as a prop; a bad file is one message, nothing added."""
    from posebooth.assets.props import PropMeshError

    path = path or dialogs.get_open_path(w, "Import Mesh", os.path.expanduser("~"), MESH_FILTER)
    if not path:
        return None
    try:
        i = prop_ops.import_mesh(w.doc, path)
    except PropMeshError as exc:
        dialogs.show_error(w, "Import Mesh", str(exc))
        return None
    prop_ops.edit_prop(w.doc, i, "Place mesh", position=new_prop_position(w.doc))
    return i


def set_reference(w, path: str | None = None) -> bool:
    """Set the render camera's reference image (kept opacity and fit)."""
    from posebooth.assets.reference_image import ReferenceImageError, make_reference

    path = path or dialogs.get_open_path(w, "Reference Image", os.path.expanduser("~"), IMAGE_FILTER)
    if not path:
        return False
    old = w.doc.scene.camera.reference
    try:
        ref = make_reference(path, *((old.opacity, old.fit) if old is not None else ()))
    except ReferenceImageError as exc:
        dialogs.show_error(w, "Reference Image", str(exc))
        return False
    w.doc.edit_camera(lambda c: setattr(c, "reference", ref), "Reference image")
    if hasattr(w.viewport, "set_look_through"):   # it is seen through the camera
        w.viewport.set_look_through(True)
    return True


def edit_reference(w, text: str, **fields) -> bool:
    ref = w.doc.scene.camera.reference
    if ref is None:
        return False
    new = ref.model_copy(update=fields)
    w.doc.edit_camera(lambda c: setattr(c, "reference", new), text)
    return True


def _selected_prop(w):
    i = w.doc.selected_prop
    return i if i is not None and i < len(w.doc.scene.props) else None


def install(w) -> dict[str, QAction]:
    """Add the Props menu to main window `w` (before Help) and its actions to w.action_map."""
    bar = w.menuBar()
    menu = bar.addMenu("P&rops")
    menu.setObjectName("menu_props")
    helps = [a for a in bar.actions() if a.text().replace("&", "") == "Help"]
    if helps:
        bar.insertMenu(helps[0], menu)
    acts: dict[str, QAction] = {}

    def add(name, text, slot, shortcut=None, checkable=False):
        act = QAction(text, w)
        act.setObjectName(f"action_{name}")
        if shortcut:
            act.setShortcut(shortcut)
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        menu.addAction(act)
        acts[name] = act
        return act

    for kind, text in PRIMITIVE_TEXTS:
        add(f"add_{kind}", f"Add {text}", lambda _=False, k=kind: add_primitive(w, k))
    add("import_mesh", "&Import Mesh…", lambda: import_mesh(w))
    menu.addSeparator()
    in_depth = add("prop_in_depth", "Selected Prop in the &Depth Control",
                   lambda on: _selected_prop(w) is not None and prop_ops.set_in_depth(w.doc, _selected_prop(w), on),
                   checkable=True)
    delete = add("delete_prop", "De&lete Selected Prop",
                 lambda: _selected_prop(w) is not None and prop_ops.delete_prop(w.doc, _selected_prop(w)))
    menu.addSeparator()
    add("reference_image", "&Reference Image…", lambda: set_reference(w))
    opacity_menu = menu.addMenu("Reference &Opacity")
    group = QActionGroup(opacity_menu)
    for value in OPACITIES:
        act = opacity_menu.addAction(f"{round(value * 100)}%")
        act.setCheckable(True)
        act.setData(value)
        group.addAction(act)
        act.triggered.connect(lambda _=False, v=value: edit_reference(w, f"Reference opacity {round(v * 100)}%",
                                                                      opacity=v))
    fill = add("reference_fill", "Reference &Fills the Frame",
               lambda on: edit_reference(w, "Reference fill" if on else "Reference fit", fit="fill" if on else "fit"),
               checkable=True)
    init = add("reference_init", "Reference as img2img &Init Image",
               lambda on: edit_reference(w, "Reference as init image" if on else "Reference not the init image",
                                         init_image=bool(on)), checkable=True)
    remove = add("remove_reference", "Re&move Reference Image",
                 lambda: w.doc.edit_camera(lambda c: setattr(c, "reference", None), "Remove reference image"))

    def refresh(*_):
        i = _selected_prop(w)
        in_depth.setEnabled(i is not None)
        delete.setEnabled(i is not None)
        in_depth.blockSignals(True)
        in_depth.setChecked(i is not None and w.doc.scene.props[i].in_depth)
        in_depth.blockSignals(False)
        ref = w.doc.scene.camera.reference
        for act in (fill, init, remove, opacity_menu.menuAction()):
            act.setEnabled(ref is not None)
        fill.blockSignals(True)
        fill.setChecked(ref is not None and ref.fit == "fill")
        fill.blockSignals(False)
        init.blockSignals(True)
        init.setChecked(ref is not None and ref.init_image)
        init.blockSignals(False)
        for act in group.actions():
            act.setChecked(ref is not None and abs(act.data() - ref.opacity) < 1e-9)
    menu.aboutToShow.connect(refresh)
    for sig in (w.doc.selectionChanged, w.doc.sceneReplaced, w.doc.cameraChanged):
        sig.connect(refresh)
    refresh()
    w.addActions(list(acts.values()))
    w.action_map.update(acts)
    return acts
