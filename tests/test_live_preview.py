"""The live preview in the Generation panel: a simulated drag of 60 mouse moves in
one second (a QTimer, the pose edits the viewport's drag makes) with a tiny
2-step model saved as a local folder. Checked by the request ids carried with
each request and result, never by timing: no pose waits in a queue, every
preview generated is of the newest pose when it started, the images shown go
forward in the drag and never back, and the last one shown is of the last pose."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from fake_body import fake_body_for
from fixtures import tiny_models as tm
from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.assets.starter import starter_scene

pytestmark = [pytest.mark.gui, pytest.mark.gl]
SIZE, MOVES = 64, 60


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return str(tm.save_tiny_controlnet_pipeline(tmp_path_factory.mktemp("models") / "tiny-cn"))


@pytest.fixture
def panel(qtbot, tiny_folder, hr):
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.generation.panel import GenerationPanel

    doc = SceneDocument(starter_scene(people=1, frames=1, width=SIZE, height=SIZE), body_for=fake_body_for)

    def setup(scene):
        scene.generation.model, scene.generation.steps = tiny_folder, 2   # a fast model: live previews
    doc.edit_scene(setup, "test set-up")
    doc.posed()
    panel = GenerationPanel(doc, renderer_provider=lambda: hr)
    qtbot.addWidget(panel)
    panel.preview_scale.setCurrentIndex(0)
    panel.show()
    with qtbot.waitSignal(panel.bridge.modelLoaded, timeout=60_000):
        panel.load_btn.click()
    yield panel
    panel.shutdown()


def elbow_angle(pose) -> float:
    return float(pose.body_pose[J["left_elbow"] - 1][1])


def drag(qtbot, panel, record):
    """60 moves, one every 1/60 s, each writing the next pose the way the viewport's
    gizmo drag does (doc.set_pose with one drag token: one undo step)."""
    doc, token = panel.doc, object()
    start = doc.pose_of(0)
    moves = iter(range(1, MOVES + 1))

    def move():
        i = next(moves, None)
        if i is None:
            timer.stop()
            return
        body = start.body_pose.copy()
        body[J["left_elbow"] - 1] = [0.0, -0.02 * i, 0.0]
        doc.set_pose(0, start.with_body(body_pose=body), "Rotate left_elbow", drag=token)
        record("move", i)
    timer = QTimer()
    timer.setInterval(16)
    timer.timeout.connect(move)
    timer.start()
    qtbot.waitUntil(lambda: not timer.isActive(), timeout=30_000)


def test_a_drag_previews_the_latest_pose_only(qtbot, panel):
    events = []            # one ordered log of the GUI thread's view of the drag
    pose_of = {}           # request id -> the drag move (pose) it was snapshotted from
    submitted, results, waiting = set(), [], []
    builder_request = panel.builder.request

    def snapshot(snap):    # every request the panel makes, with the pose in the document then
        pose_of[snap.request_id] = round(-elbow_angle(panel.doc.pose_of(0)) / 0.02)
        assert snap.live and snap.preview
        builder_request(snap)
    panel.builder.request = snapshot
    bridge_submit = panel.bridge.submit

    def submit(request, live=False):   # on the conditioning thread: reaches the worker
        submitted.add(request.request_id)
        waiting.append(len(panel.bridge.worker._jobs))   # jobs queued (not running) at the worker
        return bridge_submit(request, live=live)
    panel.builder._submit = submit
    shown = []
    show = panel.show_result
    # Logged from inside the panel's result slot, in the same event as its next request.
    panel.show_result = lambda result: (shown.append(result.request_id), events.append(("result", result.request_id)),
                                        show(result))
    panel.bridge.result.connect(lambda r: results.append(r.request_id))
    panel.bridge.cancelled.connect(lambda rid: events.append(("cancelled", rid)))
    panel.bridge.error.connect(lambda rid, msg: events.append(("error", msg)))
    in_flight = []

    def record(kind, i):
        events.append((kind, i))
        in_flight.append(len(panel._pending))   # requested by the panel and not finished, after this move

    panel.auto_preview.setChecked(True)   # previews the pose before the drag (move 0)
    drag(qtbot, panel, record)
    qtbot.waitUntil(lambda: bool(shown) and pose_of[shown[-1]] == MOVES and not panel._pending,
                    timeout=60_000)
    qtbot.waitUntil(lambda: results[-1:] == shown[-1:])   # the test's own slots run in events of their own

    assert not [e for e in events if e[0] in ("error", "cancelled")]
    assert max(in_flight) == 1 and not any(waiting), "previews queued behind the mouse"
    assert results == shown == sorted(shown, key=pose_of.get)   # every one shown, in drag order
    poses = [pose_of[rid] for rid in shown]
    assert poses == sorted(set(poses)) and poses[-1] == MOVES   # forward only, ending on the last pose
    # Each request was made when the previous one finished, of the newest pose then:
    # the moves logged between two results are exactly the ones the next request skipped.
    order = [e for e in events if e[0] in ("move", "result")]
    for before, after in zip(results, results[1:]):
        i = order.index(("result", before))
        moved = [n for kind, n in order[:i] if kind == "move"]
        assert pose_of[after] == (moved[-1] if moved else 0)
    assert set(submitted) == set(pose_of)   # nothing dropped: no request was wasted
    assert panel.preview.view.has_image() and panel.preview.view.image().width() == SIZE
    assert panel.history.count() == 0       # previews are not kept in the history


def test_live_previews_can_start_from_the_previous_one(qtbot, panel):
    requests = []
    bridge_submit = panel.bridge.submit
    panel.builder._submit = lambda request, live=False: (requests.append(request),
                                                         bridge_submit(request, live=live))
    panel.from_previous.setChecked(True)
    panel.auto_preview.setChecked(True)
    qtbot.waitUntil(lambda: len(requests) == 1 and not panel._pending, timeout=60_000)
    first = panel._live_image.copy()
    pose = panel.doc.pose_of(0)
    body = pose.body_pose.copy()
    body[J["left_elbow"] - 1] = [0.0, -0.5, 0.0]
    panel.doc.set_pose(0, pose.with_body(body_pose=body))   # the next preview starts from the one shown
    qtbot.waitUntil(lambda: len(requests) == 2 and not panel._pending, timeout=60_000)
    assert requests[0].init_image is None
    second = requests[1]
    assert np.array_equal(second.init_image, first) and second.strength == 0.5
    assert second.steps == 4 and second.settings()["img2img"]   # 4 x 0.5: the model's 2 steps
