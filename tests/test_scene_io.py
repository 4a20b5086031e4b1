"""Scene files: exact round trip, and every kind of bad file gives a clear SceneError."""
import json

import pytest

from posebooth.scene import Scene, SceneError, load_scene, save_scene, scene_from_json, scene_to_json
from posebooth.scene.model import CameraKey, Person, PoseKey
from posebooth.assets.starter import starter_scene


def _busy_scene() -> Scene:
    s = starter_scene(people=2, frames=10)
    s.people[0].keys.append(PoseKey(frame=9, global_orient=[0.1, -0.2, 0.30000000000000004],
                                    body_pose=[i * 1e-3 for i in range(69)], transl=[1 / 3, 0.9, -2.5],
                                    interp="smooth"))
    s.camera.keys.append(CameraKey(frame=5, position=[1, 2, 3], target=[0, 1, 0], roll=0.2, interp="step"))
    s.camera.intrinsics = {"fx": 400.5, "fy": 401.25, "cx": 250.0, "cy": 260.1}
    s.generation.prompt = "a dancer, ünïcödé ✓, \"quoted\""
    return s


def test_round_trip_is_exact(tmp_path):
    scene = _busy_scene()
    path = tmp_path / "s.json"
    save_scene(scene, path)
    again = load_scene(path)
    assert again == scene
    assert scene_to_json(again) == path.read_text()
    assert again.people[0].keys[1].global_orient[2] == 0.30000000000000004


def test_keys_are_kept_sorted():
    p = Person(keys=[PoseKey(frame=5), PoseKey(frame=1)])
    assert [k.frame for k in p.keys] == [1, 5]


def _write(tmp_path, text, name="bad.json"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def _valid_dict():
    return json.loads(scene_to_json(starter_scene()))


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.pop("format"), "not a PoseBooth scene"),
    (lambda d: d.update(version=3), "newer PoseBooth"),
    (lambda d: d.update(version="1"), "no valid \"version\""),
    (lambda d: d.update(version=0), "unknown scene version"),
    (lambda d: d["people"][0]["keys"][0].update(body_pose=[0.0] * 68), "people.0.keys.0.body_pose"),
    (lambda d: d["people"][0]["keys"][0].update(transl=[0, "x", 0]), "people.0.keys.0.transl.1"),
    (lambda d: d["people"][0].update(keys=[]), "people.0.keys"),
    (lambda d: d["people"][0]["keys"].append(dict(d["people"][0]["keys"][0])), "share a frame"),
    (lambda d: d["camera"].update(width=-5), "camera.width"),
    (lambda d: d["camera"].update(near=10.0, far=1.0), "far must be beyond near"),
    (lambda d: d["camera"]["keys"][0].update(target=d["camera"]["keys"][0]["position"]), "coincide"),
    (lambda d: d["timeline"].update(start=5, end=2), "end is before start"),
    (lambda d: d["camera"].update(intrinsics={"fx": 0, "fy": 1, "cx": 0, "cy": 0}), "camera.intrinsics.fx"),
    (lambda d: d.update(surprise=1), "surprise"),
    (lambda d: d["people"][0]["body"].update(model="dinosaur"), "people.0.body.model"),
    (lambda d: d.update(people=[d["people"][0]] * 17), "people"),
    (lambda d: d["generation"].update(steps=0), "generation.steps"),
])
def test_invalid_content(tmp_path, mutate, expected):
    d = _valid_dict()
    mutate(d)
    path = _write(tmp_path, json.dumps(d))
    with pytest.raises(SceneError) as err:
        load_scene(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content, expected", [
    ("", "empty"),
    ("   \n", "empty"),
    (scene_to_json(starter_scene())[:200], "truncated"),
    ("{\"format\": \"posebooth-scene\", \"version\": 1,}", "not valid JSON at line 1"),
    ("[1, 2, 3]", "JSON object"),
    ("\"just a string\"", "JSON object"),
    (b"\xff\xfe\x00garbage", "not a text"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ("{\"format\": \"posebooth-scene\", \"format\": \"x\"}", "appears twice"),
])
def test_corrupt_files(tmp_path, content, expected):
    with pytest.raises(SceneError) as err:
        load_scene(_write(tmp_path, content))
    assert expected in str(err.value)


def test_nan_and_infinity_rejected(tmp_path):
    text = scene_to_json(starter_scene()).replace('"roll": 0.0', '"roll": NaN')
    with pytest.raises(SceneError, match="NaN"):
        load_scene(_write(tmp_path, text))
    text = scene_to_json(starter_scene()).replace('"roll": 0.0', '"roll": 1e999')
    with pytest.raises(SceneError, match="finite"):
        load_scene(_write(tmp_path, text))


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(SceneError, match="no such file"):
        load_scene(tmp_path / "nope.json")
    with pytest.raises(SceneError, match="is a folder"):
        load_scene(tmp_path)


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    path = tmp_path / "s.json"
    save_scene(starter_scene(), path)
    save_scene(_busy_scene(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
    assert load_scene(path) == _busy_scene()


def test_validation_never_half_loads():
    d = _valid_dict()
    d["people"].append(dict(d["people"][0], color=[0, 0]))
    with pytest.raises(SceneError):
        scene_from_json(json.dumps(d))


def test_version_1_scene_loads_with_flat_hands_and_no_expression():
    """A version-1 file (written before hands and faces) still opens: flat hands, neutral face."""
    import json as _json
    from posebooth.scene.io import scene_from_json
    from posebooth.scene.tracks import pose_at
    data = {"format": "posebooth-scene", "version": 1,
            "people": [{"keys": [{"frame": 0, "body_pose": [0.1] * 69}]}]}
    scene = scene_from_json(_json.dumps(data))
    pose = pose_at(scene.people[0], 0)
    assert pose.left_hand_pose.shape == (15, 3) and not pose.left_hand_pose.any() and not pose.right_hand_pose.any()
    assert pose.expression == {} and pose.body_pose[0, 0] == 0.1


def test_hands_and_expression_interpolate_between_keys():
    """Hands slerp per finger joint and expression weights blend like the body (absent = 0)."""
    import numpy as np
    from posebooth.scene.model import Person, PoseKey
    from posebooth.scene.tracks import pose_at
    a = PoseKey(frame=0, left_hand_pose=[0.0] * 45, expression={"jawOpen": 1.0})
    b = PoseKey(frame=10, left_hand_pose=[0.0, 0.0, 1.0] * 15, expression={"eyeBlinkLeft": 0.5})
    mid = pose_at(Person(keys=[a, b]), 5)
    assert np.allclose(mid.left_hand_pose, [[0.0, 0.0, 0.5]] * 15)
    assert mid.expression == {"jawOpen": 0.5, "eyeBlinkLeft": 0.25}
