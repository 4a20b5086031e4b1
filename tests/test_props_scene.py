"""Props and the reference image in the scene file, the edit layer and the
presets, without GL: round trips, undo steps, bounded numbers, and hostile
mesh and image files (one line naming the file)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import trimesh

from posebooth.assets.props import PropMeshError, import_mesh_prop, scene_props
from posebooth.assets.reference_image import ReferenceImageError, load_reference, make_reference
from posebooth.assets.starter import starter_scene
from posebooth.edits import prop_ops
from posebooth.edits.document import Document
from posebooth.scene.io import SceneError, load_scene, save_scene, scene_from_json, scene_to_json
from posebooth.scene.props import primitive
from posebooth.viewport.prop_drags import PropMoveDrag
from posebooth.viewport.reference_layer import placement


@pytest.fixture
def mesh_file(tmp_path):
    path = tmp_path / "stool.ply"
    trimesh.creation.cylinder(radius=0.2, height=0.5).export(path)
    return path


@pytest.fixture
def image_file(tmp_path):
    from PIL import Image
    path = tmp_path / "ref.png"
    Image.fromarray(np.full((20, 40, 3), (200, 40, 10), np.uint8)).save(path)
    return path


def test_scene_round_trip_with_props_and_reference(tmp_path, mesh_file, image_file):
    scene = starter_scene()
    scene.props = [primitive("box", position=[1.0, 0.0, -0.5], rotation=[0.0, 0.3, 0.0], scale=[1, 2, 1]),
                   primitive("cylinder", in_depth=False), primitive("plane"), primitive("seat"),
                   import_mesh_prop(mesh_file)]
    scene.camera.reference = make_reference(image_file, opacity=0.3, fit="fill")
    path = tmp_path / "scene.json"
    save_scene(scene, path)
    back = load_scene(path)
    assert back == scene and scene_to_json(back) == scene_to_json(scene)
    assert back.version == 2
    assert back.props[4].mesh.sha256 == __import__("hashlib").sha256(mesh_file.read_bytes()).hexdigest()
    assert back.camera.reference.opacity == 0.3 and back.camera.reference.fit == "fill"
    placed = scene_props(back)
    assert [p.instance_id for p in placed] == [2, 3, 4, 5, 6]
    # The mesh prop is the file's geometry, placed (here: where it was).
    assert np.allclose(placed[4].vertices.min(0), [-0.2, -0.2, -0.25], atol=1e-3)   # trimesh: axis z


@pytest.mark.hostile
@pytest.mark.parametrize("field, value, words", [
    ("position", [0, 1e9, 0], "between -10000 and 10000"),
    ("scale", [1, 0, 1], "between 0.001 and 1000"),
    ("size", [1, float("inf"), 1], "finite"),
    ("rotation", [10, 10, 0], "4 pi"),
    ("kind", "sphere", "box"),
])
def test_prop_numbers_are_bounded(field, value, words):
    import json
    scene = starter_scene()
    scene.props = [primitive("box")]
    data = json.loads(scene_to_json(scene))
    data["props"][0][field] = value
    text = json.dumps(data).replace("Infinity", "1e999")
    with pytest.raises(SceneError) as err:
        scene_from_json(text)
    assert f"props.0.{field}" in str(err.value) and words in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.hostile
def test_a_mesh_prop_needs_its_file_reference():
    import json
    scene = starter_scene()
    scene.props = [primitive("box")]
    data = json.loads(scene_to_json(scene))
    data["props"][0]["kind"] = "mesh"
    with pytest.raises(SceneError, match="props.0: .*needs `mesh`"):
        scene_from_json(json.dumps(data))


@pytest.mark.hostile
@pytest.mark.parametrize("name, content, words", [
    ("garbage.obj", b"v 1 2\nf 9 9 9\x00\xff\n", ""),            # no triangle survives
    ("empty.ply", b"", ""),
    ("truncated.glb", b"glTF\x02\x00\x00\x00\xff\xff\x00\x00JSON", ""),
    ("nan.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "finite"),
    ("far.obj", b"v 1e9 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "out"),
    ("mesh.stl", b"solid x\nendsolid x\n", ".obj, .glb, .ply"),
])
def test_corrupt_mesh_files_are_one_line_naming_the_file(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PropMeshError) as err:
        import_mesh_prop(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    if words:
        assert words in msg


@pytest.mark.hostile
def test_mesh_file_kinds_missing_changed_and_not_regular(tmp_path, mesh_file):
    with pytest.raises(PropMeshError, match="no such file"):
        import_mesh_prop(tmp_path / "gone.obj")
    folder = tmp_path / "dir.obj"
    folder.mkdir()
    with pytest.raises(PropMeshError, match="is a folder"):
        import_mesh_prop(folder)
    fifo = tmp_path / "pipe.ply"
    os.mkfifo(fifo)
    with pytest.raises(PropMeshError, match="named pipe"):
        import_mesh_prop(fifo)   # never blocks
    scene = starter_scene()
    scene.props = [import_mesh_prop(mesh_file)]
    trimesh.creation.box().export(mesh_file)     # edited after it was added
    with pytest.raises(PropMeshError, match="changed since it was added"):
        scene_props(scene)
    errors = []
    assert scene_props(scene, on_error=errors.append) == [] and str(mesh_file) in errors[0]
    mesh_file.unlink()
    scene.props = [scene.props[0].model_copy(update={"mesh": scene.props[0].mesh.model_copy(
        update={"sha256": "0" * 64})})]
    with pytest.raises(PropMeshError, match="no such file"):
        scene_props(scene)


@pytest.mark.hostile
def test_missing_reference_image_is_a_message_and_the_scene_still_opens(tmp_path, image_file):
    scene = starter_scene()
    scene.camera.reference = make_reference(image_file)
    path = tmp_path / "scene.json"
    save_scene(scene, path)
    image_file.unlink()
    back = load_scene(path)                      # opens
    assert back.camera.reference.image.path == str(image_file)
    with pytest.raises(ReferenceImageError) as err:
        load_reference(back.camera.reference)
    assert str(image_file) in str(err.value) and "no such file" in str(err.value)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ReferenceImageError, match="junk.png: not a readable image"):
        make_reference(tmp_path / "junk.png")


def test_prop_edits_are_undo_steps_and_a_drag_is_one():
    doc = Document(starter_scene())
    i = prop_ops.add_primitive(doc, "box")
    assert doc.selected_prop == i and doc.selected_person is None
    camera = doc.camera()
    (x0, y0), _ = camera.project(np.zeros(3))     # press on the prop's base centre
    drag = PropMoveDrag(doc.scene.props[i], camera, x0, y0)
    token = object()
    for dx in (10.0, 30.0, 60.0):                 # one drag: three mouse moves to the right
        prop_ops.edit_prop(doc, i, drag.text, drag=token, **drag.fields_at(x0 + dx, y0))
    moved = doc.scene.props[i].position
    # 60 px to the right on the plane through the prop facing the camera (+z):
    # x = 60 * z / f, no change in height.
    z = camera.depth_of(np.zeros((1, 3)))[0]
    assert moved[0] == pytest.approx(60.0 * z / camera.K[0, 0], rel=1e-6) and abs(moved[1]) < 1e-9
    assert doc.undo_texts == ["Add Box", "Move Box"]
    prop_ops.set_in_depth(doc, i, False)
    assert doc.scene.props[i].in_depth is False
    doc.undo()
    assert doc.scene.props[i].in_depth is True and doc.scene.props[i].position == moved
    doc.undo()                                    # the whole drag at once
    assert doc.scene.props[i].position == [0.0, 0.0, 0.0]
    doc.undo()
    assert doc.scene.props == []
    doc.redo()
    doc.redo()
    assert doc.scene.props[0].position == moved


def test_sitting_preset_comes_with_a_seat_under_the_person():
    from posebooth.edits import pose_ops
    scene = starter_scene(preset="sitting")
    assert [p.kind for p in scene.props] == ["seat"]
    seat = scene_props(scene)[0]
    pelvis = np.asarray(scene.people[0].keys[0].transl)
    top = seat.vertices[:, 1].max()
    assert 0.05 < pelvis[1] - top < 0.15          # the pelvis joint sits a little above the seat
    lo, hi = seat.vertices.min(0), seat.vertices.max(0)
    assert lo[0] < pelvis[0] < hi[0] and lo[2] < pelvis[2] < hi[2]
    # Applying the preset in the app adds the seat where the person stands, once.
    doc = Document(starter_scene())
    doc.edit_person(0, lambda p: setattr(p.keys[0], "transl", [1.0, 0.93, 2.0]), "Move")
    pose_ops.apply_preset(doc, "sitting")
    pose_ops.apply_preset(doc, "sitting")
    assert len(doc.scene.props) == 1 and doc.selected_person == 0
    assert np.allclose(doc.scene.props[0].position, [1.0, 0.0, 2.06])


def test_reference_fit_and_fill_placement():
    # A 2:1 image in a 100 x 100 frame at (10, 20).
    rect, uv = placement((10, 20, 110, 120), (200, 100), "fit")
    assert np.allclose(rect, (10, 45, 110, 95)) and uv == (0.0, 0.0, 1.0, 1.0)
    rect, uv = placement((10, 20, 110, 120), (200, 100), "fill")
    assert np.allclose(rect, (10, 20, 110, 120)) and np.allclose(uv, (0.25, 0.0, 0.75, 1.0))


@pytest.mark.hostile
def test_render_with_a_missing_prop_mesh_is_one_line_before_rendering(tmp_path, mesh_file, capsys):
    from posebooth.cli.main import main

    scene = starter_scene(width=64, height=64)
    scene.props = [import_mesh_prop(mesh_file)]
    save_scene(scene, tmp_path / "s.json")
    mesh_file.unlink()
    assert main(["render", str(tmp_path / "s.json"), "--out", str(tmp_path / "out"), "--processes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(mesh_file) in err and "no such file" in err
    assert not (tmp_path / "out" / "dataset.json").exists()


def test_reference_as_img2img_init_image_fills_or_fits(tmp_path):
    from PIL import Image
    from posebooth.assets.reference_image import reference_init_image

    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:, :100] = (255, 0, 0)                    # left half red, right half blue
    rgb[:, 100:] = (0, 0, 255)
    Image.fromarray(rgb).save(tmp_path / "r.png")
    ref = make_reference(tmp_path / "r.png", fit="fill").model_copy(update={"init_image": True})
    out = reference_init_image(ref, 64, 64)       # the central 100 x 100, scaled
    assert out.shape == (64, 64, 3)
    near = lambda a, c: (np.abs(a.astype(int) - c) <= 3).all()   # noqa: E731 - resampling rounds
    assert near(out[:, :26], (255, 0, 0)) and near(out[:, 38:], (0, 0, 255))
    fit = reference_init_image(ref.model_copy(update={"fit": "fit"}), 64, 64)   # 64 x 32, centred
    assert (fit[:15] == 0).all() and (fit[-15:] == 0).all()
    assert near(fit[20:44, :26], (255, 0, 0)) and near(fit[20:44, 38:], (0, 0, 255))
