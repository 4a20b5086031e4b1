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
    if body_for is None:
        from posebooth.assets.registry import get_body
        body_for = get_body
    groups: dict[int, list[int]] = {}
    bodies: dict[int, BodyModel] = {}
    for i, person in enumerate(scene.people):
        body = body_for(person.body)
        bodies[id(body)] = body
        groups.setdefault(id(body), []).append(i)
    out: list[PosedPerson | None] = [None] * len(scene.people)
    for key, indices in groups.items():
        body = bodies[key]
        poses = [pose_at(scene.people[i], frame) for i in indices]
        shapes = np.stack([shape_vector(body, scene.people[i].body) for i in indices])
        res = body.forward(np.stack([p.global_orient for p in poses]).astype(np.float32),
                           np.stack([p.body_pose for p in poses]).astype(np.float32),
                           np.stack([p.transl for p in poses]).astype(np.float32), shapes)
        for b, i in enumerate(indices):
            out[i] = PosedPerson(index=i, pose=poses[b], shape=shapes[b], body=body,
                                 vertices=res.vertices[b], joints=res.joints[b], coco17=res.coco17[b],
                                 color=tuple(scene.people[i].color))
    return out  # type: ignore[return-value]
