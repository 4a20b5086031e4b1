"""Animation editing on the timeline: retiming keys by dragging, selecting
several keys, copy / paste of poses and keys, deleting, and playback that
keeps the scene's time (an injected clock, no wall-clock asserts)."""
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from posebooth.scene.tracks import PoseState
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui
L = Qt.MouseButton.LeftButton
SHIFT, CTRL = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier


def _pose(seed):
    rng = np.random.default_rng(seed)
    return PoseState(rng.normal(0, 0.5, 3), rng.normal(0, 0.5, (23, 3)), rng.normal(0, 0.3, 3) + [0, 1, 0])


def _keyed(make_window, frames=(0, 4, 8)):
    """A window whose person 0 has keys at `frames` (distinct poses)."""
    win = make_window()
    doc = win.doc
    for f in frames:
        doc.set_frame(f)
        doc.set_pose(0, _pose(f))
    doc.set_frame(15)
    win.timeline_dock.raise_()
    return win


def _frames(doc, i=0):
    return [k.frame for k in doc.scene.people[i].keys]


def _drag(qtbot, view, points, mods=Qt.KeyboardModifier.NoModifier):
    vp = view.viewport()
    qtbot.mousePress(vp, L, mods, pos=view.frame_to_widget(*points[0]))
    for p in points[1:]:
        qtbot.wait(40)  # pyqtgraph drops mouse moves closer than ~1/60 s
        qtbot.mouseMove(vp, view.frame_to_widget(*p))
    qtbot.mouseRelease(vp, L, mods, pos=view.frame_to_widget(*points[-1]))


def test_dragging_a_key_retimes_it_in_one_undo_step(make_window, qtbot):
    win = _keyed(make_window)
    doc, view = win.doc, win.timeline.view
    qtbot.waitUntil(view.isVisible)
    pose4 = doc.scene.people[0].keys[1].model_dump(exclude={"frame"})
    steps = doc.undo_stack.count()
    _drag(qtbot, view, [(4, 0), (5, 0), (7, 0), (11, 0)])
    assert _frames(doc) == [0, 8, 11]
    assert doc.scene.people[0].keys[2].model_dump(exclude={"frame"}) == pose4   # the same pose, later
    assert doc.frame == 15                                                   # a key drag does not scrub
    assert doc.undo_stack.count() == steps + 1 and doc.undo_stack.undoText() == "Move keys"
    doc.undo_stack.undo()
    assert _frames(doc) == [0, 4, 8]
    # dragging empty space still scrubs and moves no key
    _drag(qtbot, view, [(2, 0.5), (3, 0.5), (6, 0.5)])
    assert doc.frame == 6 and _frames(doc) == [0, 4, 8]


def test_shift_click_and_rubber_band_select_then_delete_removes_them(make_window, qtbot):
    win = _keyed(make_window)
    doc, view = win.doc, win.timeline.view
    qtbot.waitUntil(view.isVisible)
    vp = view.viewport()
    qtbot.mouseClick(vp, L, pos=view.frame_to_widget(4, 0))
    qtbot.mouseClick(vp, L, SHIFT, pos=view.frame_to_widget(8, 0))
    assert view.selected == {(0, 4), (0, 8)}
    qtbot.mouseClick(vp, L, pos=view.frame_to_widget(2, 0.5))   # empty: deselects
    assert view.selected == set()
    # a ctrl+drag over empty space: the keys of both people at 0 and person 0's key at 4
    _drag(qtbot, view, [(-0.5, -0.4), (2, 0.8), (5, 1.4)], mods=CTRL)
    assert view.selected == {(0, 0), (0, 4), (1, 0)}
    steps = doc.undo_stack.count()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)   # the strip's Delete, not the window's "delete person"
    assert len(doc.scene.people) == 2
    assert _frames(doc, 0) == [8] and _frames(doc, 1) == [0]   # person 1 keeps its only key
    assert doc.undo_stack.count() == steps + 1
    doc.undo_stack.undo()
    assert _frames(doc, 0) == [0, 4, 8]


def test_copy_and_paste_a_pose_across_people_and_frames(make_window):
    win = _keyed(make_window)
    doc = win.doc
    doc.select(0, None)
    doc.set_frame(4)
    win.action_map["copy_keys"].trigger()        # no key selected: the pose shown
    source = PoseState.from_key(doc.scene.people[0].keys[1])
    stands = np.array(doc.scene.people[1].keys[0].transl)
    doc.select(1, None)
    doc.set_frame(12)
    win.action_map["paste_keys"].trigger()
    key = next(k for k in doc.scene.people[1].keys if k.frame == 12)
    np.testing.assert_array_equal(key.body_pose, source.body_pose.reshape(-1))
    np.testing.assert_array_equal(key.global_orient, source.global_orient)
    # it lands where person 1 stands, at the copied height
    np.testing.assert_allclose(key.transl, [stands[0], source.transl[1], stands[2]], atol=1e-12)
    assert doc.undo_stack.undoText() == "Paste pose"


def test_copy_keys_paste_them_at_the_playhead_on_another_person(make_window):
    win = _keyed(make_window)
    doc, view = win.doc, win.timeline.view
    view.set_selection({(0, 4), (0, 8)})
    win.timeline.copy()
    k4, k8 = doc.scene.people[0].keys[1], doc.scene.people[0].keys[2]
    doc.select(1, None)
    doc.set_frame(10)
    steps = doc.undo_stack.count()
    win.timeline.paste()
    assert _frames(doc, 1) == [0, 10, 14] and doc.undo_stack.count() == steps + 1
    got = doc.scene.people[1].keys
    assert got[1].body_pose == k4.body_pose and got[2].body_pose == k8.body_pose
    # the motion keeps its own travel, started where person 1 stood at frame 10
    start = np.array(doc.scene.people[1].keys[0].transl)
    np.testing.assert_allclose(np.array(got[2].transl) - got[1].transl, np.array(k8.transl) - k4.transl,
                               atol=1e-12)
    np.testing.assert_allclose([got[1].transl[0], got[1].transl[2]], [start[0], start[2]], atol=1e-12)


class SlowClock:
    """A fake monotonic clock; each frame drawn 'takes' `draw_s` seconds."""

    def __init__(self, draw_s):
        self.now, self.draw_s = 100.0, draw_s

    def __call__(self):
        return self.now


def test_playback_drops_frames_to_keep_the_scenes_time(make_window):
    from posebooth.ui.playback import Playback
    win = make_window()
    doc = win.doc
    doc.edit_scene(lambda s: setattr(s.timeline, "end", 1000), "end")
    clock = SlowClock(draw_s=0.1)                # 2.4 frames of a 24 fps scene per draw
    pb = Playback(doc, win, clock=clock)
    def slow_draw(frame):
        clock.now += clock.draw_s
    doc.frameChanged.connect(slow_draw)
    rates = []

    def rate(value):
        rates.append(value)
    pb.rateChanged.connect(rate)
    doc.set_frame(0)
    pb.play()
    t0 = clock.now
    shown = []
    for _ in range(30):
        clock.now += 0.02                       # the timer's wait
        looked = clock.now                      # when the tick reads the clock, before it draws
        pb.tick()
        shown.append(doc.frame)
        assert doc.frame == math.floor((looked - t0) * 24 + 1e-9)   # the frame due then, whatever the draws cost
    pb.stop()
    doc.frameChanged.disconnect(slow_draw)
    assert shown == sorted(shown) and max(np.diff(shown)) >= 2   # frames were skipped, time kept
    assert shown[-1] > 30                                          # not one frame per timer tick
    assert rates[-1] == 0.0 and abs(rates[-2] - 1 / 0.12) < 1e-6   # the real rate: a draw every 0.1 + 0.02 s


def test_playback_real_rate_shows_in_the_timeline(make_window, qtbot):
    win = make_window()
    pb = win.timeline.playback
    pb.rateChanged.emit(16.04)
    assert win.timeline.rate_label.text() == "16.0 fps shown"
    pb.play()
    pb.stop()
    assert win.timeline.rate_label.text() == ""
