"""The scene's bodies as one binary glTF 2.0 file (`posebooth scene export-mesh`):
per person a skinned mesh (anny's mesh in its bind pose, the person's shape),
anny's skeleton (one node per bone) with inverse bind matrices, every vertex's
bone influences, and one animation with a rotation (and, where a bone moves,
translation) key per bone and timeline frame.

The maths is anny's own linear blend skinning: a vertex v of the bind mesh
lands at sum_k w_k · W_jk · IBM_jk · v, where W_j is bone j's world matrix
at a frame (from the node TRS along the hierarchy) and IBM_j the inverse of
its bind-pose world matrix; with anny's bone poses this is exactly the mesh
PoseBooth renders. anny gives some vertices up to 9 influences, so they
fill as many JOINTS_n / WEIGHTS_n sets of four as needed (Blender reads
them all; keeping only four moved vertices by up to 14 mm).

glTF is Y up, metres, like PoseBooth's world; anny works Z up, so the bind
pose is turned into Y up here. Poses are those PoseBooth renders (grounded,
with the fingers); facial expressions (blend shapes) are not exported.
Only anny bodies are exported (their skeleton and weights are the
package's own data).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.assets.motion import Z_UP_TO_Y_UP
from posebooth.assets.posing import shape_vector
from posebooth.export.motion_bvh import person_poses

FLOAT, USHORT, UINT = 5126, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
_A = np.eye(4)
_A[:3, :3] = Z_UP_TO_Y_UP          # anny's Z-up axes -> glTF's (and PoseBooth's) Y up
_MOVES = 1e-6                      # m: a bone whose local translation changes more than this gets a channel


class GltfExportError(ValueError):
    """The scene cannot be exported as glTF; the message says why."""


@dataclass
class SkinnedPerson:
    name: str
    color: tuple[float, float, float]
    vertices: np.ndarray        # (V, 3) bind pose, Y up, metres
    faces: np.ndarray           # (F, 3)
    joints: np.ndarray          # (V, K) bone index per influence, K a multiple of 4
    weights: np.ndarray         # (V, K), rows sum to 1
    bone_names: list[str]
    parents: list[int]          # -1 for the root
    bind_world: np.ndarray      # (J, 4, 4) bind-pose world matrices
    frame_world: np.ndarray     # (N, J, 4, 4) world matrices at each exported frame


def skinned_person(scene, index: int, body, frames, body_for=None) -> SkinnedPerson:
    """Person `index` of `scene` posed by `body` (an assets.anny_body.AnnyBody) at
    `frames`; body_for: the scene's body lookup (default: `body` for everyone)."""
    import torch

    person = scene.people[index]
    model = getattr(body, "model", None)
    if getattr(body, "name", None) != "anny" or model is None:
        raise GltfExportError(f"person {index + 1} ({person.name!r}) uses the {getattr(body, 'name', '?')} "
                              f"body; only anny bodies can be exported as a skinned mesh")
    shape = shape_vector(body, person.body)
    poses = person_poses(scene, index, frames, body_for or (lambda spec: body))
    go = np.stack([p.global_orient for p in poses])
    bp = np.stack([p.body_pose for p in poses])
    tr = np.stack([p.transl for p in poses])
    hands = {}
    if getattr(body, "expression_names", None) is not None:   # a whole-body anny: the fingers too
        hands = {f"{side}_hand_pose": np.stack([getattr(p, f"{side}_hand_pose") for p in poses])
                 for side in ("left", "right")}
    with torch.inference_mode():
        rest, _ = body._rest(torch.from_numpy(shape)[None])
        delta = torch.from_numpy(body.pose_parameters(go, bp, tr, shape, **hands))
        _, world = model.get_bone_transforms(delta, rest["rest_bone_poses"])
        rest_vertices = rest["rest_vertices"][0].double().numpy()
        rest_poses = rest["rest_bone_poses"][0].double().numpy()
        idx = model.vertex_bone_indices.numpy()
        w = model.vertex_bone_weights.double().numpy()
    order = np.argsort(-w, axis=1, kind="stable")
    w, idx = np.take_along_axis(w, order, 1), np.take_along_axis(idx, order, 1)
    used = int((w > 0).sum(1).max())
    k = -(-used // 4) * 4
    w, idx = np.pad(w[:, :used], ((0, 0), (0, k - used))), np.pad(idx[:, :used], ((0, 0), (0, k - used)))
    idx = np.where(w > 0, idx, 0)
    w = w / w.sum(1, keepdims=True)
    return SkinnedPerson(
        name=person.name, color=tuple(person.color),
        vertices=rest_vertices @ Z_UP_TO_Y_UP.T, faces=np.asarray(body.faces),
        joints=idx.astype(np.uint16), weights=w.astype(np.float32),
        bone_names=list(model.bone_labels), parents=[int(p) for p in model.bone_parents],
        bind_world=_A @ rest_poses, frame_world=world.double().numpy())


def _local(world: np.ndarray, parents: list[int]) -> np.ndarray:
    """Parent-relative matrices (..., J, 4, 4) of world matrices."""
    out = world.copy()
    for j, p in enumerate(parents):
        if p >= 0:
            out[..., j, :, :] = np.linalg.inv(world[..., p, :, :]) @ world[..., j, :, :]
    return out


def _quats(matrices: np.ndarray) -> np.ndarray:
    """(..., 4, 4) -> (..., 4) quaternions x, y, z, w, each the sign nearest the one before it."""
    shape = matrices.shape[:-2]
    q = Rotation.from_matrix(matrices[..., :3, :3].reshape(-1, 3, 3)).as_quat().reshape(*shape, 4)
    if q.ndim == 3:     # frames first: keep neighbours in one hemisphere, so players interpolate the short way
        for f in range(1, q.shape[0]):
            flip = (q[f] * q[f - 1]).sum(-1) < 0
            q[f, flip] *= -1
    return q


class _Blob:
    """The binary chunk, its buffer views and accessors."""

    def __init__(self, gltf):
        self.gltf, self.data = gltf, bytearray()

    def add(self, array: np.ndarray, component: int, kind: str, target: int | None = None,
            minmax: bool = False) -> int:
        from pygltflib import Accessor, BufferView

        array = np.ascontiguousarray(array)
        self.data += b"\0" * (-len(self.data) % 4)
        view = BufferView(buffer=0, byteOffset=len(self.data), byteLength=array.nbytes, target=target)
        self.data += array.tobytes()
        self.gltf.bufferViews.append(view)
        flat = array.reshape(array.shape[0], -1)
        acc = Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=component, count=len(array),
                       type=kind, min=flat.min(0).tolist() if minmax else None,
                       max=flat.max(0).tolist() if minmax else None)
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1


def people_glb(people: list[SkinnedPerson], frames, fps: float) -> bytes:
    """Binary glTF of skinned people whose frame_world rows are `frames`."""
    import trimesh
    from pygltflib import (GLTF2, Animation, AnimationChannel, AnimationChannelTarget, AnimationSampler, Asset,
                           Attributes, Buffer, Material, Mesh, Node, PbrMetallicRoughness, Primitive, Scene, Skin)

    gltf = GLTF2(asset=Asset(generator="PoseBooth", version="2.0"), scenes=[Scene(nodes=[])], scene=0)
    blob = _Blob(gltf)
    frames = np.asarray(list(frames), dtype=np.float64)
    times = blob.add(((frames - frames[0]) / fps).astype(np.float32), FLOAT, "SCALAR", minmax=True)
    animation = Animation(name="PoseBooth", channels=[], samplers=[])
    for n, person in enumerate(people):
        first = len(gltf.nodes)
        rest_local = _local(person.bind_world, person.parents)
        rest_q = _quats(rest_local)
        for j, name in enumerate(person.bone_names):
            kids = [first + c for c, p in enumerate(person.parents) if p == j]
            gltf.nodes.append(Node(name=name, children=kids or None,
                                   translation=rest_local[j, :3, 3].tolist(), rotation=rest_q[j].tolist()))
        roots = [first + j for j, p in enumerate(person.parents) if p < 0]
        ibm = np.linalg.inv(person.bind_world).transpose(0, 2, 1).astype(np.float32)   # column-major
        gltf.skins.append(Skin(name=person.name, joints=list(range(first, len(gltf.nodes))), skeleton=roots[0],
                               inverseBindMatrices=blob.add(ibm, FLOAT, "MAT4")))
        verts = person.vertices.astype(np.float32)
        normals = trimesh.Trimesh(person.vertices, person.faces, process=False).vertex_normals.astype(np.float32)
        attrs = {"POSITION": blob.add(verts, FLOAT, "VEC3", ARRAY_BUFFER, minmax=True),
                 "NORMAL": blob.add(normals, FLOAT, "VEC3", ARRAY_BUFFER)}
        for s in range(person.joints.shape[1] // 4):
            attrs[f"JOINTS_{s}"] = blob.add(person.joints[:, 4 * s:4 * s + 4], USHORT, "VEC4", ARRAY_BUFFER)
            attrs[f"WEIGHTS_{s}"] = blob.add(person.weights[:, 4 * s:4 * s + 4], FLOAT, "VEC4", ARRAY_BUFFER)
        indices = blob.add(person.faces.astype(np.uint32).reshape(-1), UINT, "SCALAR", ELEMENT_ARRAY_BUFFER)
        gltf.materials.append(Material(name=person.name, pbrMetallicRoughness=PbrMetallicRoughness(
            baseColorFactor=[*map(float, person.color), 1.0], metallicFactor=0.0, roughnessFactor=0.8)))
        gltf.meshes.append(Mesh(name=person.name, primitives=[Primitive(
            attributes=Attributes(**attrs), indices=indices, material=len(gltf.materials) - 1)]))
        gltf.nodes.append(Node(name=person.name or f"Person {n + 1}", mesh=len(gltf.meshes) - 1,
                               skin=len(gltf.skins) - 1))
        gltf.scenes[0].nodes += roots + [len(gltf.nodes) - 1]

        local = _local(person.frame_world, person.parents)                  # (N, J, 4, 4)
        quats = _quats(local)
        for j in range(len(person.bone_names)):
            outputs = [("rotation", quats[:, j].astype(np.float32), "VEC4")]
            if np.abs(local[:, j, :3, 3] - rest_local[j, :3, 3]).max() > _MOVES:
                outputs.append(("translation", local[:, j, :3, 3].astype(np.float32), "VEC3"))
            for path, values, kind in outputs:
                animation.samplers.append(AnimationSampler(input=times, output=blob.add(values, FLOAT, kind),
                                                           interpolation="LINEAR"))
                animation.channels.append(AnimationChannel(sampler=len(animation.samplers) - 1,
                                                           target=AnimationChannelTarget(node=first + j, path=path)))
    gltf.animations.append(animation)
    gltf.buffers.append(Buffer(byteLength=len(blob.data)))
    gltf.set_binary_blob(bytes(blob.data))
    return b"".join(gltf.save_to_bytes())


def scene_glb(scene, body_for=None) -> bytes:
    """Every person of `scene` over its timeline, as .glb bytes."""
    if body_for is None:
        from posebooth.assets.registry import get_body
        body_for = get_body
    frames = list(scene.timeline.frames)
    people = [skinned_person(scene, i, body_for(p.body), frames, body_for) for i, p in enumerate(scene.people)]
    return people_glb(people, frames, scene.timeline.fps)
