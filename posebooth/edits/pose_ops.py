"""Whole-pose edits on the selected person, shared by the pose panel's buttons
and the Pose menu. Each is one undo step through the document: the app's
ui.document.SceneDocument, or edits.document.Document in a script."""
from __future__ import annotations

import numpy as np

from posebooth.assets import pose_tools
from posebooth.scene.tracks import PoseState


def _target(doc) -> int | None:
    p = doc.selected_person
    return p if p is not None and 0 <= p < len(doc.scene.people) else None


def _with_transl(pose: PoseState, transl) -> PoseState:
    return pose.with_body(transl=transl)


def mirror(doc) -> bool:
    """Flip the pose left/right about the person's own centre (their position stays)."""
    i = _target(doc)
    if i is None:
        return False
    pose = doc.pose_of(i)
    doc.set_pose(i, _with_transl(pose_tools.mirror_pose(pose), pose.transl), "Mirror pose")
    return True


def copy_side(doc, from_side: str) -> bool:
    i = _target(doc)
    if i is None:
        return False
    other = "right" if from_side == "left" else "left"
    doc.set_pose(i, pose_tools.copy_side(doc.pose_of(i), from_side), f"Copy {from_side} → {other}")
    return True


def reset_joint(doc) -> bool:
    i, j = _target(doc), doc.selected_joint
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
    i, j = _target(doc), doc.selected_joint
    if i is None or j is None:
        return False
    limb = limb_of(j)
    joints = pose_tools.limb_joints(limb) if limb else (j,)
    doc.set_pose(i, pose_tools.reset_joints(doc.pose_of(i), joints), "Reset limb")
    return True


def reset_pose(doc) -> bool:
    """Rest pose on the ground, where the person stands now."""
    i = _target(doc)
    if i is None:
        return False
    cur, rest = doc.pose_of(i), pose_tools.reset_pose()
    doc.set_pose(i, _with_transl(rest, [cur.transl[0], rest.transl[1], cur.transl[2]]), "Reset pose")
    return True


def preset_names() -> list[tuple[str, str]]:
    """(name, label) of every pose preset."""
    from posebooth.assets import presets
    return [(str(name), str(presets.preset_info(name).label)) for name in presets.list_presets()]


def apply_preset(doc, name: str) -> bool:
    """The preset's pose, keeping where the person stands (x, z); its height
    comes from the preset so lying or sitting poses touch the ground."""
    i = _target(doc)
    if i is None:
        return False
    from posebooth.assets.presets import get_preset
    preset, cur = get_preset(name), doc.pose_of(i)
    t = np.asarray(preset.transl, dtype=np.float64)
    transl = [cur.transl[0] + t[0], t[1], cur.transl[2] + t[2]]
    doc.set_pose(i, _with_transl(preset, transl), f"Preset: {name}")
    return True
