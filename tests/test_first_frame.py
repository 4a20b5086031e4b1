"""The kept first frame (assets.first_frame): what a warm start draws before
the body model is built. It must come back exactly as posing gave it, only
for exactly that scene, frame and code, and any damage to the file is a miss,
never an error."""
from __future__ import annotations

import dataclasses
import io
import os

import numpy as np
import pytest

from fake_body import fake_body, fake_body_for
from posebooth.assets import first_frame
from posebooth.assets.posing import pose_people
from posebooth.assets.starter import starter_scene
from posebooth.scene.model import BodySpec


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """A cache folder of the test's own (the anny cache is not needed: no build here)."""
    monkeypatch.setenv("POSEBOOTH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def posed_scene(people: int = 2, hands: bool = True):
    scene = starter_scene(people=people, frames=10)
    key = scene.people[0].keys[0]
    key.body_pose = [*key.body_pose[:15], 0.4, 0.1, -0.2, *key.body_pose[18:]]   # the left elbow bent
    scene.people[-1].on_ground = False
    posed = pose_people(scene, 0, fake_body_for)
    if hands:   # a whole-body backend's finger points, as anny gives them
        rng = np.random.default_rng(3)
        posed[0] = dataclasses.replace(posed[0], hand21=rng.normal(size=(2, 21, 3)).astype(np.float32))
    return scene, posed


def assert_same(kept, posed):
    assert len(kept) == len(posed)
    for k, p in zip(kept, posed):
        for name in ("vertices", "joints", "coco17", "shape", "faces", "part_labels"):
            a, b = getattr(k, name), getattr(p, name)
            assert a.dtype == b.dtype and np.array_equal(a, b), name
        assert (k.hand21 is None) == (p.hand21 is None)
        if p.hand21 is not None:
            assert np.array_equal(k.hand21, p.hand21)
        assert k.index == p.index and k.color == p.color and k.ground_offset == p.ground_offset
        for field in dataclasses.fields(p.pose):
            a, b = getattr(k.pose, field.name), getattr(p.pose, field.name)
            assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, field.name


def test_a_kept_frame_comes_back_as_posing_gave_it(cache):
    scene, posed = posed_scene()
    assert posed[0].ground_offset != 0.0 and posed[1].ground_offset == 0.0   # both kinds kept
    path = first_frame.save(scene, 0, posed)
    assert path is not None and path.parent == cache / first_frame.FOLDER
    kept = first_frame.load(scene, 0)
    assert_same(kept, posed)
    body = kept[0].body
    assert body.name == "fake" and body.shape_names == ("scale",) and body.expression_names == ()


def test_the_kept_body_asks_the_real_one_for_anything_else(cache, monkeypatch):
    scene, posed = posed_scene(people=1, hands=False)
    first_frame.save(scene, 0, posed)
    asked = []

    def get_body(spec):
        asked.append(spec)
        return fake_body()

    monkeypatch.setattr("posebooth.assets.registry.get_body", get_body)
    body = first_frame.load(scene, 0)[0].body
    assert body.faces is not None and asked == []   # drawing reads what was kept
    out = body.forward(np.zeros((1, 3)), np.zeros((1, 23, 3)), np.zeros((1, 3)))
    assert asked == [scene.people[0].body] and out.vertices.shape[1] == len(fake_body().rest_vertices)


def test_another_scene_frame_or_code_is_a_miss(cache, monkeypatch):
    scene, posed = posed_scene()
    first_frame.save(scene, 0, posed)
    assert first_frame.load(scene, 1) is None
    changed = scene.model_copy(deep=True)
    changed.people[1].body.shape["height"] = 0.7
    assert first_frame.load(changed, 0) is None
    renamed = scene.model_copy(deep=True)
    renamed.people[0].name = "Someone else"   # the people's whole JSON is the key, not just what moves a mesh
    assert first_frame.load(renamed, 0) is None
    recoloured = scene.model_copy(deep=True)
    recoloured.people[1].color = (0.1, 0.2, 0.3)
    assert first_frame.load(recoloured, 0) is None
    environment = first_frame._environment
    monkeypatch.setattr(first_frame, "_environment", lambda: [*environment(), "anny reinstalled"])
    assert first_frame.load(scene, 0) is None


def test_what_is_not_a_person_is_not_in_the_key(cache):
    """A new prompt, camera or generation setting poses nobody differently."""
    scene, posed = posed_scene()
    first_frame.save(scene, 0, posed)
    other = scene.model_copy(deep=True)
    other.generation.prompt = "a dancer on a beach"
    other.generation.steps = 7
    other.camera.keys[0].focal_mm = 35.0
    assert_same(first_frame.load(other, 0), posed)


def test_a_changed_posing_module_is_a_miss(cache, tmp_path, monkeypatch):
    """Editing PoseBooth's posing code (a developer's checkout) changes the key."""
    scene, posed = posed_scene(people=1)
    code = tmp_path / "code"
    code.mkdir()
    module = code / "posing.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(first_frame, "_CODE", (code,))
    first_frame.save(scene, 0, posed)
    assert first_frame.load(scene, 0) is not None
    module.write_text("x = 22\n")
    assert first_frame.load(scene, 0) is None


def test_only_anny_scenes_with_people_are_kept(cache):
    scene, posed = posed_scene()
    smpl = scene.model_copy(deep=True)
    smpl.people[1].body = BodySpec(model="smpl")
    assert first_frame.frame_key(smpl, 0) is None and first_frame.save(smpl, 0, posed) is None
    empty = starter_scene()
    empty.people = []
    assert first_frame.frame_key(empty, 0) is None
    assert first_frame.save(scene, 0, posed[:1]) is None   # not this scene's people
    assert not (cache / first_frame.FOLDER).exists()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def damaged(scene, posed, kind: str) -> bytes:
    """The kept file's bytes, damaged in one way."""
    path = first_frame.save(scene, 0, posed)
    good = path.read_bytes()
    with np.load(io.BytesIO(good)) as npz:
        arrays = dict(npz.items())
    if kind == "truncated":
        return good[:len(good) // 2]
    if kind == "garbage":
        return os.urandom(4096)
    if kind == "empty":
        return b""
    if kind == "wrong shape":
        arrays["vertices0"] = arrays["vertices0"][:10]
    elif kind == "wrong dtype":
        arrays["joints1"] = arrays["joints1"].astype(np.float64)
    elif kind == "not finite":
        arrays["vertices1"] = arrays["vertices1"].copy()
        arrays["vertices1"][3, 1] = np.nan
    elif kind == "faces past the vertices":
        arrays["faces"] = arrays["faces"].copy()
        arrays["faces"][0, 0] = len(arrays["part_labels"]) + 5
    elif kind == "missing person":
        del arrays["vertices1"]
    elif kind == "another key":
        arrays["key"] = np.array("0" * 64)
    elif kind == "bad meta":
        arrays["meta"] = np.array("{not json")
    elif kind == "pickled object":
        arrays["meta"] = np.array([{"name": "anny"}], dtype=object)
    return _npz(**arrays)


KINDS = ("truncated", "garbage", "empty", "wrong shape", "wrong dtype", "not finite", "faces past the vertices",
         "missing person", "another key", "bad meta", "pickled object")


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_file_is_a_miss(cache, kind):
    scene, posed = posed_scene()
    data = damaged(scene, posed, kind)
    path = first_frame._path(first_frame.frame_key(scene, 0))
    path.write_bytes(data)
    assert first_frame.load(scene, 0) is None


@pytest.mark.parametrize("kind", ("fifo", "folder", "dangling link"))
def test_a_special_file_is_a_miss_without_blocking(cache, kind):
    scene, posed = posed_scene(people=1)
    path = first_frame._path(first_frame.frame_key(scene, 0))
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)        # a plain open() would wait for a writer forever
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(path.parent / "nowhere")
    assert first_frame.load(scene, 0) is None


def test_a_cache_folder_that_cannot_be_written_keeps_nothing_and_says_nothing(cache):
    scene, posed = posed_scene(people=1)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("a file where the cache folder should be")
    assert first_frame.save(scene, 0, posed) is None
    assert first_frame.load(scene, 0) is None


def test_only_the_newest_files_are_kept(cache):
    scene, posed = posed_scene(people=1, hands=False)
    made = []
    for frame in range(first_frame.KEEP + 3):
        made.append(first_frame.save(scene, frame, pose_people(scene, frame, fake_body_for)))
        os.utime(made[-1], ns=(frame * 10**9, frame * 10**9))   # distinct ages on any file system
    left = sorted((cache / first_frame.FOLDER).glob("*.npz"))
    assert sorted(made[-first_frame.KEEP:]) == left

