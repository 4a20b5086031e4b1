"""Whole-body keypoints of one frame (COCO-WholeBody 133, assets.wholebody):
projection and visibility by the rule of frame.annotations (FORMAT.md
"Visibility tolerance"), with two additions for the points it did not cover:

- points on the skin (feet, face landmarks, fingertips) have no own-skin
  thickness: t = 0, as for COCO's nose, eyes and ears;
- a finger joint (inside the finger) measures t on its own finger only: the
  vertices of the two finger bones meeting at it (assets.wholebody.
  finger_segments), so a neighbouring finger in front of it hides it.
The body's 17 points are COCO-17 itself (same numbers as `coco17`), and
each hand's wrist is the body's wrist (its row copied).
"""
from __future__ import annotations

import numpy as np

from posebooth.assets.wholebody import (BODY, FINGER_JOINTS, HAND_WRIST_FROM_BODY, NUM_WHOLEBODY, SURFACE,
                                        finger_segments, wholebody_points)
from posebooth.frame.annotations import MAX_SELF_DEPTH, RAY_RADIUS, SKIN_POINT, point_visibility
from posebooth.scene.camera import Camera

_FINGER_SLOT = {int(p): k for k, p in enumerate(FINGER_JOINTS)}
_OWN_ROWS = np.ones(NUM_WHOLEBODY, bool)   # points projected here (not copies of the body's)
_OWN_ROWS[BODY] = False
_OWN_ROWS[list(HAND_WRIST_FROM_BODY)] = False


def _segment_thickness(point_cam: np.ndarray, verts_cam: np.ndarray) -> float:
    """frame.annotations' own-skin thickness of one point over given vertices."""
    z = point_cam[2]
    dz = z - verts_cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        du = point_cam[0] / z - verts_cam[:, 0] / verts_cam[:, 2]
        dv = point_cam[1] / z - verts_cam[:, 1] / verts_cam[:, 2]
        on = (dz > 0) & (dz < MAX_SELF_DEPTH) & (verts_cam[:, 2] > 0) & (du * du + dv * dv < (RAY_RADIUS / z) ** 2)
    return float(dz[on].max()) if on.any() else 0.0


def wholebody_rows(person, camera: Camera, depth: np.ndarray, instance: np.ndarray, vertices_cam: np.ndarray,
                   coco17: np.ndarray, coco17_cam: np.ndarray, coco17_by_other: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's (133, 3) x, y, v, (133, 3) camera-frame points and (133,)
    hidden-by-another-person flags. coco17*: the frame's COCO-17 rows for
    this person (reused for the body points)."""
    world, has = wholebody_points(person)
    kp = np.zeros((NUM_WHOLEBODY, 3))
    cam = np.zeros((NUM_WHOLEBODY, 3))
    other = np.zeros(NUM_WHOLEBODY, bool)
    kp[BODY], cam[BODY], other[BODY] = coco17, coco17_cam, coco17_by_other
    ids = np.flatnonzero(has & _OWN_ROWS)
    for hand, body in HAND_WRIST_FROM_BODY.items():
        if has[hand]:
            kp[hand], cam[hand], other[hand] = kp[body], cam[body], other[body]
    if not len(ids):
        return kp, cam, other
    segments = finger_segments(person.body)
    labels = person.part_labels

    def thickness(local, pts_cam):
        t = np.zeros(len(local))
        for n, (i, p) in enumerate(zip(ids[local], pts_cam)):
            if not SURFACE[i] and segments is not None and i in _FINGER_SLOT:
                t[n] = _segment_thickness(p, vertices_cam[segments[_FINGER_SLOT[i]]])
        return t

    owners = np.full(len(ids), SKIN_POINT)
    c, xy, vis, by_other = point_visibility(world[ids], owners, person.index + 1, vertices_cam, labels,
                                            camera, depth, instance, thickness=thickness)
    kp[ids, :2] = np.where(c[:, 2:3] > 0, xy, 0.0)
    kp[ids, 2] = vis
    cam[ids], other[ids] = c, by_other
    return kp, cam, other
