"""The one body-model interface every backend (anny, SMPL family) implements.

A backend is driven by SMPL-24 poses (DESIGN.md): global_orient (B, 3) and
body_pose (B, 23, 3) axis-angle in SMPL's joint order and rest frames, transl
(B, 3), all in PoseBooth's world (Y up, metres, rest body facing +Z).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


class BodyModelError(RuntimeError):
    """A body model cannot be built or used; the message says what to do."""


@dataclass(frozen=True)
class BodyOutput:
    vertices: np.ndarray   # (B, V, 3) float32, world, metres
    joints: np.ndarray     # (B, 24, 3) float32, SMPL-24 joint positions, world
    coco17: np.ndarray     # (B, 17, 3) float32, COCO-17 keypoints, world
    # (B, 2, 21, 3) float32, left then right hand in HAND21_NAMES order (OpenPose /
    # COCO-WholeBody: wrist, then thumb, index, middle, ring, pinky, each 3 joints
    # and the fingertip on the skin), world; None where a backend has no fingers.
    hand21: np.ndarray | None = None

    @property
    def batch_size(self) -> int:
        return self.vertices.shape[0]


@runtime_checkable
class BodyModel(Protocol):
    name: str                 # "anny", "smpl", "smplh", "smplx"
    version: str              # e.g. "anny 0.6.2" or "smplx SMPL_NEUTRAL"
    faces: np.ndarray         # (F, 3) int32 triangles, counter-clockwise seen from outside
    part_labels: np.ndarray   # (V,) uint8, SMPL part (joint index 0..23) of each vertex
    shape_names: tuple[str, ...]        # names of the shape parameters
    default_shape: np.ndarray           # (S,) float32

    def forward(self, global_orient: np.ndarray, body_pose: np.ndarray,
                transl: np.ndarray, shape: np.ndarray | None = None) -> BodyOutput:
        """Pose a batch. shape: (B, S) or (S,) in `shape_names` order; None = default.

        A whole-body backend also has `expression_names` (its facial expression
        weights, maybe none) and takes the keywords left_hand_pose /
        right_hand_pose ((B, 15, 3) MANO-15, None = flat) and expression
        ((B, E) in `expression_names` order, None = neutral)."""
        ...
