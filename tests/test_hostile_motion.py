"""Hostile motion files through `posebooth scene import-motion` (the real CLI,
bounded in time and memory by tests/hostile_harness.py): special files,
archives that claim more than they hold or hold more than is needed, values
that overflow, members that are not arrays. Every file is generated here.
The scene file must never change when an import is refused."""
import io
import json
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest
from numpy.lib import format as npy_format

from hostile_harness import assert_clear_error, run_cli
from posebooth.assets.starter import starter_scene
from posebooth.scene import load_scene, scene_to_json

ROWS_10M = 10_000_000


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _npy_header(shape, dtype="<f4", fortran=False) -> bytes:
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": fortran, "shape": shape})
    return buf.getvalue()


def _good(n=10) -> dict:
    return {"poses": np.zeros((n, 72)), "trans": np.zeros((n, 3)), "mocap_framerate": np.array(120.0)}


def _npz(path, members: dict, compression=zipfile.ZIP_STORED):
    """members: name -> ndarray (saved as name.npy) or raw bytes (stored under `name` as given)."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, value in members.items():
            if isinstance(value, np.ndarray):
                z.writestr(f"{name}.npy", _npy(value))
            else:
                z.writestr(name, value)
    return path


def _deflated_zeros(prefix: bytes, zeros: int) -> tuple[bytes, int]:
    """Raw deflate of prefix + `zeros` zero bytes, and its CRC, without
    compressing gigabytes: after a full flush the compressor starts afresh,
    so every 1 MiB block of zeros compresses to the same bytes."""
    block = bytes(1 << 20)
    whole, rest = divmod(zeros, len(block))
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)]
    parts.append((co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)) * whole)
    parts.append(co.compress(bytes(rest)) + co.flush())
    crc = zlib.crc32(prefix)
    for _ in range(whole):
        crc = zlib.crc32(block, crc)
    return b"".join(parts), zlib.crc32(bytes(rest), crc)


def _zip64(path, members):
    """A ZIP64 archive written by hand: members are (name, data, crc, size, method),
    with `size` the uncompressed size the archive declares."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size, method in members:
        offset, raw = len(out), name.encode()
        extra = struct.pack("<HHQQ", 1, 16, size, len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(raw), len(extra)) + raw + extra + data
        extra = struct.pack("<HHQQQ", 1, 24, size, len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0x21, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(raw), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + raw + extra
    cd_offset = len(out)
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(members), len(members), len(central),
                       cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(bytes(out))
    return path


def _stored(name, arr):
    raw = _npy(arr)
    return (name, raw, zlib.crc32(raw), len(raw), zipfile.ZIP_STORED)


def _ten_million_frames(path):
    """10 million SMPL frames (float32 zeros: 2.9 GB of poses) in a ~3 MB deflated .npz."""
    members = []
    for name, width in (("poses.npy", 72), ("trans.npy", 3)):
        header = _npy_header((ROWS_10M, width))
        data, crc = _deflated_zeros(header, ROWS_10M * width * 4)
        members.append((name, data, crc, len(header) + ROWS_10M * width * 4, zipfile.ZIP_DEFLATED))
    members.append(_stored("mocap_framerate.npy", np.array(120.0)))
    return _zip64(path, members)


def _claims_10_12_rows(path):
    """Header and archive both claim (10**12, 72) float64; only a few rows are really there."""
    members = []
    for name, width in (("poses.npy", 72), ("trans.npy", 3)):
        header = _npy_header((10**12, width), "<f8")
        co = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = co.compress(header + bytes(100 * width * 8)) + co.flush(zlib.Z_SYNC_FLUSH)   # never finished
        members.append((name, data, 0, len(header) + 10**12 * width * 8, zipfile.ZIP_DEFLATED))
    members.append(_stored("mocap_framerate.npy", np.array(120.0)))
    return _zip64(path, members)


def _header_lies(path):
    """A plain archive whose poses header claims (10**12, 72) over 10 rows of data."""
    data = _npy_header((10**12, 72), "<f8") + bytes(10 * 72 * 8)
    return _npz(path, {"poses.npy": data, "trans": np.zeros((10, 3)), "mocap_framerate": np.array(120.0)})


def _scene(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(scene_to_json(starter_scene(people=2)))
    return path


def _import(tmp_path, motion, *args):
    scene = _scene(tmp_path)
    before = scene.read_bytes()
    answer = run_cli("scene", "import-motion", str(scene), str(motion), *args)
    if answer.returncode != 0:
        assert scene.read_bytes() == before          # a refused import leaves the scene as it was
    return answer, scene


def _bad(tmp_path, name):
    p = tmp_path / "m.npz"
    g = _good()
    if name == "fifo":
        os.mkfifo(p)
        return p, "named pipe"
    if name == "symlink_to_dev_zero":
        p.symlink_to("/dev/zero")
        return p, "device"
    if name == "folder":
        p.mkdir()
        return p, "is a folder"
    if name == "sparse_1_TiB":
        with open(p, "wb") as f:
            f.truncate(1 << 40)
        return p, "more than"
    if name == "poses_npy_not_an_array":
        return _npz(p, {"poses.npy": b"not an array at all", "trans": g["trans"],
                        "mocap_framerate": g["mocap_framerate"]}), "'poses' is not a numpy array"
    if name == "poses_1e300":
        return _npz(p, {**g, "poses": np.full((10, 72), 1e300)}), "'poses' holds a rotation"
    if name == "poses_nan":
        poses = np.zeros((10, 72))
        poses[4, 10] = np.nan
        return _npz(p, {**g, "poses": poses}), "'poses' contains NaN"
    if name == "trans_1e300":
        return _npz(p, {**g, "trans": np.full((10, 3), -1e300)}), "'trans' holds a position"
    if name == "split_root_1e300":
        return _npz(p, {"root_orient": np.full((10, 3), 1e300), "pose_body": np.zeros((10, 63)),
                        "trans": g["trans"], "mocap_frame_rate": np.array(60.0)}), "'root_orient' holds a rotation"
    if name == "framerate_1e-9":
        return _npz(p, {**g, "mocap_framerate": np.array(1e-9)}), "'mocap_framerate'"
    if name == "framerate_1e9":
        return _npz(p, {**g, "mocap_framerate": np.array(1e9)}), "between 1 and 1000"
    if name == "framerate_array":
        return _npz(p, {**g, "mocap_framerate": np.full(10**5, 120.0)}), "one number"
    if name == "header_claims_10_12_rows":
        return _header_lies(p), "'poses' is damaged"
    if name == "ten_million_frames":
        return _ten_million_frames(p), "100000 keys"
    if name == "pickled_poses":
        return _npz(p, {**g, "poses": np.array([{"a": 1}] * 10, dtype=object)}), "pickled"
    if name == "complex_poses":
        return _npz(p, {**g, "poses": np.zeros((10, 72), np.complex128)}), "not numbers"
    if name == "npy_version_3":
        raw = bytearray(_npy(np.zeros((10, 72))))
        raw[6:8] = b"\x03\x00"
        return _npz(p, {"poses.npy": bytes(raw), "trans": g["trans"], "mocap_framerate": g["mocap_framerate"]}), \
            "version 3.0"
    if name == "thousands_of_members":
        return _npz(p, {**g, **{f"x{i}": np.zeros(1) for i in range(3000)}}), "members"
    if name == "truncated_archive":
        full = _npz(tmp_path / "full.npz", g).read_bytes()
        p.write_bytes(full[: len(full) // 2])
        return p, "not an .npz archive"
    if name == "truncated_bvh":
        p = tmp_path / "walk.bvh"
        p.write_text("HIERARCHY\nROOT Hips\n{\n")
        return p, "truncated"
    if name == "bvh_named_npz":
        p.write_text("HIERARCHY\nROOT Hips\n{\n")
        return p, "is a BVH file"
    raise AssertionError(name)


BAD = ["fifo", "symlink_to_dev_zero", "folder", "sparse_1_TiB", "poses_npy_not_an_array", "poses_1e300",
       "poses_nan", "trans_1e300", "split_root_1e300", "framerate_1e-9", "framerate_1e9", "framerate_array",
       "header_claims_10_12_rows", "ten_million_frames", "pickled_poses",
       "complex_poses", "npy_version_3", "thousands_of_members", "truncated_archive", "truncated_bvh", "bvh_named_npz"]


@pytest.mark.hostile
@pytest.mark.parametrize("name", BAD)
def test_import_motion_refuses(tmp_path, name):
    motion, said = _bad(tmp_path, name)
    answer, _ = _import(tmp_path, motion)
    assert_clear_error(answer, motion.name, said)


@pytest.mark.hostile
def test_max_frames_reads_only_the_rows_it_needs(tmp_path):
    """10 million frames, --max-frames 10: imported within the harness's memory
    bound (the whole poses array alone would be 2.9 GB as float32, 5.8 as float64)."""
    answer, scene_path = _import(tmp_path, _ten_million_frames(tmp_path / "m.npz"), "--max-frames", "10",
                                 "--person", "2")
    assert answer.returncode == 0, answer.stderr
    keys = load_scene(scene_path).people[1].keys
    assert [k.frame for k in keys] == list(range(10))
    # Zero AMASS poses stand upright: Z-up -> Y-up is -90 degrees about X, and the
    # pelvis is SMPL's rest pelvis (0.0014, -0.2237, 0.0283) turned the same way.
    np.testing.assert_allclose(keys[9].global_orient, [-np.pi / 2, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(keys[9].transl, [0.0014, 0.0283, 0.2237], atol=1e-12)
    assert keys[9].body_pose == [0.0] * 69


@pytest.mark.hostile
@pytest.mark.parametrize("args", [[], ["--max-frames", "5"], ["--max-frames", "1000"]],
                         ids=["all", "max_frames_5", "max_frames_1000"])
def test_an_archive_that_claims_10_12_rows(tmp_path, args):
    """Header and archive both claim 10**12 rows over a stream that ends after
    100: refused as damaged, whether or not the rows asked for are there,
    without allocating for the claim."""
    answer, _ = _import(tmp_path, _claims_10_12_rows(tmp_path / "m.npz"), *args)
    assert_clear_error(answer, "m.npz", "damaged")


@pytest.mark.hostile
@pytest.mark.parametrize("where", ["missing_folder", "folder", "unwritable_folder"])
def test_import_motion_out_paths(tmp_path, where):
    motion = _npz(tmp_path / "m.npz", _good())
    if where == "missing_folder":
        out, said = tmp_path / "nope" / "out.json", "no such folder"
    elif where == "folder":
        (tmp_path / "outdir").mkdir()
        out, said = tmp_path / "outdir", "is a folder"
    else:
        from test_hostile_scene import _unwritable_folder
        out, said = os.path.join(_unwritable_folder(tmp_path), "out.json"), "permission denied"
    answer, scene = _import(tmp_path, motion, "--out", str(out))
    assert_clear_error(answer, os.path.basename(out) if where != "missing_folder" else "nope", said)
    assert json.loads(scene.read_text())["people"][0]["keys"][0]["frame"] == 0   # untouched


def test_fortran_order_imports_like_c_order(tmp_path):
    from posebooth.assets.motion import import_motion
    rng = np.random.default_rng(4)
    poses, trans = rng.normal(0, 0.5, (40, 72)), rng.normal(0, 1, (40, 3))
    c = _npz(tmp_path / "c.npz", {"poses": poses, "trans": trans, "mocap_framerate": np.array(60.0)})
    f = _npz(tmp_path / "f.npz", {"poses": np.asfortranarray(poses), "trans": np.asfortranarray(trans),
                                  "mocap_framerate": np.array(60.0)})
    assert b"'fortran_order': True" in f.read_bytes()
    scene = starter_scene()
    assert import_motion(scene, c) == import_motion(scene, f)


def test_only_the_needed_rows_are_decoded(tmp_path, monkeypatch):
    """--max-frames bounds what is decompressed, not only what is kept."""
    from posebooth.assets import npz_arrays
    from posebooth.assets.motion import import_motion
    path = _npz(tmp_path / "m.npz", {**_good(50_000), "mocap_framerate": np.array(120.0)}, zipfile.ZIP_DEFLATED)
    read = []
    real = npz_arrays.NpzArchive._read

    def counting(self, member, nbytes, *args):
        read.append((member.key, nbytes))
        return real(self, member, nbytes, *args)
    monkeypatch.setattr(npz_arrays.NpzArchive, "_read", counting)
    scene = starter_scene()
    scene.timeline.fps = 24.0
    import_motion(scene, path, max_frames=10)
    # 10 frames at 24 fps from 120 fps: source frames 0..45 are sampled, so 47 rows at most.
    assert dict(read)["poses"] == 47 * 72 * 8 and dict(read)["trans"] == 47 * 3 * 8


def test_a_motion_too_long_for_a_scene_file_is_refused(tmp_path, monkeypatch):
    """Keys past what a scene file may hold would be written but never reopen."""
    from posebooth.assets import motion as motion_module
    rng = np.random.default_rng(1)
    n = 400
    path = _npz(tmp_path / "m.npz", {"poses": rng.normal(0, 0.3, (n, 72)), "trans": rng.normal(0, 1, (n, 3)),
                                     "mocap_framerate": np.array(24.0)})
    scene = starter_scene()
    one_key = len(scene_to_json(scene).encode())
    limit = one_key + 200 * 1500          # room for ~200 keys of ~2 KB each, not 400
    monkeypatch.setattr(motion_module, "MAX_SCENE_BYTES", limit)
    with pytest.raises(motion_module.MotionError, match="import fewer frames"):
        motion_module.import_motion(scene, path)
    assert len(motion_module.import_motion(scene, path, max_frames=50).people[0].keys) == 50
