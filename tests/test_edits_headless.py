"""The edit operations (pose ops, key ops, joint rotation) run headless on
edits.document.Document, with Qt never imported, and behave as in the app:
one undo step each, a drag merged into one step. Checked against a
kinematic chain the tests write themselves (reference_chain)."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from reference_chain import forward_kinematics
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J, MIRROR, REST_JOINTS
from posebooth.assets.starter import starter_scene
from posebooth.edits import joint_rotation, key_ops, pose_ops
from posebooth.edits.document import Document

TESTS = Path(__file__).resolve().parent


# A left/right symmetric rest skeleton (pelvis at x = 0), so a mirrored pose
# puts each joint exactly where its partner's reflection was.
SYMMETRIC_REST = (REST_JOINTS + REST_JOINTS[list(MIRROR)] * [-1, 1, 1]) / 2


def _joints(doc, i=0):
    p = doc.pose_of(i)
    return forward_kinematics(p.global_orient, p.body_pose, p.transl, SYMMETRIC_REST)[0]


def test_the_edit_operations_import_no_qt():
    code = ("import sys; from posebooth.edits import document, pose_ops, key_ops, joint_rotation; "
            "d = document.Document(); pose_ops.mirror(d); key_ops.insert_pose_key(d, 0); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'superqt')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_mirror_is_one_undo_step_and_mirrors_the_limbs():
    doc = Document(starter_scene(preset="walking"))
    before = _joints(doc)
    assert pose_ops.mirror(doc)
    after = _joints(doc)
    centre = before[J["pelvis"]]
    # each joint lands where its mirror partner was, reflected across the plane x = pelvis x
    for j, m in enumerate(MIRROR):
        expected = before[m] * [-1, 1, 1] + [2 * centre[0], 0, 0]
        np.testing.assert_allclose(after[j], expected, atol=1e-6)
    assert doc.undo_texts == ["Mirror pose"]
    assert doc.undo()
    np.testing.assert_allclose(_joints(doc), before, atol=1e-12)
    assert doc.redo()
    np.testing.assert_allclose(_joints(doc), after, atol=1e-12)


def test_nothing_selected_changes_nothing():
    doc = Document(starter_scene())
    doc.select(None, None)
    assert not pose_ops.mirror(doc) and not pose_ops.reset_joint(doc) and doc.undo_texts == []


def test_keys_and_joint_rotation_headless():
    doc = Document(starter_scene(frames=10))
    doc.set_frame(5)
    key_ops.insert_pose_key(doc, 0)
    assert key_ops.key_frames(doc, 0) == [0, 5]
    doc.select(0, J["left_elbow"])
    pose = joint_rotation.with_joint_euler(doc.pose_of(0), J["left_elbow"], [0.0, 0.0, 90.0], "local")
    doc.set_pose(0, pose, "Rotate")
    np.testing.assert_allclose(joint_rotation.joint_euler_deg(doc.pose_of(0), J["left_elbow"]), [0, 0, 90],
                               atol=1e-9)
    doc.set_frame(0)
    assert key_ops.neighbour_key(doc, +1) == 5
    assert key_ops.delete_pose_key(doc, 0, 5) and key_ops.key_frames(doc, 0) == [0]


def test_a_drag_is_one_undo_step():
    doc = Document(starter_scene())
    token = object()
    for angle in (10.0, 20.0, 30.0):
        pose = joint_rotation.with_joint_euler(doc.pose_of(0), J["right_knee"], [angle, 0, 0], "local")
        doc.set_pose(0, pose, "Rotate", drag=token)
    assert doc.undo_texts == ["Rotate"]
    np.testing.assert_allclose(joint_rotation.joint_euler_deg(doc.pose_of(0), J["right_knee"])[0], 30.0)
    doc.undo()
    np.testing.assert_allclose(doc.pose_of(0).body_pose, 0.0)
