"""Per-frame ground truth: joints in world, camera and image, visibility,
COCO-17 keypoints and visible-mask boxes (FORMAT.md, annotations.npz).

Projection goes through `Camera` only (DESIGN.md: one camera model).

Visibility rule (also in docs/FORMAT.md, "Visibility tolerance")
-----------------------------------------------------------------
For a point P (an SMPL joint or a COCO keypoint) of person k, with camera
depth z_P projecting to (x, y):

* v = 0 when P is behind the camera (z_P <= 0) or (x, y) lies outside
  [0, W) x [0, H).
* Otherwise look at the rendered pixel (row floor(y), column floor(x)):
  depth d and instance id i (0 = background).
  - i == 0 (nothing rendered in front of P through that pixel): v = 2;
  - i == k: v = 2 when d >= z_P - (t_P + MARGIN), else 1;
  - i == another person: v = 2 only when d >= z_P (that person lies behind
    P: the pixel centre just missed P's own thin limb), else 1.
* t_P is P's own-skin thickness along the line of sight: SMPL joints lie
  inside the body, so the person's own surface is always some centimetres
  in front of them. t_P = the largest z_P - z_v over the posed vertices v of
  P's own body segments (the part of P's joint and its parent part) that
  lie nearer the camera than P by less than MAX_SELF_DEPTH and within
  RAY_RADIUS of P's line of sight, measured at P's depth (|x_v/z_v - x_P/z_P|
  in normalised image coordinates < RAY_RADIUS / z_P). It is computed per
  frame from the posed mesh, so it follows pose, shape and viewing
  direction. COCO's nose, eyes and ears are points on the skin, not inside
  the body: their t_P is 0. MARGIN absorbs the flat triangles between
  vertices and the half-pixel offset of the pixel centre.

So a hand behind the back seen from the front (its pixel shows the torso,
~0.15 m in front of the hand while the hand's own skin is ~0.03 m) is 1; the
far elbow in a side view (the chest and the near arm are in front) is 1.
Known limit: looking straight down a limb onto its own joint (e.g. down the
thigh onto the knee from above) counts that segment's skin within
MAX_SELF_DEPTH as the joint's own skin, so the joint stays 2.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from posebooth.assets.face_presets import FACIAL_ACTIONS
from posebooth.assets.smpl_skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS
from posebooth.scene.camera import Camera

RAY_RADIUS = 0.03      # m: lateral reach around the line of sight when measuring own skin
MAX_SELF_DEPTH = 0.25  # m: own-segment skin farther in front than this is an occluder, not skin
MARGIN = 0.02          # m: added to the measured own-skin thickness
NUM_BETAS = 10         # betas columns when no person uses an SMPL-family body

# Body segment (SMPL part) each COCO-17 keypoint belongs to; -1: a point on the
# skin (nose, eyes, ears are mesh points on every backend), whose own-skin
# thickness is 0.
SKIN_POINT = -1
_J = JOINT_INDEX
COCO17_OWNER = np.array([SKIN_POINT] * 5 + [
    _J["left_shoulder"], _J["right_shoulder"], _J["left_elbow"], _J["right_elbow"],
    _J["left_wrist"], _J["right_wrist"], _J["left_hip"], _J["right_hip"],
    _J["left_knee"], _J["right_knee"], _J["left_ankle"], _J["right_ankle"]])
SMPL_OWNER = np.arange(NUM_JOINTS)
_OWNERS = np.concatenate([SMPL_OWNER, COCO17_OWNER])

SMPL_FAMILY = ("smpl", "smplh", "smplx")


@dataclass
class FrameAnnotations:
    """One frame's rows of annotations.npz (P people), plus the visible mask
    area per person for coco.json (not an npz key)."""

    frame_index: int
    cam_K: np.ndarray           # (3, 3)
    cam_ext: np.ndarray         # (4, 4)
    global_orient: np.ndarray   # (P, 3)
    body_pose: np.ndarray       # (P, 69)
    transl: np.ndarray          # (P, 3)
    betas: np.ndarray           # (P, B)
    body_shape: np.ndarray      # (P, S)
    joints3d_world: np.ndarray  # (P, 24, 3)
    joints3d_cam: np.ndarray    # (P, 24, 3)
    joints2d: np.ndarray        # (P, 24, 2)
    joints2d_vis: np.ndarray    # (P, 24) uint8
    coco17: np.ndarray          # (P, 17, 3)
    bbox: np.ndarray            # (P, 4)
    seed: int = -1
    mask_area: np.ndarray | None = None       # (P,) int64 visible pixels
    coco17_by_other: np.ndarray | None = None  # (P, 17) bool: v = 1 because another person is in front
    wholebody133: np.ndarray | None = None      # (P, 133, 3) x, y, v (frame.wholebody)
    wholebody133_cam: np.ndarray | None = None  # (P, 133, 3) camera frame, metres
    wholebody_by_other: np.ndarray | None = None  # (P, 133) bool, like coco17_by_other
    left_hand_pose: np.ndarray | None = None    # (P, 45) MANO-15 axis-angles
    right_hand_pose: np.ndarray | None = None   # (P, 45)
    expression: np.ndarray | None = None        # (P, 52) weights, assets.face_presets.FACIAL_ACTIONS order

    NPZ_KEYS = ("frame_index", "cam_K", "cam_ext", "global_orient", "body_pose", "transl", "betas",
                "body_shape", "joints3d_world", "joints3d_cam", "joints2d", "joints2d_vis", "coco17",
                "bbox", "seed", "wholebody133", "wholebody133_cam", "left_hand_pose", "right_hand_pose",
                "expression")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Row arrays with annotations.npz dtypes (plus mask_area)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            if f.name == "frame_index":
                out[f.name] = np.asarray(v, np.int32)
            elif f.name == "seed":
                out[f.name] = np.asarray(v, np.int64)
            elif f.name == "joints2d_vis":
                out[f.name] = np.asarray(v, np.uint8)
            elif f.name == "mask_area":
                out[f.name] = np.asarray(v, np.int64)
            elif f.name in ("coco17_by_other", "wholebody_by_other"):
                out[f.name] = np.asarray(v, bool)
            else:
                out[f.name] = np.asarray(v, np.float32)
        return out


# -- own-segment vertex sets, cached per body topology -------------------------
_SEGMENT_CACHE: dict[tuple[int, bytes], tuple] = {}


def _segment_pairs(part_labels: np.ndarray, owners: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(point index, vertex index) pairs, grouped by point: for point p owned
    by joint j, every vertex whose part is j or j's parent part. Also the
    points that have pairs and where each one's group starts."""
    key = (id(part_labels), owners.tobytes())
    hit = _SEGMENT_CACHE.get(key)
    if hit is not None and hit[0] is part_labels:
        return hit[1:]
    by_part = [np.flatnonzero(part_labels == j) for j in range(NUM_JOINTS)]
    idx_p, idx_v = [], []
    for p, j in enumerate(owners):
        if j == SKIN_POINT:
            continue
        sets = [by_part[j]] + ([by_part[PARENTS[j]]] if PARENTS[j] >= 0 else [])
        v = np.concatenate(sets)
        idx_p.append(np.full(len(v), p, np.int32))
        idx_v.append(v.astype(np.int32))
    empty = np.zeros(0, np.int32)
    ip, iv = np.concatenate(idx_p or [empty]), np.concatenate(idx_v or [empty])
    points, starts = np.unique(ip, return_index=True)
    if len(_SEGMENT_CACHE) > 32:
        _SEGMENT_CACHE.clear()
    _SEGMENT_CACHE[key] = (part_labels, ip, iv, points, starts)  # holding the array keeps its id unique
    return ip, iv, points, starts


def own_skin_thickness(points_cam: np.ndarray, owners: np.ndarray, vertices_cam: np.ndarray,
                       part_labels: np.ndarray) -> np.ndarray:
    """t_P of the module docstring, (N,) metres of camera z: how far the
    point's own body segment reaches in front of it along its line of sight.
    "Near the line of sight" is tested in normalised image coordinates (a
    cone through the camera centre, RAY_RADIUS wide at P's depth): one gather
    cheaper than a 3D cylinder, and ~2.5x faster in total."""
    idx_p, idx_v, points, starts = _segment_pairs(part_labels, np.asarray(owners, np.int64))
    t = np.zeros(len(points_cam))
    if not len(idx_p):
        return t

    verts = np.asarray(vertices_cam, np.float32)
    pts = np.asarray(points_cam, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_v = np.float32(1) / verts[:, 2]
        inv_p = np.float32(1) / pts[:, 2]
        r2 = np.square(np.float32(RAY_RADIUS) * inv_p)      # per point, not per pair
    # One 1-D gather per quantity and pair (normalised image u, v and depth).
    zv = np.take(verts[:, 2], idx_v)
    dz = np.take(pts[:, 2], idx_p) - zv                     # > 0: the vertex is nearer the camera
    du = np.take(pts[:, 0] * inv_p, idx_p) - np.take(verts[:, 0] * inv_v, idx_v)
    dv = np.take(pts[:, 1] * inv_p, idx_p) - np.take(verts[:, 1] * inv_v, idx_v)
    on_ray = (dz > 0) & (dz < MAX_SELF_DEPTH) & (zv > 0) & (du * du + dv * dv < np.take(r2, idx_p))
    # Pairs are grouped by point, so the largest per point is one reduceat.
    t[points] = np.maximum.reduceat(np.where(on_ray, dz, np.float32(0)), starts)
    return t


def point_visibility(points_world: np.ndarray, owners: np.ndarray, instance_id: int,
                     vertices_cam: np.ndarray, part_labels: np.ndarray, camera: Camera,
                     depth: np.ndarray, instance: np.ndarray, thickness=None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points of one person -> (camera-frame points (N, 3), pixel xy (N, 2),
    visibility (N,) uint8, hidden by another person (N,) bool) by the
    module's rule. vertices_cam: the person's posed vertices, camera frame.
    thickness: optional (point indices, their camera points) -> t, for points
    whose own segments are not SMPL parts (finger joints, frame.wholebody)."""
    cam = camera.to_camera(points_world)
    xy = camera.project_camera(cam)
    inside = camera.inside_image(xy, cam[:, 2])
    vis = np.zeros(len(cam), np.uint8)
    by_other = np.zeros(len(cam), bool)
    if not inside.any():
        return cam, xy, vis, by_other
    idx = np.flatnonzero(inside)
    col = np.floor(xy[idx, 0]).astype(np.int64)
    row = np.floor(xy[idx, 1]).astype(np.int64)
    d = depth[row, col].astype(np.float64)
    who = instance[row, col].astype(np.int64)
    z = cam[idx, 2]
    own = who == instance_id
    other = (who != 0) & ~own
    visible = (who == 0) | (own & (d >= z - MARGIN)) | (other & (d >= z))
    # t is at most MAX_SELF_DEPTH: it only decides points whose own surface
    # lies between MARGIN and MAX_SELF_DEPTH + MARGIN in front of them.
    undecided = own & ~visible & (d >= z - (MAX_SELF_DEPTH + MARGIN))
    if undecided.any():
        u = np.flatnonzero(undecided)
        if thickness is None:
            t = own_skin_thickness(cam[idx[u]], np.asarray(owners)[idx[u]], vertices_cam, part_labels)
        else:
            t = thickness(idx[u], cam[idx[u]])
        visible[u] = d[u] >= z[u] - (t + MARGIN)
    vis[idx] = np.where(visible, 2, 1)
    by_other[idx] = other & ~visible
    return cam, xy, vis, by_other


def visible_bbox(instance: np.ndarray, instance_id: int) -> tuple[np.ndarray, int]:
    """x, y, w, h of the pixels equal to instance_id (w = max_col + 1 - min_col),
    zeros if none; and their count."""
    mask = instance == instance_id
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return np.zeros(4), 0
    cols = np.flatnonzero(mask.any(axis=0))
    box = np.array([cols[0], rows[0], cols[-1] + 1 - cols[0], rows[-1] + 1 - rows[0]], np.float64)
    return box, int(np.count_nonzero(mask[rows[0]:rows[-1] + 1]))


def _pad(rows: list[np.ndarray], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width), np.float32)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def annotate_frame(people, camera: Camera, depth: np.ndarray, instance: np.ndarray,
                   frame_index: int, seed: int = -1) -> FrameAnnotations:
    """Annotations of one rendered frame. `people`: pose_people's PosedPerson
    list in scene order (instance id = index + 1); depth/instance: the
    renderer's passes for the same meshes and camera."""
    P = len(people)
    j_world = np.zeros((P, NUM_JOINTS, 3))
    j_cam = np.zeros((P, NUM_JOINTS, 3))
    j_2d = np.zeros((P, NUM_JOINTS, 2))
    j_vis = np.zeros((P, NUM_JOINTS), np.uint8)
    coco = np.zeros((P, 17, 3))
    bbox = np.zeros((P, 4))
    area = np.zeros(P, np.int64)
    coco_by_other = np.zeros((P, 17), bool)
    from posebooth.frame.wholebody import wholebody_rows   # it builds on this module
    wb, wb_cam, wb_other = np.zeros((P, 133, 3)), np.zeros((P, 133, 3)), np.zeros((P, 133), bool)
    betas, shapes = [], []
    for n, person in enumerate(people):
        k = person.index + 1
        verts = camera.to_camera(person.vertices, np.float32)
        labels = person.part_labels
        j_world[n] = person.joints
        pts = np.concatenate([np.asarray(person.joints, np.float64), person.coco17])
        cam, xy, vis, other = point_visibility(pts, _OWNERS, k, verts, labels, camera, depth,
                                               instance)
        coco_by_other[n] = other[NUM_JOINTS:]
        # A point on or behind the camera plane has no projection (and v = 0):
        # written as (0, 0) rather than inf or a mirrored point.
        xy = np.where(cam[:, 2:3] > 0, xy, 0.0)
        j_cam[n], j_2d[n], j_vis[n] = cam[:NUM_JOINTS], xy[:NUM_JOINTS], vis[:NUM_JOINTS]
        coco[n, :, :2] = xy[NUM_JOINTS:]
        coco[n, :, 2] = vis[NUM_JOINTS:]
        bbox[n], area[n] = visible_bbox(instance, k)
        wb[n], wb_cam[n], wb_other[n] = wholebody_rows(person, camera, depth, instance, verts, coco[n],
                                                       cam[NUM_JOINTS:], other[NUM_JOINTS:])
        shape = np.asarray(person.shape, np.float32).ravel()
        shapes.append(shape)
        betas.append(shape if person.body.name in SMPL_FAMILY else np.zeros(0, np.float32))
    n_betas = max([NUM_BETAS] + [len(b) for b in betas])
    n_shape = max([1] + [len(s) for s in shapes])
    return FrameAnnotations(
        frame_index=int(frame_index), cam_K=camera.K, cam_ext=camera.extrinsic,
        global_orient=np.array([p.pose.global_orient for p in people]).reshape(P, 3),
        body_pose=np.array([p.pose.body_pose for p in people]).reshape(P, 69),
        transl=np.array([p.pose.transl for p in people]).reshape(P, 3),
        betas=_pad(betas, n_betas), body_shape=_pad(shapes, n_shape),
        joints3d_world=j_world, joints3d_cam=j_cam, joints2d=j_2d, joints2d_vis=j_vis,
        coco17=coco, bbox=bbox, seed=int(seed), mask_area=area, coco17_by_other=coco_by_other,
        wholebody133=wb, wholebody133_cam=wb_cam, wholebody_by_other=wb_other,
        left_hand_pose=np.array([np.reshape(p.pose.left_hand_pose, 45) for p in people]).reshape(P, 45),
        right_hand_pose=np.array([np.reshape(p.pose.right_hand_pose, 45) for p in people]).reshape(P, 45),
        expression=np.array([[p.pose.expression.get(n, 0.0) for n in FACIAL_ACTIONS] for p in people]
                            ).reshape(P, len(FACIAL_ACTIONS)))
