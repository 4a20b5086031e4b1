"""Prop edits, each one undo step through the document (the app's
ui.document.SceneDocument or edits.document.Document): add, import,
delete, rename, place (a gizmo drag passes its token: one step per drag),
and the depth-control flag. Props are static: placing one is not keyed."""
from __future__ import annotations

from posebooth.scene.props import Prop, primitive


def _valid(doc, index) -> bool:
    return index is not None and 0 <= index < len(doc.scene.props)


def add_prop(doc, prop: Prop, text: str | None = None) -> int:
    """Append `prop` and select it; returns its index."""
    prop = prop.model_copy(deep=True)
    doc.edit_scene(lambda s: s.props.append(prop), text or f"Add {prop.name}")
    index = len(doc.scene.props) - 1
    doc.select_prop(index)
    return index


def add_primitive(doc, kind: str, **fields) -> int:
    return add_prop(doc, primitive(kind, **fields))


def import_mesh(doc, path) -> int:
    """Add a mesh file as a prop (assets.props.PropMeshError on a bad file:
    one line naming it; the scene is unchanged)."""
    from posebooth.assets.props import import_mesh_prop
    return add_prop(doc, import_mesh_prop(path), "Import mesh")


def delete_prop(doc, index: int) -> bool:
    if not _valid(doc, index):
        return False
    name = doc.scene.props[index].name
    doc.edit_scene(lambda s: s.props.pop(index), f"Delete {name}")
    doc.select_prop(None)
    return True


def edit_prop(doc, index: int, text: str, drag=None, **fields) -> bool:
    """Set fields of prop `index` (position, rotation, scale, size, name,
    color, in_depth): one undo step, or one per drag token."""
    if not _valid(doc, index):
        return False

    def mutate(s):
        props = list(s.props)
        props[index] = props[index].model_copy(update=fields)
        s.props = props
    doc.edit_scene(mutate, text, drag)
    return True


def set_in_depth(doc, index: int, on: bool) -> bool:
    name = doc.scene.props[index].name if _valid(doc, index) else ""
    return edit_prop(doc, index, f"{name}: {'in' if on else 'out of'} the depth control", in_depth=bool(on))
