"""Hostile model-presets files (<config>/model_presets.json) and unusable config,
HOME and cache folders, through the real CLI (`models list`, `render --model`).

A broken presets file is one line naming the file and the key path; a folder
that cannot be written is one line naming it, or, where PoseBooth can go on
without writing (the built-in presets), it goes on and says so. Read-only
folders are made two ways: a path through a regular file (which fails for
root too) and chmod 0o500 (skipped as root, who may write anyway)."""
import json
import os
from importlib import resources

import pytest

from hostile_harness import assert_clear_error, env, run_cli, scene_file  # noqa: F401 (fixtures)

FILE = "model_presets.json"
GOOD = {"pipeline": "sd15-controlnet", "base": "someone/base-model"}
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _presets(preset) -> dict:
    return {"format": "posebooth-model-presets", "version": 1, "presets": {"my-model": preset}}


def _with(**changes) -> dict:
    return _presets({**GOOD, **changes})






def _render(scene_file, out, model, env):
    return run_cli("render", str(scene_file), "--out", str(out), "--model", model, "--frames", "0",
                   "--size", "64x64", "--quiet", "--processes", "1", env=env)


def _json_text(data) -> bytes:
    return json.dumps(data).encode()


# (case id, file bytes, what the one-line message must name besides the file)
BAD_FILES = [
    ("not_utf8", b'{"presets": {"my-model": {"label": "caf\xe9"}}}', ["not UTF-8"]),
    ("utf16_bom", "\ufeff{}".encode("utf-16"), ["not UTF-8"]),
    ("not_json", b'{"presets": {"my-model": ', ["not valid JSON", "line 1"]),
    ("empty", b"", ["empty"]),
    ("top_level_list", b"[1, 2]", ["must be a JSON object", "a list"]),
    ("preset_is_list", _json_text(_presets(["sd15-controlnet"])), ["presets.my-model", "must be an object"]),
    ("preset_is_string", _json_text(_presets("sd15")), ["presets.my-model", "must be an object", '"sd15"']),
    ("guidance_word", _json_text(_with(guidance="high")),
     ["presets.my-model.guidance", "must be a number", '(got "high")']),
    ("guidance_huge", _json_text(_with(guidance=1e6)), ["presets.my-model.guidance", "at most 50"]),
    ("steps_text", _json_text(_with(steps="20")), ["presets.my-model.steps", "whole number"]),
    ("steps_bool", _json_text(_with(steps=True)), ["presets.my-model.steps", "whole number"]),
    ("steps_zero", _json_text(_with(steps=0)), ["presets.my-model.steps", "at least 1"]),
    ("size_short", _json_text(_with(size=[512])), ["presets.my-model.size"]),
    ("size_odd", _json_text(_with(size=[500, 512])), ["presets.my-model.size[0]", "multiple of 8"]),
    ("size_text", _json_text(_with(size="512x512")), ["presets.my-model.size", "must be a list"]),
    ("lora_number", _json_text(_with(lora=5)), ["presets.my-model.lora", "text string", "(got 5)"]),
    ("base_missing", _json_text(_presets({"pipeline": "sd15-controlnet"})), ["presets.my-model.base", "required"]),
    ("base_empty", _json_text(_with(base="")), ["presets.my-model.base", "must not be empty"]),
    ("pipeline_unknown", _json_text(_with(pipeline="sd3")),
     ["presets.my-model.pipeline", "sd15-controlnet", "sdxl-controlnet"]),
    ("controlnet_kind", _json_text(_with(controlnets={"canny": "a/b"})),
     ["presets.my-model.controlnets.canny", "depth", "openpose"]),
    ("scheduler_unknown", _json_text(_with(scheduler="rm -rf")), ["presets.my-model.scheduler", "unipc"]),
    ("unknown_key", _json_text(_with(negative_prompt="x")),
     ["presets.my-model.negative_prompt", "not a known key", "guidance"]),
    ("name_is_path", _json_text({"presets": {"../evil": GOOD}}), ["presets.../evil", "'/'"]),
    ("default_undefined", _json_text({**_with(), "default": "other"}), ["default", "my-model", '"other"']),
    ("no_presets", _json_text({"presets": {}}), ["presets", "at least 1"]),
    ("version_2", _json_text({**_with(), "version": 2}), ["version", "must be 1"]),
    ("nan", b'{"presets": {"my-model": {"pipeline": "sd15-controlnet", "base": "a/b", "guidance": NaN}}}',
     ["NaN"]),
    ("overflow", b'{"presets": {"my-model": {"pipeline": "sd15-controlnet", "base": "a/b", "guidance": 1e999}}}',
     ["1e999", "too large"]),
    ("duplicate_key", b'{"presets": {"my-model": {"pipeline": "sd15-controlnet", "base": "a/b", "base": "c/d"}}}',
     ["'base'", "twice"]),
    ("deep_nesting", b'{"presets": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", ["nested too deeply"]),
    ("shallow_nesting", b'{"presets": {"my-model": ' + b"[" * 40 + b"]" * 40 + b"}}", ["nested too deeply"]),
]


@pytest.mark.hostile
@pytest.mark.parametrize("case, data, names", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_presets_file_in_models_list(env, case, data, names):
    path = os.path.join(env["POSEBOOTH_CONFIG_DIR"], FILE)
    with open(path, "wb") as f:
        f.write(data)
    line = assert_clear_error(run_cli("models", "list", env=env), path, *names)
    assert "Traceback" not in line and "TypeError" not in line and "ValidationError" not in line
    with open(path, "rb") as f:
        assert f.read() == data          # the user's file is left as it was


RENDER_CASES = ["guidance_word", "preset_is_list", "lora_number", "not_utf8"]


@pytest.mark.hostile
@pytest.mark.parametrize("case", RENDER_CASES)
def test_bad_presets_file_in_render(env, scene_file, tmp_path, case):
    """`render --model my-model` reads the same file: the same one line, nothing written."""
    data, names = next((d, n) for c, d, n in BAD_FILES if c == case)
    path = os.path.join(env["POSEBOOTH_CONFIG_DIR"], FILE)
    with open(path, "wb") as f:
        f.write(data)
    assert_clear_error(_render(scene_file, tmp_path / "out", "my-model", env), path, *names)
    assert not (tmp_path / "out").exists()


@pytest.mark.hostile
@pytest.mark.parametrize("kind", ["folder", "fifo", "huge"])
def test_presets_file_that_is_not_a_small_file(env, kind):
    path = os.path.join(env["POSEBOOTH_CONFIG_DIR"], FILE)
    if kind == "folder":
        os.mkdir(path)
        names = ["a folder"]
    elif kind == "fifo":
        os.mkfifo(path)                   # a plain open() would wait for a writer forever
        names = ["pipe"]
    else:
        with open(path, "wb") as f:
            f.truncate(64 << 20)          # sparse: 64 MiB of zeros, no disk used
        names = ["MiB"]
    assert_clear_error(run_cli("models", "list", env=env), path, *names)


@pytest.mark.hostile
@pytest.mark.parametrize("base, names", [
    ("/no/such/model", ["presets.my-model.base", "/no/such/model", "no such file or folder"]),
    ("/dev/zero", ["presets.my-model.base", "/dev/zero", "not a regular file"]),
    ("CKPT", ["presets.my-model.base", ".ckpt", "pickle"]),
], ids=["missing_path", "device", "ckpt"])
def test_preset_with_unusable_local_base(env, scene_file, tmp_path, base, names):
    if base == "CKPT":
        base = str(tmp_path / "model.ckpt")
        with open(base, "wb") as f:
            f.write(b"\x80\x02}q\x00.")
    path = os.path.join(env["POSEBOOTH_CONFIG_DIR"], FILE)
    with open(path, "wb") as f:
        f.write(_json_text(_with(base=base)))
    assert_clear_error(_render(scene_file, tmp_path / "out", "my-model", env), path, *names)


def _unwritable(tmp_path, how: str):
    """A folder PoseBooth cannot create or write: under a regular file, or chmod 0o500."""
    if how == "under_a_file":
        (tmp_path / "a-file").write_text("not a folder")
        return tmp_path / "a-file" / "sub"
    if AS_ROOT:
        pytest.skip("root writes into a chmod 0o500 folder anyway")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder / "sub"


@pytest.mark.hostile
@pytest.mark.parametrize("how", ["under_a_file", "chmod"])
def test_models_list_with_unwritable_config_folder(env, tmp_path, how):
    """The built-in presets are listed, with a note that the user file could not be written."""
    config = _unwritable(tmp_path, how)
    r = run_cli("models", "list", env={**env, "POSEBOOTH_CONFIG_DIR": str(config)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    shipped = json.loads(resources.files("posebooth").joinpath("resources", FILE).read_text(encoding="utf-8"))
    for name in shipped["presets"]:
        assert f"{name}" in r.stdout
    assert f"{config / FILE} could not be created" in r.stdout and "POSEBOOTH_CONFIG_DIR" in r.stdout
    r = run_cli("models", "list", "--json", env={**env, "POSEBOOTH_CONFIG_DIR": str(config)})
    report = json.loads(r.stdout)
    assert [p["name"] for p in report["presets"]] == list(shipped["presets"])
    assert str(config / FILE) in report["presets_file_note"]
    if how == "chmod":
        (tmp_path / "read-only").chmod(0o700)


@pytest.mark.hostile
def test_unwritable_home(env, scene_file, tmp_path):
    """HOME through a file, no POSEBOOTH_CONFIG_DIR / POSEBOOTH_CACHE_DIR: `models list`
    goes on with the built-in presets; rendering needs the cache folder and says which."""
    home = _unwritable(tmp_path, "under_a_file")
    bare = {**env, "HOME": str(home), "HF_HOME": str(tmp_path / "hf"), "XDG_CONFIG_HOME": "",
            "XDG_CACHE_HOME": "", "POSEBOOTH_CONFIG_DIR": "", "POSEBOOTH_CACHE_DIR": ""}
    r = run_cli("models", "list", env=bare)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "sd15-depth" in r.stdout and f"{home}/.config/posebooth/{FILE} could not be created" in r.stdout
    r = run_cli("render", str(scene_file), "--out", str(tmp_path / "out"), "--frames", "0", "--size", "64x64",
                "--quiet", "--processes", "1", env=bare)
    assert_clear_error(r, f"{home}/.cache/posebooth", "POSEBOOTH_CACHE_DIR")


@pytest.mark.hostile
@pytest.mark.parametrize("how", ["under_a_file", "chmod"])
def test_unwritable_cache_folder(env, scene_file, tmp_path, how):
    """An anny cache that cannot be created or written (and holds no built model): one line
    naming the folder and POSEBOOTH_CACHE_DIR, and no output folder."""
    cache = _unwritable(tmp_path, how)
    r = run_cli("render", str(scene_file), "--out", str(tmp_path / "out"), "--frames", "0", "--size", "64x64",
                "--quiet", "--processes", "1", env={**env, "POSEBOOTH_CACHE_DIR": str(cache)})
    assert_clear_error(r, str(cache / "anny"), "POSEBOOTH_CACHE_DIR")
    assert not (tmp_path / "out").exists()
    if how == "chmod":
        (tmp_path / "read-only").chmod(0o700)


@pytest.mark.hostile
def test_render_with_unwritable_config_uses_built_in_presets(env, scene_file, tmp_path):
    """`render --model NAME` with a config folder that cannot be written still knows the
    built-in presets: an unknown name lists them (no OSError)."""
    config = _unwritable(tmp_path, "under_a_file")
    r = _render(scene_file, tmp_path / "out", "no-such-preset", {**env, "POSEBOOTH_CONFIG_DIR": str(config)})
    assert_clear_error(r, "'no-such-preset' is not a preset", "sd15-depth", "sdxl-depth")


def _pose_library() -> dict:
    return json.loads(resources.files("posebooth").joinpath("resources", "pose_presets.json").read_text("utf-8"))


def _pose_entry(d):
    return d["presets"][1]


POSE_CASES = [
    ("contact", lambda d: _pose_entry(d).update(contact="fly"), "presets[1].contact", "'feet'"),
    ("joint", lambda d: _pose_entry(d)["body_pose"].update(pelvis=[0, 0, 0]),
     "presets[1].body_pose.pelvis (the key)", "'left_hip'"),
    ("vector", lambda d: _pose_entry(d).update(transl=[0, 1]), "presets[1].transl", "3 item(s)"),
    ("rotation_text", lambda d: _pose_entry(d).update(global_orient=["0", 0, 0]),
     "presets[1].global_orient[0]", "must be a number"),
    ("duplicate_name", lambda d: _pose_entry(d).update(name=d["presets"][0]["name"]), "presets[1].name", "twice"),
    ("entry_is_list", lambda d: d["presets"].__setitem__(1, []), "presets[1]", "must be an object"),
    ("unknown_key", lambda d: _pose_entry(d).update(mood="happy"), "presets[1].mood", "allowed: name, label"),
    ("format", lambda d: d.update(format="other"), "format", "posebooth-pose-presets"),
]


@pytest.mark.parametrize("case, mutate, where, allowed", POSE_CASES, ids=[c[0] for c in POSE_CASES])
def test_pose_presets_validate_the_same_way(case, mutate, where, allowed):
    """The pose preset library goes through the same validation: one line naming the
    file, the key path and what is allowed."""
    from posebooth.assets.presets import PresetFileError, parse_presets

    assert len(parse_presets(json.dumps(_pose_library()), "pose_presets.json")) >= 14   # the shipped file is valid
    data = _pose_library()
    mutate(data)
    with pytest.raises(PresetFileError) as e:
        parse_presets(json.dumps(data), "pose_presets.json")
    message = str(e.value)
    assert message.startswith(f"pose_presets.json: {where}: ") and allowed in message and "\n" not in message
