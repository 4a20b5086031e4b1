"""`posebooth scene export-motion` (BVH) and `export-mesh` (skinned glTF),
checked by independent readers: the `bvh` package and a forward kinematics
written here (tests/reference_chain.py) for the BVH; the GLB container,
accessors and linear blend skinning decoded here with numpy, and trimesh's
loader, for the glTF."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from posebooth.assets.starter import starter_scene
from posebooth.cli.main import main
from posebooth.scene.io import save_scene
from reference_chain import SMPL_PARENTS, forward_kinematics, rodrigues

FRAMES = 12
SMPL_BVH_NAMES = ["Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle",
                  "Spine3", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder",
                  "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand"]


def _animated_scene():
    """Walking on the ground at frame 0, then a half turn, a raised arm, a
    bent spine and a step forward; the middle keys ease in and out."""
    scene = starter_scene(people=1, frames=FRAMES, preset="walking")
    first = scene.people[0].keys[0]
    bp = np.array(first.body_pose).reshape(23, 3)
    bp[16] = [0.3, -0.4, 1.45]      # right shoulder, far from rest
    bp[2] = [1.1, 0.2, 0.0]         # spine1 bent forward
    bp[17] = [0.0, 1.5707, 0.0]     # left elbow: a right angle about Y, where ZXY Euler angles wrap
    mid = first.model_copy(update={"frame": 6, "body_pose": bp.ravel().tolist(), "interp": "smooth",
                                   "global_orient": [0.0, 3.0, 0.0]})
    last = first.model_copy(update={"frame": FRAMES - 1, "global_orient": [0.2, -2.9, 0.1],
                                    "transl": [first.transl[0] + 0.4, first.transl[1] + 0.05, 0.3]})
    scene.people[0].keys = [first, mid, last]
    return scene


def _scene_poses(scene):
    """The person's poses as PoseBooth renders them (posing lifts a person
    onto the ground), with the test body."""
    from fake_body import fake_body_for
    from posebooth.assets.posing import pose_people_frames

    poses = [people[0].pose for people in pose_people_frames(scene, scene.timeline.frames, fake_body_for)]
    return (np.stack([p.global_orient for p in poses]), np.stack([p.body_pose for p in poses]),
            np.stack([p.transl for p in poses]))


@pytest.fixture(scope="module")
def exported_bvh(tmp_path_factory):
    from fake_body import fake_body
    from posebooth.assets import registry

    d = tmp_path_factory.mktemp("bvh")
    scene = _animated_scene()
    save_scene(scene, d / "scene.json")
    body = fake_body()
    with pytest.MonkeyPatch.context() as mp:     # the test body grounds the person, as anny would
        mp.setattr(registry, "get_body", lambda spec, model_dir=None: body)
        assert main(["scene", "export-motion", str(d / "scene.json"), str(d / "walk.bvh")]) == 0
    return scene, d / "walk.bvh"


def _axis(axis: str, degrees: float) -> np.ndarray:
    return rodrigues(np.eye(3)["XYZ".index(axis)] * np.radians(degrees))


def test_bvh_parses_with_an_independent_reader_and_holds_the_scene_motion(exported_bvh):
    from bvh import Bvh

    scene, path = exported_bvh
    mocap = Bvh(path.read_text())
    names = mocap.get_joints_names()               # depth-first file order
    assert sorted(names) == sorted(SMPL_BVH_NAMES)
    smpl = [SMPL_BVH_NAMES.index(n) for n in names]   # file joint -> SMPL joint
    assert mocap.nframes == FRAMES
    assert mocap.frame_time == pytest.approx(1.0 / scene.timeline.fps, rel=1e-7)
    parents = [SMPL_BVH_NAMES.index(mocap.joint_parent(n).name) if mocap.joint_parent(n) else -1 for n in names]
    assert [SMPL_PARENTS[j] for j in smpl] == parents
    offsets = np.zeros((24, 3))
    offsets[smpl] = np.array([mocap.joint_offset(n) for n in names]) / 100.0      # centimetres -> metres
    rest = np.zeros((24, 3))
    for j, p in enumerate(SMPL_PARENTS):
        rest[j] = offsets[j] + (rest[p] if p >= 0 else 0.0)
    assert rest[15, 1] - rest[0, 1] > 0.5 and rest[7, 1] < -0.8         # Y up: head above, ankles below
    go, bp, transl = _scene_poses(scene)
    want, _ = forward_kinematics(go, bp, transl, rest_joints=rest)
    for f in range(FRAMES):
        world, pos = [None] * 24, np.zeros((24, 3))
        for name, j in zip(names, smpl):               # parents come first in a BVH
            channels = mocap.joint_channels(name)
            values = mocap.frame_joint_channels(f, name, channels)
            local = np.eye(3)
            for ch, v in zip(channels, values):
                if ch.endswith("rotation"):
                    local = local @ _axis(ch[0], v)      # BVH: channels compose in the listed order
            p = SMPL_PARENTS[j]
            if p < 0:
                world[j] = local
                pos[j] = [values[channels.index(f"{a}position")] / 100.0 for a in "XYZ"]
            else:
                world[j] = world[p] @ local
                pos[j] = pos[p] + world[p] @ offsets[j]
        np.testing.assert_allclose(pos, want[f], atol=1e-4, err_msg=f"frame {f}")


def test_bvh_round_trip_through_posebooth_import_within_a_centimetre(exported_bvh):
    from posebooth.assets.motion import import_motion

    scene, path = exported_bvh
    blank = scene.model_copy(deep=True)
    blank.people[0].keys = blank.people[0].keys[:1]
    back = import_motion(blank, path)
    assert len(back.people[0].keys) == FRAMES
    a, _ = forward_kinematics(*_scene_poses(scene))
    b, _ = forward_kinematics(*_scene_poses(back))
    err = np.linalg.norm(a - b, axis=-1)
    assert err.max() < 0.01, f"largest joint error {err.max() * 1000:.2f} mm"


@pytest.mark.hostile
def test_export_motion_bad_person_is_one_line(exported_bvh, tmp_path, capsys):
    scene, _ = exported_bvh
    save_scene(scene, tmp_path / "s.json")
    assert main(["scene", "export-motion", str(tmp_path / "s.json"), str(tmp_path / "x.bvh"), "--person", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--person 3" in err and "1..1" in err
    assert not (tmp_path / "x.bvh").exists()


# ---- glTF ---------------------------------------------------------------------------------------

_COMPONENTS = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
_WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def _read_glb(data: bytes):
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    json_len, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON"
    doc = json.loads(data[20:20 + json_len])
    bin_len, bin_type = struct.unpack_from("<I4s", data, 20 + json_len)
    assert bin_type == b"BIN\0"
    return doc, data[28 + json_len: 28 + json_len + bin_len]


def _accessor(doc, blob, i) -> np.ndarray:
    acc = doc["accessors"][i]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype, width = _COMPONENTS[acc["componentType"]], _WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    out = np.frombuffer(blob, dtype, acc["count"] * width, start)
    return out.reshape(acc["count"], width) if width > 1 else out


def _trs(t, q) -> np.ndarray:
    x, y, z, w = q / np.linalg.norm(q)
    m = np.eye(4)
    m[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    m[:3, 3] = t
    return m


@pytest.fixture(scope="module")
def exported_glb(tmp_path_factory):
    d = tmp_path_factory.mktemp("glb")
    scene = _animated_scene()
    save_scene(scene, d / "scene.json")
    assert main(["scene", "export-mesh", str(d / "scene.json"), str(d / "walk.glb")]) == 0
    return scene, d / "walk.glb"


def test_glb_loads_in_trimesh_with_the_body_mesh(exported_glb):
    import trimesh

    from posebooth.assets.registry import get_body

    scene, path = exported_glb
    loaded = trimesh.load(path, force="scene")
    (mesh,) = loaded.geometry.values()
    body = get_body(scene.people[0].body)
    assert len(mesh.faces) == len(body.faces) and len(mesh.vertices) == body.part_labels.shape[0]


@pytest.mark.parametrize("frame", [0, 6, FRAMES - 1])
def test_glb_skinning_from_its_own_data_matches_the_rendered_body(exported_glb, frame):
    from posebooth.assets.posing import pose_people
    from posebooth.assets.registry import get_body

    scene, path = exported_glb
    doc, blob = _read_glb(path.read_bytes())
    (skin,) = doc["skins"]
    (anim,) = doc["animations"]
    mesh_node = next(n for n in doc["nodes"] if "skin" in n)
    prim = doc["meshes"][mesh_node["mesh"]]["primitives"][0]
    nodes = doc["nodes"]
    # The node TRS at this frame: the animation's key at its time, else the node's own.
    t = frame / scene.timeline.fps
    trs = {i: [np.array(n.get("translation", [0, 0, 0]), float), np.array(n.get("rotation", [0, 0, 0, 1]), float)]
           for i, n in enumerate(nodes)}
    paths = set()
    for ch in anim["channels"]:
        sampler = anim["samplers"][ch["sampler"]]
        times = _accessor(doc, blob, sampler["input"])
        k = int(np.argmin(np.abs(times - t)))
        assert abs(times[k] - t) < 1e-6
        value = _accessor(doc, blob, sampler["output"])[k].astype(float)
        trs[ch["target"]["node"]][0 if ch["target"]["path"] == "translation" else 1] = value
        paths.add(ch["target"]["path"])
    assert paths == {"rotation", "translation"}
    world: dict[int, np.ndarray] = {}

    def visit(i, parent):
        world[i] = parent @ _trs(*trs[i])
        for c in nodes[i].get("children", []):
            visit(c, world[i])
    for root in doc["scenes"][doc.get("scene", 0)]["nodes"]:
        visit(root, np.eye(4))
    ibm = _accessor(doc, blob, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    skinning = np.stack([world[j] @ ibm[n] for n, j in enumerate(skin["joints"])])
    pos = _accessor(doc, blob, prim["attributes"]["POSITION"]).astype(float)
    homo = np.concatenate([pos, np.ones((len(pos), 1))], 1)
    out = np.zeros_like(pos)
    sets = [k for k in prim["attributes"] if k.startswith("JOINTS_")]
    assert len(sets) >= 2              # anny has vertices with more than four bones
    for s in range(len(sets)):
        joints = _accessor(doc, blob, prim["attributes"][f"JOINTS_{s}"]).astype(int)
        weights = _accessor(doc, blob, prim["attributes"][f"WEIGHTS_{s}"]).astype(float)
        for c in range(4):
            out += weights[:, c:c + 1] * np.einsum("vij,vj->vi", skinning[joints[:, c]], homo)[:, :3]
    (posed,) = pose_people(scene, frame, get_body)
    err = np.linalg.norm(out - posed.vertices, axis=1)
    assert err.max() < 0.001, f"frame {frame}: largest vertex error {err.max() * 1000:.3f} mm"
    faces = _accessor(doc, blob, prim["indices"]).reshape(-1, 3)
    np.testing.assert_array_equal(faces, posed.faces)


@pytest.mark.hostile
def test_export_mesh_into_a_folder_is_one_line_before_any_body_is_built(exported_bvh, tmp_path, capsys,
                                                                       monkeypatch):
    from posebooth.assets import registry

    scene, _ = exported_bvh
    save_scene(scene, tmp_path / "s.json")
    monkeypatch.setattr(registry, "get_body", lambda *a, **k: pytest.fail("a body was built"))
    assert main(["scene", "export-mesh", str(tmp_path / "s.json"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(tmp_path) in err and "is a folder" in err
