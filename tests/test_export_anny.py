"""End to end on the real default body: `posebooth render` with anny (its
first construction takes about a minute and is cached under
$POSEBOOTH_CACHE_DIR), checked against the plain pinhole formula, the mask,
and the occlusion cases of test_annotations."""
from __future__ import annotations

import json

import numpy as np
import pytest

from posebooth.assets.smpl_skeleton import JOINT_INDEX as J
from posebooth.cli.main import main
from posebooth.scene.io import save_scene
from posebooth.scene.model import CameraKey
from posebooth.assets.starter import starter_scene
from test_annotations import _hand_behind_back

pytestmark = [pytest.mark.gl, pytest.mark.slow]
W, H = 128, 96


@pytest.fixture(scope="module")
def anny_export(tmp_path_factory):
    pytest.importorskip("anny")
    tmp = tmp_path_factory.mktemp("anny")
    sc = starter_scene(people=2, frames=3, width=W, height=H)
    sc.people[0].keys[0].transl = [0.0, 0.93, 0.0]
    sc.people[1].keys[0].transl = [0.0, 0.93, -1.2]     # right behind person 1
    _hand_behind_back(sc, person=0)
    # Frame 0 from the front, frame 1 from the back, frame 2 close-up: feet cut.
    sc.camera.keys = [CameraKey(frame=0, position=[0, 1.0, 4.5], target=[0, 0.9, 0], interp="step"),
                      CameraKey(frame=1, position=[0, 1.0, -5.5], target=[0, 0.9, -0.6], interp="step"),
                      CameraKey(frame=2, position=[0, 1.5, 1.6], target=[0, 1.4, 0])]
    scene = tmp / "scene.json"
    save_scene(sc, scene)
    out = tmp / "out"
    assert main(["render", str(scene), "--out", str(out), "--quiet",
                 "--passes", "render,depth,mask,control"]) == 0
    return out


def test_anny_export_is_complete_and_consistent(anny_export):
    from pycocotools.coco import COCO
    import cv2

    out = anny_export
    m = json.loads((out / "dataset.json").read_text())
    assert m["complete"] and m["frames"] == [0, 1, 2]
    assert m["body_models"][0]["name"] == "anny" and "anny" in m["body_models"][0]["version"]
    a = np.load(out / "annotations.npz")
    assert a["body_shape"].shape[:2] == (3, 2) and a["body_shape"].shape[2] > 1
    K, ext = a["cam_K"].astype(np.float64), a["cam_ext"].astype(np.float64)
    for f in range(3):
        cam = a["joints3d_world"][f] @ ext[f, :3, :3].T + ext[f, :3, 3]
        np.testing.assert_allclose(a["joints3d_cam"][f], cam, atol=1e-4)
        u = K[f, 0, 0] * cam[..., 0] / cam[..., 2] + K[f, 0, 2]
        v = K[f, 1, 1] * cam[..., 1] / cam[..., 2] + K[f, 1, 2]
        np.testing.assert_allclose(a["joints2d"][f], np.stack([u, v], -1), atol=1e-3)
    coco = COCO(str(out / "coco.json"))
    for ann in coco.loadAnns(coco.getAnnIds()):
        img = coco.loadImgs(ann["image_id"])[0]
        mask = cv2.imread(str(out / "mask" / f"{img['frame_index']:06d}.png"), cv2.IMREAD_UNCHANGED)
        mask = np.pad(mask, 1)
        for x, y, vis in np.array(ann["keypoints"]).reshape(17, 3):
            if vis == 2:
                i, j = int(y), int(x)
                assert (mask[i:i + 3, j:j + 3] == ann["person_index"]).any()


def test_anny_visibility_cases(anny_export):
    a = np.load(anny_export / "annotations.npz")
    vis = a["joints2d_vis"]
    front, back = vis[0, 0], vis[0, 1]
    # Frame 0, front view: the left hand is behind person 1's back; the rest of person 1 is visible.
    assert front[J["left_wrist"]] == 1 and front[J["right_wrist"]] == 2
    assert (np.delete(front, [J["left_wrist"], J["left_hand"]]) == 2).all()
    # Person 2 stands behind person 1: its trunk is hidden, its outstretched hands are not.
    for name in ("pelvis", "spine2", "neck", "head", "left_knee"):
        assert back[J[name]] == 1, name
    assert back[J["left_hand"]] == 2 and back[J["right_hand"]] == 2
    # Frame 1, from behind: now person 2 is in front and hides person 1.
    assert vis[1, 1, J["pelvis"]] == 2 and vis[1, 0, J["pelvis"]] == 1
    # Frame 2, close-up: feet are outside the image.
    for name in ("left_ankle", "right_ankle", "left_foot", "right_foot"):
        assert vis[2, 0, J[name]] == 0, name
    assert vis[2, 0, J["head"]] == 2


def test_render_shares_frames_with_a_helper_process(tmp_path):
    """`posebooth render --processes 2` (the default on 2 or more cores) on
    the real body: the same annotations as one process, and no helper left
    running afterwards."""
    import multiprocessing

    pytest.importorskip("anny")
    sc = starter_scene(people=2, frames=64, width=64, height=48, preset="walking")
    scene = tmp_path / "scene.json"
    save_scene(sc, scene)
    for n in (2, 1):
        assert main(["render", str(scene), "--out", str(tmp_path / str(n)), "--quiet",
                     "--passes", "render,mask", "--processes", str(n)]) == 0
        assert multiprocessing.active_children() == []
    two, one = (np.load(tmp_path / n / "annotations.npz") for n in ("2", "1"))
    assert json.loads((tmp_path / "2" / "dataset.json").read_text())["complete"]
    assert two.files == one.files
    for key in one.files:
        np.testing.assert_array_equal(two[key], one[key], err_msg=key)
    assert (tmp_path / "2" / "coco.json").read_bytes() == (tmp_path / "1" / "coco.json").read_bytes()
