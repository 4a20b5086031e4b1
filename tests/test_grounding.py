"""On the ground: the lowest point of a posed person sits at y = 0 for every
shape and preset, a motion is grounded on its lowest key so a hop still
leaves the ground, and the offset reaches the joints and the pose's transl.

Truth is the posed mesh itself (its lowest vertex) and the bare body
forward without the offset."""
import json

import numpy as np
import pytest

from posebooth.assets.posing import pose_people, pose_people_frames
from posebooth.assets.presets import list_presets, preset_info
from posebooth.assets.starter import starter_scene
from posebooth.scene.model import BodySpec, Person, PoseKey, Scene

# Shapes from a small child to tall and heavy (anny's phenotypes, 0..1).
SHAPES = {
    "child": {"age": 0.05, "height": 0.3, "weight": 0.4},
    "default": {},
    "tall_heavy": {"age": 0.6, "height": 1.0, "weight": 1.0, "muscle": 0.8},
    "short_thin": {"age": 0.5, "height": 0.0, "weight": 0.0, "gender": 0.0},
}


@pytest.fixture(scope="module")
def body():
    from posebooth.assets.registry import get_body
    return get_body(BodySpec())


def _lowest(person) -> float:
    return float(person.vertices[:, 1].min())


def test_presets_and_shapes_stand_on_the_floor(body):
    grounded = [n for n in list_presets() if preset_info(n).contact != "air"]
    people = []
    for k, name in enumerate(grounded):
        key = starter_scene(1, preset=name).people[0].keys[0]
        shape = list(SHAPES.values())[k % len(SHAPES)]
        people.append(Person(body=BodySpec(shape=shape), keys=[key]))
    for shape in SHAPES.values():   # the rest pose too, in every shape, with hands and a face
        people.append(Person(body=BodySpec(shape=shape), keys=[PoseKey(
            frame=0, transl=[0.3, 2.5, 0.0], left_hand_pose=[0.4] * 45, expression={"jawOpen": 1.0})]))
    posed = []
    for lo in range(0, len(people), 16):
        posed += pose_people(Scene(people=people[lo:lo + 16]), 0)
    for p in posed:
        assert abs(_lowest(p)) <= 0.005, (p.index, _lowest(p))


def test_the_offset_moves_joints_and_transl_with_the_mesh(body):
    key = PoseKey(frame=0, transl=[0.1, 1.4, -0.2], body_pose=[0.1] * 69)
    up, down = (pose_people(Scene(people=[Person(keys=[key], on_ground=g)]), 0)[0] for g in (False, True))
    bare = body.forward(np.array([key.global_orient]), np.array(key.body_pose).reshape(1, 23, 3),
                        np.array([key.transl]))
    np.testing.assert_array_equal(up.vertices, bare.vertices[0])   # off: the body where transl puts it
    dy = -bare.vertices[0, :, 1].min()
    assert down.ground_offset == pytest.approx(dy, abs=1e-6)
    np.testing.assert_allclose(down.vertices - bare.vertices[0], np.broadcast_to([0, dy, 0], down.vertices.shape),
                               atol=1e-5)
    np.testing.assert_allclose(down.joints - bare.joints[0], np.broadcast_to([0, dy, 0], (24, 3)), atol=1e-5)
    np.testing.assert_allclose(down.pose.transl, np.array(key.transl) + [0, dy, 0], atol=1e-9)


def test_changing_age_and_height_keeps_the_feet_down(body):
    for shape in ({"age": 0.09}, {"age": 0.9, "height": 0.9}, {"height": 0.0}):
        scene = starter_scene(1)
        scene.people[0].body = BodySpec(shape=shape)
        assert abs(_lowest(pose_people(scene, 0)[0])) <= 0.005, shape


def test_a_grounded_hop_still_leaves_the_ground(body):
    stand = dict(global_orient=[0.0, 0.0, 0.0], body_pose=[0.0] * 69)
    keys = [PoseKey(frame=0, transl=[0, 1.5, 0], **stand), PoseKey(frame=10, transl=[0, 1.8, 0], **stand),
            PoseKey(frame=20, transl=[0, 1.5, 0], **stand)]
    frames = pose_people_frames(Scene(people=[Person(keys=keys)]), [0, 5, 10, 20])
    lows = [_lowest(f[0]) for f in frames]
    assert abs(lows[0]) <= 0.005 and abs(lows[3]) <= 0.005
    assert lows[1] == pytest.approx(0.15, abs=0.005) and lows[2] == pytest.approx(0.3, abs=0.005)
    # one offset for the whole motion: the same at every frame
    assert len({round(f[0].ground_offset, 6) for f in frames}) == 1


def test_version_1_scenes_do_not_move():
    from posebooth.scene.io import scene_from_json, scene_to_json
    v1 = json.dumps({"format": "posebooth-scene", "version": 1, "people": [{"name": "old"}]})
    assert scene_from_json(v1).people[0].on_ground is False
    assert Scene().people[0].on_ground is True and starter_scene(2, preset="standing").people[1].on_ground
    assert starter_scene(1, preset="jumping").people[0].on_ground is False   # a jump stays in the air
    again = scene_from_json(scene_to_json(scene_from_json(v1)))   # and it stays off once saved
    assert again.people[0].on_ground is False
