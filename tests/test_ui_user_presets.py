"""The user's own pose presets: saved to the user data folder, listed after
the shipped ones, applied like them; a broken user file is one line."""
import json

import numpy as np
import pytest

from posebooth.assets.presets import list_presets
from posebooth.scene.tracks import PoseState
from ui_support import dialogs, make_window, ui_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.gui


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEBOOTH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_a_saved_pose_becomes_a_preset_for_anyone(make_window, data_dir):
    win = make_window()
    doc, panel = win.doc, win.pose_panel
    rng = np.random.default_rng(3)
    pose = PoseState(rng.normal(0, 0.4, 3), rng.normal(0, 0.4, (23, 3)), np.array([-0.45, 0.8, 0.0]))
    doc.select(0, None)
    doc.set_pose(0, pose)
    name = panel.save_preset("My  Lunge")
    # the file is in the user folder, in the shipped format
    data = json.loads((data_dir / "pose_presets.json").read_text())
    assert data["format"] == "posebooth-pose-presets" and data["version"] == 1
    [entry] = data["presets"]
    assert entry["label"] == "My Lunge" and entry["name"] == name
    combo = panel.preset_combo
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert labels[-1] == "My Lunge" and combo.count() == len(list_presets()) + 1
    assert name not in list_presets()          # datasets keep sampling the shipped presets only
    # applied to person 1, it gives person 0's joint rotations, where person 1 stands
    doc.select(1, None)
    stands = doc.pose_of(1).transl.copy()
    combo.setCurrentIndex(combo.findData(name))
    win.pose_panel.apply_btn.click()
    got = doc.pose_of(1)
    assert got.body_pose.shape == (23, 3)
    np.testing.assert_allclose(got.global_orient, pose.global_orient, atol=1e-12)
    np.testing.assert_allclose(got.transl, [stands[0], 0.8, stands[2]], atol=1e-12)
    # with joint limits on, the preset's body may be clamped; without, it is exact
    doc.joint_limits = False
    win.pose_panel.apply_btn.click()
    np.testing.assert_allclose(doc.pose_of(1).body_pose, pose.body_pose, atol=1e-12)


@pytest.mark.hostile
def test_a_corrupt_user_file_is_one_line_and_the_app_runs(make_window, data_dir, dialogs):
    data_dir.mkdir(parents=True)
    bad = data_dir / "pose_presets.json"
    bad.write_text('{"format": "posebooth-pose-presets", "version": 1, "presets": [{"name": 3}]}')
    win = make_window()
    panel = win.pose_panel
    line = panel.preset_problem.text()
    assert str(bad) in line and "\n" not in line and panel.preset_problem.isVisibleTo(win)
    assert panel.preset_combo.count() == len(list_presets())
    win.doc.select(0, None)
    assert panel.save_preset("Anything") is None                       # never overwrites the user's file
    assert dialogs.names() == ["show_error"] and str(bad) in dialogs.calls[0][2]
    assert bad.read_text().endswith('[{"name": 3}]}')
