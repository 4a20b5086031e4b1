"""A scene frame, posed: every person's mesh, joints and parameters at a frame.

This is where the scene document meets the body backends; the renderer, the
annotations and the viewport all take its output, so they share one mesh.
"""
from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def faces(self) -> np.ndarray:
        return self.body.faces

    @property
    def part_labels(self) -> np.ndarray:
        return self.body.part_labels


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
        res = body.forward(np.stack([p.global_orient for _, _, p in jobs]).astype(np.float32),
                           np.stack([p.body_pose for _, _, p in jobs]).astype(np.float32),
                           np.stack([p.transl for _, _, p in jobs]).astype(np.float32),
                           np.stack([shapes[i] for _, i, _ in jobs]))
        for b, (f, i, pose) in enumerate(jobs):
            out[f][i] = PosedPerson(index=i, pose=pose, shape=shapes[i], body=body,
                                    vertices=res.vertices[b], joints=res.joints[b], coco17=res.coco17[b],
                                    color=tuple(scene.people[i].color))
    return out  # type: ignore[return-value]
