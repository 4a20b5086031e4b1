"""SceneDocument: edits are undo commands; undo/redo restore exact state; a drag is one step."""
import numpy as np
import pytest

from posebooth.assets.starter import starter_scene
from posebooth.scene.tracks import PoseState

pytestmark = pytest.mark.gui


@pytest.fixture
def doc(qapp):
    from posebooth.ui.document import SceneDocument
    return SceneDocument(starter_scene(people=2, frames=20))


def _pose(seed):
    rng = np.random.default_rng(seed)
    return PoseState(rng.normal(0, 0.3, 3), rng.normal(0, 0.3, (23, 3)), rng.normal(0, 0.3, 3))


def test_set_pose_undo_redo_exact(doc):
    before = doc.scene.model_copy(deep=True)
    p = _pose(1)
    doc.set_pose(0, p)
    np.testing.assert_array_equal(doc.pose_of(0).body_pose, p.body_pose)
    doc.undo_stack.undo()
    assert doc.scene == before
    doc.undo_stack.redo()
    np.testing.assert_array_equal(doc.pose_of(0).body_pose, p.body_pose)
    assert doc.is_modified()


def test_a_drag_is_one_undo_step(doc):
    before = doc.scene.model_copy(deep=True)
    token = object()
    for i in range(10):
        doc.set_pose(0, _pose(i), drag=token)
    assert doc.undo_stack.count() == 1
    np.testing.assert_array_equal(doc.pose_of(0).global_orient, _pose(9).global_orient)
    doc.set_pose(0, _pose(42), drag=object())  # a new drag is a new step
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.scene == before


def test_auto_key_writes_a_key_at_the_current_frame(doc):
    doc.set_frame(10)
    doc.set_pose(1, _pose(3))
    assert [k.frame for k in doc.scene.people[1].keys] == [0, 10]
    np.testing.assert_allclose(doc.pose_of(1).transl, _pose(3).transl)
    doc.set_frame(0)
    np.testing.assert_allclose(doc.scene.people[1].keys[0].transl, starter_scene(2).people[1].keys[0].transl)


def test_people_and_camera_edits_undo(doc):
    doc.add_person()
    assert len(doc.scene.people) == 3 and doc.selected_person == 2
    doc.delete_person(0)
    assert len(doc.scene.people) == 2
    doc.set_camera_key(focal_mm=85.0)
    assert doc.camera().K[0, 0] == pytest.approx(85 / 36 * 512)
    for _ in range(3):
        doc.undo_stack.undo()
    assert doc.scene == starter_scene(people=2, frames=20)


def test_signals_fire(doc, qtbot):
    with qtbot.waitSignal(doc.personChanged, timeout=1000) as blocker:
        doc.set_pose(1, _pose(5))
    assert blocker.args == [1]
    with qtbot.waitSignal(doc.frameChanged, timeout=1000):
        doc.set_frame(4)
