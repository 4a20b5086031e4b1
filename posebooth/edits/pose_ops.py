"""Whole-pose edits on the selected person, shared by the pose panel's buttons
and the Pose menu. Each is one undo step through the document: the app's
ui.document.SceneDocument, or edits.document.Document in a script."""
from __future__ import annotations

import numpy as np

from posebooth.assets import pose_tools


def mirror(doc) -> bool:
    """Flip the pose left/right about the person's own centre (their position stays)."""
    i = doc.person_to_edit()
    if i is None:
        return False
    pose = doc.pose_of(i)
    doc.set_pose(i, pose_tools.mirror_pose(pose).with_body(transl=pose.transl), "Mirror pose")
    return True


def copy_side(doc, from_side: str) -> bool:
    i = doc.person_to_edit()
    if i is None:
        return False
    other = "right" if from_side == "left" else "left"
    doc.set_pose(i, pose_tools.copy_side(doc.pose_of(i), from_side), f"Copy {from_side} → {other}")
    return True


def reset_joint(doc) -> bool:
    i, j = doc.person_to_edit(), doc.selected_joint
    if i is None or j is None:
        return False
    doc.set_pose(i, pose_tools.reset_joints(doc.pose_of(i), [j]), "Reset joint")
    return True


def limb_of(joint: int) -> str | None:
    for name in pose_tools.LIMB_NAMES:
        if joint in pose_tools.limb_joints(name):
            return name
    return None


def reset_limb(doc) -> bool:
    i, j = doc.person_to_edit(), doc.selected_joint
    if i is None or j is None:
        return False
    limb = limb_of(j)
    joints = pose_tools.limb_joints(limb) if limb else (j,)
    doc.set_pose(i, pose_tools.reset_joints(doc.pose_of(i), joints), "Reset limb")
    return True


def reset_pose(doc) -> bool:
    """Rest pose on the ground, where the person stands now."""
    i = doc.person_to_edit()
    if i is None:
        return False
    cur, rest = doc.pose_of(i), pose_tools.reset_pose()
    doc.set_pose(i, rest.with_body(transl=[cur.transl[0], rest.transl[1], cur.transl[2]]), "Reset pose")
    return True


def preset_names() -> list[tuple[str, str]]:
    """(name, label) of every pose preset: the shipped ones, then the user's."""
    from posebooth.assets import presets
    return [(str(name), str(presets.preset_info(name).label)) for name in presets.list_all_presets()]


def apply_preset(doc, name: str) -> bool:
    """The preset's pose, keeping where the person stands (x, z); its height
    comes from the preset so lying or sitting poses touch the ground."""
    i = doc.person_to_edit()
    if i is None:
        return False
    from posebooth.assets.joint_limits import clamp_pose
    from posebooth.assets.presets import get_preset, preset_info
    preset, cur = get_preset(name), doc.pose_of(i)
    label = preset_info(name).label   # the undo history says what the preset menu says
    if getattr(doc, "joint_limits", True):
        preset = clamp_pose(preset)
    t = np.asarray(preset.transl, dtype=np.float64)
    transl = [cur.transl[0] + t[0], t[1], cur.transl[2] + t[2]]
    # A body preset poses the body; the hands and the face stay as they are.
    doc.set_pose(i, cur.with_body(preset.global_orient, preset.body_pose, transl), f"Preset: {label}")
    _add_preset_props(doc, name, (cur.transl[0], cur.transl[2]))
    return True


def _add_preset_props(doc, name: str, ground) -> None:
    """The preset's props (the seat of "sitting"), unless the same kind of
    prop already stands there (applying the preset twice adds one seat)."""
    from posebooth.assets.presets import preset_props
    from posebooth.edits.prop_ops import add_prop
    for prop in preset_props(name, ground):
        if not any(q.kind == prop.kind and np.hypot(q.position[0] - prop.position[0],
                                                   q.position[2] - prop.position[2]) < 0.3
                   for q in doc.scene.props):
            selected = doc.selected_person, doc.selected_joint
            add_prop(doc, prop, f"Preset: {name} ({prop.name})")
            doc.select(*selected)   # the person stays selected
