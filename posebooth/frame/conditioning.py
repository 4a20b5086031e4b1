"""Conditioning images from the renderer's exact passes, in the conventions
the public checkpoints were trained on (numpy / OpenCV only: no torch, no Qt).

The models never saw rendered geometry: they were trained on what their
annotators produced from photos. Each converter reproduces that annotator's
output convention from our exact depth / normals / keypoints, and says so.
Inputs follow the renderer (posebooth.viewport.renderer): depth = camera z
in metres with 0 = background, normals = unit camera-frame vectors (OpenCV
axes: x right, y down, z forward) facing the camera, keypoints in pixels
with pixel (i, j) centred at (j + 0.5, i + 0.5).
"""
from __future__ import annotations

import colorsys

import numpy as np

# Inverse depth of the farthest body pixel maps to this grey level (of 255):
# a gap above the black background keeps the silhouette edge as strong as a
# MiDaS map of a person before a distant backdrop shows it.
DEPTH_FLOOR = 40


def _inverse_depth_01(depth: np.ndarray, floor: float) -> np.ndarray:
    """1/z normalised over the foreground pixels to [floor, 1]; background 0."""
    depth = np.asarray(depth, np.float32)
    fg = depth > 0
    out = np.zeros(depth.shape, np.float32)
    if not fg.any():
        return out
    inv = 1.0 / depth[fg]
    lo, hi = float(inv.min()), float(inv.max())
    scale = (inv - lo) / (hi - lo) if hi > lo else np.ones_like(inv)
    out[fg] = floor + (1.0 - floor) * scale
    return out


def controlnet_depth_image(depth: np.ndarray) -> np.ndarray:
    """(H, W) camera z -> (H, W, 3) uint8 for lllyasviel/control_v11f1p_sd15_depth.

    That ControlNet was trained on MiDaS / LeReS / Zoe annotator maps:
    relative INVERSE depth (disparity) min-max normalised to 0..255, near =
    bright, far = dark, grey replicated to RGB. We give 1/z normalised over
    the body pixels to [DEPTH_FLOOR, 255] (all people together, so their
    depth order survives) and 0 (black) for the background, i.e. what MiDaS
    shows for people in front of a far backdrop. Normalising over the bodies
    rather than a fixed range keeps the body's relief at full contrast
    whatever the camera distance.
    """
    grey = np.round(_inverse_depth_01(depth, DEPTH_FLOOR / 255.0) * 255.0).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def sd2_depth_map(depth: np.ndarray) -> np.ndarray:
    """(H, W) camera z -> (H, W) float32 for StableDiffusionDepth2ImgPipeline's
    `depth_map` (add the batch axis: `torch.from_numpy(m)[None]`).

    The pipeline's own estimator is DPT-Hybrid, whose `predicted_depth` is
    relative inverse depth (large = near); `prepare_depth_map` resizes it
    bicubically to the latent size and min-max normalises each map to
    [-1, 1] itself, so only the shape of the values matters. We give the same
    1/z as `controlnet_depth_image` (bodies over [DEPTH_FLOOR / 255, 1],
    background 0), so both models see the same relief and the background
    lands at -1.
    """
    return _inverse_depth_01(depth, DEPTH_FLOOR / 255.0)


# --- OpenPose ----------------------------------------------------------------
# OpenPose-18 body order (what controlnet_aux's body estimator outputs):
# 0 nose, 1 neck, 2 r_shoulder, 3 r_elbow, 4 r_wrist, 5 l_shoulder, 6 l_elbow,
# 7 l_wrist, 8 r_hip, 9 r_knee, 10 r_ankle, 11 l_hip, 12 l_knee, 13 l_ankle,
# 14 r_eye, 15 l_eye, 16 r_ear, 17 l_ear. COCO-17 index of each (neck = -1:
# the midpoint of the shoulders).
OPENPOSE18_FROM_COCO17 = (0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
# controlnet_aux open_pose/util.py draw_bodypose: limbSeq (1-based, the first
# 17 drawn), colors (RGB) and stick width, verbatim values.
LIMB_SEQ = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12),
            (12, 13), (13, 14), (2, 1), (1, 15), (15, 17), (1, 16), (16, 18))
OPENPOSE_COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
                   (85, 255, 0), (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
                   (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255), (170, 0, 255),
                   (255, 0, 255), (255, 0, 170), (255, 0, 85))
STICK_WIDTH = 4
JOINT_RADIUS = 4
_SHIFT = 4  # cv2 fixed-point bits: draw at the exact sub-pixel keypoints
_DIM = (np.arange(256) * 0.6).astype(np.uint8)   # each level as controlnet_aux's float scaling gives it


def openpose18(coco17: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 (17, 2) + visibility (17,) -> OpenPose-18 (18, 2) + (18,).
    The neck is the shoulders' midpoint, with the lower of their two flags."""
    coco17, vis = np.asarray(coco17, np.float64)[:, :2], np.asarray(vis)
    idx = np.array(OPENPOSE18_FROM_COCO17)
    pts = coco17[np.maximum(idx, 0)].copy()
    flags = vis[np.maximum(idx, 0)].copy()
    pts[1] = (coco17[5] + coco17[6]) / 2.0
    flags[1] = min(vis[5], vis[6])
    return pts, flags


def openpose_image(keypoints_list, vis_list, size: tuple[int, int], hands_list=None,
                   draw_occluded: bool = True, faces_list=None) -> np.ndarray:
    """People's COCO-17 keypoints (pixels) and v flags -> (H, W, 3) uint8 RGB
    OpenPose-18 body image for lllyasviel/control_v11p_sd15_openpose.

    Drawn like controlnet_aux's `draw_bodypose` (the annotator the model was
    trained on): 17 limbs as filled ellipses of half-width STICK_WIDTH in
    LIMB_SEQ order with OPENPOSE_COLORS, the canvas scaled by 0.6, then the 18
    joints as discs of radius 4, black background. We draw at the exact
    sub-pixel projections (cv2 fixed point) instead of detector peaks, shifted
    by half a pixel into cv2's integer-centred pixel grid.

    Visibility (v of FORMAT.md): v = 0 (outside the image) is omitted with its
    limbs, as the detector cannot see it. v = 1 is drawn when
    `draw_occluded` (default): our v = 1 also covers a joint behind the
    person's own body (a far-side elbow, a hand behind the back), which
    OpenPose still infers from body context in most photos, and the model
    needs the full skeleton to keep the person's limb count right. Callers
    that want a joint hidden by ANOTHER person left out pass v = 0 for it
    (the writer does so, see export.controls).

    size: (W, H). hands_list / faces_list: per person, (42, 3) hand points
    (left then right, OpenPose hand order) and (68, 3) iBUG face points, x, y,
    v; drawn after all bodies as controlnet_aux's "openpose_full" draws them
    (`draw_hands_and_faces`). None: body only.
    """
    import cv2

    W, H = int(size[0]), int(size[1])
    canvas = np.zeros((H, W, 3), np.uint8)
    limit = 1 if draw_occluded else 2
    people = []
    for kps, vis in zip(keypoints_list, vis_list):
        pts, flags = openpose18(kps, vis)
        people.append(((pts - 0.5) * (1 << _SHIFT), flags >= limit))
    for i in range(17):
        a, b = LIMB_SEQ[i][0] - 1, LIMB_SEQ[i][1] - 1
        for fixed, ok in people:
            if not (ok[a] and ok[b]):
                continue
            (x0, y0), (x1, y1) = fixed[a], fixed[b]
            length = np.hypot(x1 - x0, y1 - y0) / (1 << _SHIFT)
            angle = int(np.degrees(np.arctan2(y0 - y1, x0 - x1)))
            poly = cv2.ellipse2Poly((0, 0), (int(length / 2), STICK_WIDTH), angle, 0, 360, 1)
            centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            pts = np.round(poly * (1 << _SHIFT) + centre).astype(np.int32)
            cv2.fillConvexPoly(canvas, pts, OPENPOSE_COLORS[i], lineType=cv2.LINE_8, shift=_SHIFT)
    canvas = cv2.LUT(canvas, _DIM)   # (canvas * 0.6).astype(uint8) as controlnet_aux, by table
    for i in range(18):
        for fixed, ok in people:
            if ok[i]:
                c = tuple(int(round(v)) for v in fixed[i])
                cv2.circle(canvas, c, JOINT_RADIUS << _SHIFT, OPENPOSE_COLORS[i], thickness=-1,
                           lineType=cv2.LINE_8, shift=_SHIFT)
    if hands_list is not None or faces_list is not None:
        draw_hands_and_faces(canvas, hands_list or [], faces_list or [], limit)
    return canvas


# controlnet_aux open_pose/util.py draw_handpose: 20 edges from the wrist out
# along each finger (thumb, index, middle, ring, pinky), edge i coloured
# hsv_to_rgb(i / 20, 1, 1) * 255, lines 2 px wide, joints as radius-4 discs of
# (0, 0, 255); draw_facepose: radius-3 white discs.
HAND_EDGES = tuple((0 if k == 0 else 4 * f + k, 4 * f + k + 1) for f in range(5) for k in range(4))
# cv2 rounds the float colour half to even, as Python's round does.
HAND_COLORS = tuple(tuple(round(v * 255) for v in colorsys.hsv_to_rgb(i / 20.0, 1.0, 1.0)) for i in range(20))
HAND_LINE_WIDTH = 2
HAND_JOINT_RADIUS = 4
HAND_JOINT_COLOR = (0, 0, 255)
FACE_RADIUS = 3
FACE_COLOR = (255, 255, 255)


def draw_hands_and_faces(canvas: np.ndarray, hands_list, faces_list, limit: int = 1) -> np.ndarray:
    """Draw people's hands ((42, 3) each: two 21-point hands) and faces ((68, 3)
    each) onto an OpenPose body canvas, in place: points with v < limit and
    the edges touching them are left out."""
    import cv2

    def fixed(p):
        return tuple(int(round(v)) for v in (np.asarray(p[:2], np.float64) - 0.5) * (1 << _SHIFT))

    for hands in hands_list:
        for hand in np.asarray(hands, np.float64).reshape(2, 21, 3):
            ok = hand[:, 2] >= limit
            for i, (a, b) in enumerate(HAND_EDGES):
                if ok[a] and ok[b]:
                    cv2.line(canvas, fixed(hand[a]), fixed(hand[b]), HAND_COLORS[i], thickness=HAND_LINE_WIDTH,
                             lineType=cv2.LINE_8, shift=_SHIFT)
            for k in np.flatnonzero(ok):
                cv2.circle(canvas, fixed(hand[k]), HAND_JOINT_RADIUS << _SHIFT, HAND_JOINT_COLOR, thickness=-1,
                           lineType=cv2.LINE_8, shift=_SHIFT)
    for face in faces_list:
        for p in np.asarray(face, np.float64).reshape(-1, 3):
            if p[2] >= limit:
                cv2.circle(canvas, fixed(p), FACE_RADIUS << _SHIFT, FACE_COLOR, thickness=-1,
                           lineType=cv2.LINE_8, shift=_SHIFT)
    return canvas


# --- normals -------------------------------------------------------------------
# NormalBae's flat backdrop: a surface facing the camera, n_bae = (0, 0, 1).
NORMALBAE_BACKGROUND = (128, 128, 255)


def normal_control_image(normal: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit camera-frame normals (OpenCV axes, facing the camera,
    background all-zero) -> (H, W, 3) uint8 RGB for
    lllyasviel/control_v11p_sd15_normalbae.

    That model was trained on the NormalBae annotator (Bae et al. 2021,
    ScanNet-trained; controlnet_aux `NormalBaeDetector`), which writes
    ((n + 1) / 2 * 255) of its normal in the BAE/ScanNet convention:
    red = towards image left, green = up, blue = towards the camera. That is
    n_bae = -n_opencv for all three axes, so a surface facing the camera is
    (128, 128, 255), the top of a head is green, the viewer-left flank red.
    NormalBae has no background (it estimates the wall behind); we give the
    background the normal of a backdrop facing the camera, NORMALBAE_BACKGROUND.
    """
    import cv2

    n = np.ascontiguousarray(normal, np.float32)
    out = cv2.convertScaleAbs(n, alpha=-127.5, beta=127.5)   # round((-n + 1) / 2 * 255)
    # |n|^2 == 0 marks the background; cv2 reduces the 3 channels far faster than numpy.
    background = (cv2.cvtColor(cv2.multiply(n, n), cv2.COLOR_RGB2GRAY) == 0).view(np.uint8)
    cv2.copyTo(np.full_like(out, NORMALBAE_BACKGROUND), background, out)
    return out
