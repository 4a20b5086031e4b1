"""The names people read for SMPL joints: Blender's bone naming
('left_shoulder' -> 'Shoulder.L'), used by the outliner, the sliders and
every undo text, so the history speaks as the UI does."""
from __future__ import annotations


def joint_label(name: str) -> str:
    """'left_shoulder' -> 'Shoulder.L' (Blender's bone naming, what artists read)."""
    for side, suffix in (("left_", ".L"), ("right_", ".R")):
        if name.startswith(side):
            return name[len(side):].capitalize() + suffix
    return name.capitalize()
