"""Hostile model sources for `render --model`, through the real CLI: empty and
over-long names, devices, pipes, folders with a broken model_index.json or
config.json, files that are not .safetensors checkpoints. Each answer is one
line naming the file (and the field) and what is allowed; nothing is written,
and nothing hangs (a FIFO is never opened for a blocking read)."""
import json
import os

import pytest

from hostile_harness import assert_clear_error, env, run_cli, scene_file  # noqa: F401 (fixtures)
from posebooth.assets.starter import starter_scene
from posebooth.scene.io import save_scene

ALLOWED = "a diffusers folder or a .safetensors file"






def _render(scene_file, tmp_path, model, env):
    r = run_cli("render", str(scene_file), "--out", str(tmp_path / "out"), "--model", model, "--frames", "0",
                "--size", "64x64", "--quiet", "--processes", "1", env=env)
    assert not (tmp_path / "out").exists(), "a model that cannot load must not start an export"
    return r


def _folder(tmp_path, files: dict) -> str:
    """A model folder holding `files` (name -> bytes, or None for a sub-folder)."""
    root = tmp_path / "model"
    root.mkdir()
    for name, data in files.items():
        if data is None:
            (root / name).mkdir(parents=True)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    return str(root)


def _index(**components) -> bytes:
    return json.dumps({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
                       **components}).encode()


@pytest.mark.hostile
def test_empty_model_is_not_the_current_folder(env, scene_file, tmp_path):
    assert_clear_error(_render(scene_file, tmp_path, "", env), "--model is empty", ALLOWED, "preset name")


@pytest.mark.hostile
def test_blank_model_is_empty_too(env, scene_file, tmp_path):
    assert_clear_error(_render(scene_file, tmp_path, "   ", env), "--model is empty", ALLOWED)


@pytest.mark.hostile
def test_scene_model_that_is_empty(env, tmp_path):
    scene = starter_scene()
    scene.generation.model = ""
    path = tmp_path / "scene.json"
    save_scene(scene, path)
    assert_clear_error(_render(path, tmp_path, "scene", env), str(path), "generation.model is empty", ALLOWED)


@pytest.mark.hostile
def test_device_is_not_a_missing_file(env, scene_file, tmp_path):
    line = assert_clear_error(_render(scene_file, tmp_path, "/dev/zero", env), "/dev/zero",
                              "not a regular file or a folder", ALLOWED)
    assert "no such file" not in line


@pytest.mark.hostile
def test_fifo_does_not_hang(env, scene_file, tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    assert_clear_error(_render(scene_file, tmp_path, str(fifo), env), str(fifo), "not a regular file")


@pytest.mark.hostile
def test_name_too_long_for_the_file_system(env, scene_file, tmp_path):
    name = "m" * 5000 + ".safetensors"     # ENAMETOOLONG from stat(): not a traceback
    line = assert_clear_error(_render(scene_file, tmp_path, name, env), "no such file or folder")
    assert len(line) < 1000


@pytest.mark.hostile
def test_unknown_user_in_home_path(env, scene_file, tmp_path):
    assert_clear_error(_render(scene_file, tmp_path, "~no-such-user-here/model", env),
                       "~no-such-user-here/model", "no such file or folder")


@pytest.mark.hostile
def test_symlink_loop(env, scene_file, tmp_path):
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    assert_clear_error(_render(scene_file, tmp_path, str(loop), env), str(loop), "no such file or folder")


# (case id, files of the model folder, what the message must name besides the folder)
BAD_FOLDERS = [
    ("index_is_list", {"model_index.json": b"[1, 2]"}, ["model_index.json", "must be a JSON object", "a list"]),
    ("index_not_json", {"model_index.json": b"{'_class_name': 1"}, ["model_index.json", "not valid JSON"]),
    ("index_not_utf8", {"model_index.json": b'{"_class_name": "\xff"}'}, ["model_index.json", "not UTF-8"]),
    ("index_empty", {"model_index.json": b""}, ["model_index.json", "empty"]),
    ("class_missing", {"model_index.json": b'{"unet": ["diffusers", "UNet2DConditionModel"]}'},
     ["model_index.json", "_class_name", "is required"]),
    ("class_number", {"model_index.json": b'{"_class_name": 7}'}, ["model_index.json", "_class_name", "text string"]),
    ("class_unknown", {"model_index.json": json.dumps({"_class_name": "WanPipeline"}).encode()},
     ["WanPipeline", "_class_name", "StableDiffusionControlNetPipeline"]),
    ("component_empty_list", {"model_index.json": _index(unet=[])}, ["model_index.json", "unet", '["library"']),
    ("component_path", {"model_index.json": _index(**{"../../etc": ["diffusers", "UNet2DConditionModel"]})},
     ["model_index.json", "../../etc", "never a path"]),
    ("component_weights_missing", {"model_index.json": _index(unet=["diffusers", "UNet2DConditionModel"])},
     ["unet/diffusion_pytorch_model.safetensors", "model_index.json"]),
    ("index_is_folder", {"model_index.json": None}, ["model_index.json", "a folder"]),
    ("index_nested", {"model_index.json": b'{"_class_name": "StableDiffusionPipeline", "x": '
                      + b"[" * 50_000 + b"]" * 50_000 + b"}"}, ["model_index.json", "nested too deeply"]),
    ("config_is_list", {"config.json": b"[]"}, ["config.json", "must be a JSON object"]),
    ("no_index", {"weights.bin": b"x"}, ["no model_index.json"]),
]


@pytest.mark.hostile
@pytest.mark.parametrize("case, files, names", BAD_FOLDERS, ids=[c[0] for c in BAD_FOLDERS])
def test_broken_model_folder(env, scene_file, tmp_path, case, files, names):
    folder = _folder(tmp_path, files)
    line = assert_clear_error(_render(scene_file, tmp_path, folder, env), folder, *names)
    assert "AttributeError" not in line and "IndexError" not in line


@pytest.mark.hostile
def test_huge_model_index_is_not_read(env, scene_file, tmp_path):
    folder = _folder(tmp_path, {})
    with open(os.path.join(folder, "model_index.json"), "wb") as f:
        f.truncate(256 << 20)              # sparse: a 256 MiB file of zeros
    assert_clear_error(_render(scene_file, tmp_path, folder, env), "model_index.json", "MiB")


# (case id, file name, contents, what the message must name)
BAD_FILES = [
    ("safetensors_garbage", "model.safetensors", b"\xff" * 64, ["model.safetensors", "not a readable .safetensors"]),
    ("safetensors_empty", "model.safetensors", b"", ["model.safetensors", "not a readable .safetensors"]),
    ("safetensors_huge_header", "model.safetensors", (2 ** 62).to_bytes(8, "little") + b"{}",
     ["model.safetensors", "not a readable .safetensors"]),
    ("ckpt_pickle", "model.ckpt", b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.",
     ["model.ckpt", "pickle", ".safetensors"]),
    ("text_file", "model.txt", b"hello", ["model.txt", ".safetensors"]),
]


@pytest.mark.hostile
@pytest.mark.parametrize("case, name, data, names", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_model_file(env, scene_file, tmp_path, case, name, data, names):
    path = tmp_path / name
    path.write_bytes(data)
    assert_clear_error(_render(scene_file, tmp_path, str(path), env), str(path), *names)


@pytest.mark.hostile
def test_uncached_hub_id_offline_is_one_line(env, scene_file, tmp_path):
    assert_clear_error(_render(scene_file, tmp_path, "someone/not-a-cached-model", env),
                       "someone/not-a-cached-model", "HF_HUB_OFFLINE", "hf download someone/not-a-cached-model")
