"""A scene frame, posed: every person's mesh, joints and parameters at a frame.

This is where the scene document meets the body backends; the renderer, the
annotations and the viewport all take its output, so they share one mesh.

On the ground (Person.on_ground): each person gets ONE vertical offset so
that its lowest posed vertex over its keyed poses sits exactly at y = 0: a
single key is grounded exactly in every frame (any shape, pose, hands or
face), and a motion is grounded on its lowest key, so a hop still leaves
the ground. The offset is applied here, to the vertices, joints, keypoints
and the pose's transl, so every consumer (renderer, annotations, exports,
viewport) sees the same grounded body.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from posebooth.assets.body import BodyModel
from posebooth.scene.model import BodySpec, Scene
from posebooth.scene.tracks import PoseState, pose_at


@dataclass(frozen=True)
class PosedPerson:
    index: int                 # 0-based position in scene.people (instance id = index + 1)
    pose: PoseState
    shape: np.ndarray          # (S,) body backend's shape parameters
    body: BodyModel
    vertices: np.ndarray       # (V, 3) float32 world
    joints: np.ndarray         # (24, 3) float32 world
    coco17: np.ndarray         # (17, 3) float32 world
    color: tuple[float, float, float]
    hand21: np.ndarray | None = None   # (2, 21, 3) float32 world (left, right), see BodyOutput
    ground_offset: float = 0.0         # metres added to y (and to pose.transl) by on_ground

    @property
    def faces(self) -> np.ndarray:
        return self.body.faces

    @property
    def part_labels(self) -> np.ndarray:
        return self.body.part_labels


def grounded_pose(pose: PoseState, dy: float) -> PoseState:
    """The pose with on_ground's vertical offset added to its transl."""
    return replace(pose, transl=pose.transl + [0.0, dy, 0.0]) if dy else pose


def shape_vector(body: BodyModel, spec: BodySpec) -> np.ndarray:
    """The spec's named shape values in the backend's order; unknown names are
    an error so a typo never silently falls back to the default body."""
    unknown = set(spec.shape) - set(body.shape_names)
    if unknown:
        raise ValueError(f"unknown shape parameter(s) for {body.name}: {sorted(unknown)}; "
                         f"known: {list(body.shape_names)}")
    vec = np.array(body.default_shape, dtype=np.float32, copy=True)
    for i, name in enumerate(body.shape_names):
        if name in spec.shape:
            vec[i] = spec.shape[name]
    return vec


def expression_vector(body: BodyModel, expression: dict) -> np.ndarray:
    """Named expression weights in the body's `expression_names` order (names it lacks are left out)."""
    names = getattr(body, "expression_names", ())
    return np.array([expression.get(n, 0.0) for n in names], dtype=np.float32)


def forward_poses(body: BodyModel, poses: list[PoseState], shapes: np.ndarray):
    """One batched body call for PoseStates: the whole body (hands, face) where the
    backend takes it (it has `expression_names`), the SMPL-24 body elsewhere."""
    go = np.stack([p.global_orient for p in poses]).astype(np.float32)
    bp = np.stack([p.body_pose for p in poses]).astype(np.float32)
    tr = np.stack([p.transl for p in poses]).astype(np.float32)
    if getattr(body, "expression_names", None) is None:
        return body.forward(go, bp, tr, shapes)
    kw = {}
    if any(np.any(p.left_hand_pose) or np.any(p.right_hand_pose) for p in poses):
        kw["left_hand_pose"] = np.stack([p.left_hand_pose for p in poses]).astype(np.float32)
        kw["right_hand_pose"] = np.stack([p.right_hand_pose for p in poses]).astype(np.float32)
    if body.expression_names and any(p.expression for p in poses):
        kw["expression"] = np.stack([expression_vector(body, p.expression) for p in poses])
    return body.forward(go, bp, tr, shapes, **kw)


_lowest_cache: dict = {}   # (body id, shape bytes, key fingerprint) -> lowest vertex y of that key's pose
_lowest_lock = threading.Lock()
_LOWEST_CACHED = 50_000


def _key_fingerprint(key) -> int:
    """What a key's lowest point depends on (not its frame nor its interpolation)."""
    return hash((tuple(key.global_orient), tuple(key.body_pose), tuple(key.transl), tuple(key.left_hand_pose),
                 tuple(key.right_hand_pose), tuple(sorted(key.expression.items()))))


def lowest_over_keys(body: BodyModel, person, shape: np.ndarray) -> float:
    """The lowest vertex height (y) of a person over its keyed poses. Each key's
    is cached by content, so editing one key of a long motion poses that key only."""
    base = (id(body), np.asarray(shape, np.float32).tobytes())
    ids = [base + (_key_fingerprint(k),) for k in person.keys]
    with _lowest_lock:
        known = {i: _lowest_cache[i] for i in ids if i in _lowest_cache}
    todo = list({i: k for i, k in zip(ids, person.keys) if i not in known}.items())
    for lo in range(0, len(todo), 64):
        chunk = todo[lo:lo + 64]
        res = forward_poses(body, [PoseState.from_key(k) for _, k in chunk],
                            np.repeat(np.asarray(shape, np.float32)[None], len(chunk), 0))
        lows = res.vertices[..., 1].min(1)
        with _lowest_lock:
            for (i, _), low in zip(chunk, lows):
                if len(_lowest_cache) >= _LOWEST_CACHED:
                    _lowest_cache.pop(next(iter(_lowest_cache)))
                _lowest_cache[i] = known[i] = float(low)
    return min(known[i] for i in ids)


def pose_people(scene: Scene, frame: float, body_for=None) -> list[PosedPerson]:
    """Pose every person of `scene` at `frame` (one batched call per body model)."""
    return pose_people_frames(scene, [frame], body_for)[0]


def pose_people_frames(scene: Scene, frames, body_for=None) -> list[list[PosedPerson]]:
    """Pose every person at each of `frames`: one batched body call per body
    model for all frames together (a batch of 64 costs ~8x less per pose than
    64 single calls), so exports pose a chunk of frames at once."""
    if body_for is None:
        from posebooth.assets.registry import get_body
        body_for = get_body
    frames = list(frames)
    groups: dict[int, list[int]] = {}
    bodies: dict[int, BodyModel] = {}
    for i, person in enumerate(scene.people):
        body = body_for(person.body)
        bodies[id(body)] = body
        groups.setdefault(id(body), []).append(i)
    out: list[list[PosedPerson | None]] = [[None] * len(scene.people) for _ in frames]
    for key, indices in groups.items():
        body = bodies[key]
        shapes = {i: shape_vector(body, scene.people[i].body) for i in indices}
        jobs = [(f, i, pose_at(scene.people[i], frame)) for f, frame in enumerate(frames) for i in indices]
        if not jobs:
            continue
        res = forward_poses(body, [p for _, _, p in jobs], np.stack([shapes[i] for _, i, _ in jobs]))
        # A single key is the pose of every frame: grounded on this very call's mesh.
        lowest = {i: lowest_over_keys(body, scene.people[i], shapes[i]) for i in indices
                  if scene.people[i].on_ground and len(scene.people[i].keys) > 1}
        for b, (f, i, pose) in enumerate(jobs):
            dy = 0.0
            if scene.people[i].on_ground:
                dy = -float(lowest[i] if i in lowest else res.vertices[b, :, 1].min())
            hands = None if res.hand21 is None else res.hand21[b]
            if dy:
                res.vertices[b, :, 1] += dy
                res.joints[b, :, 1] += dy
                res.coco17[b, :, 1] += dy
                if hands is not None:
                    hands[..., 1] += dy
                pose = grounded_pose(pose, dy)
            out[f][i] = PosedPerson(index=i, pose=pose, shape=shapes[i], body=body,
                                    vertices=res.vertices[b], joints=res.joints[b], coco17=res.coco17[b],
                                    color=tuple(scene.people[i].color), hand21=hands, ground_offset=dy)
    return out  # type: ignore[return-value]
