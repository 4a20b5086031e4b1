"""Import motion files onto a person as one key per frame: AMASS-style .npz
(here) and BVH (assets.bvh, chosen by the .bvh extension).

Layouts read (AMASS conventions):
  SMPL    poses (N, 72): root + 23 body joints
  SMPL-H  poses (N, 156): root + 21 body joints + 2 x 15 finger joints
  SMPL-X  poses (N, 165): root + 21 body + jaw + 2 eyes + 2 x 15 fingers,
          or the split keys root_orient (N, 3) + pose_body (N, 63)
plus trans (N, 3) and the frame rate (mocap_framerate or mocap_frame_rate).
betas are read when present but not applied (see below); other keys
(gender, dmpls, pose_hand, ...) are ignored and never unpickled.

SMPL-H/X have no rotations for SMPL's hand joints 22/23 (their fingers take
that place), and a finger rotation is not a whole-hand rotation, so those
two joints import at rest; the wrists carry the hand's orientation. Their
finger joints (2 x 15, MANO order, flat hand at zero) become the keys' hand
poses (SMPL-X split files: 'pose_hand', N x 90, when present).

Frames: AMASS is Z-up; PoseBooth is Y-up, so (x, y, z) -> (x, z, -y) is
applied to the root rotation (left-multiplied) and to positions. AMASS trans
is SMPL's transl: pelvis = J0(betas) + trans, with J0 the model's rest pelvis.
PoseBooth's transl is the pelvis itself, so a generic neutral J0 is added
first. That offset is approximate (it ignores the motion's betas and
gender; errors are ~1 cm), which is why betas are not needed here.

Hostile files: the file is read by the bounded reader (regular files only),
every array's header is checked before its data is decoded (npz_arrays),
the frame rate and the resampled length are checked before anything is
allocated, only the source rows the import samples are decoded, values
must be finite and within the scene model's bounds, and a result too big
for a scene file is refused rather than written.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.assets.npz_arrays import NpzArchive, NpzError
from posebooth.files.safe_read import UserFileError, read_user_file
from posebooth.scene.io import MAX_SCENE_BYTES, scene_to_json
from posebooth.scene.model import MAX_COORD, MAX_FPS, MAX_FRAME, MAX_KEYS, MAX_ROTATION, MIN_FPS, PoseKey, Scene
from posebooth.scene.tracks import slerp_rotvecs

# (x, y, z) in AMASS's Z-up world -> (x, z, -y) in PoseBooth's Y-up world.
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
# Approximate rest pelvis J0 of SMPL's neutral model (model frame, betas = 0).
SMPL_REST_PELVIS = np.array([0.0014, -0.2237, 0.0283])

MAX_MOTION_BYTES = 256 << 20      # AMASS's longest takes are tens of MB
MAX_SOURCE_ROWS = 1_000_000       # source frames read for one import (~0.6 GB as float64 at most)
MAX_TRANS = MAX_COORD - 1.0       # so the pelvis (trans + the rest offset) stays within the scene's bounds
_POSE_WIDTHS = {72: "smpl", 156: "smplh", 165: "smplx"}
_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
_EXPECTED = ("expected 'poses' (N x 72 SMPL, N x 156 SMPL-H or N x 165 SMPL-X) or the SMPL-X split keys "
             "'root_orient' (N x 3) + 'pose_body' (N x 63), plus 'trans' (N x 3) and "
             "'mocap_framerate' or 'mocap_frame_rate'")


class MotionError(ValueError):
    """A motion file cannot be imported; the message says why."""


@dataclass(frozen=True)
class Motion:
    """A motion in PoseBooth's frame (Y up), at its own frame rate. When read
    for a given scene rate it holds only the source frames that sampling needs."""

    layout: str                 # "smpl", "smplh", "smplx" (AMASS) or "bvh"
    fps: float
    global_orient: np.ndarray   # (N, 3)
    body_pose: np.ndarray       # (N, 23, 3)
    transl: np.ndarray          # (N, 3) pelvis world positions
    betas: np.ndarray | None
    hands: np.ndarray | None = None   # (N, 2, 15, 3) left, right MANO-15 (SMPL-H/X); None: flat

    @property
    def num_frames(self) -> int:
        return self.global_orient.shape[0]


def output_frames(n: int, src_fps: float, fps: float) -> int:
    """Frames at `fps` that a motion of `n` frames at `src_fps` covers, from its first on."""
    return int(math.floor((n - 1) / src_fps * fps + 1e-9)) + 1


def _source_rows(count: int, src_fps: float, fps: float, n: int) -> int:
    """Source frames that `count` output frames interpolate between (resample's i1 + 1)."""
    return min(int(math.floor((count - 1) * (src_fps / fps) + 1e-9)) + 2, n)


def _checked_rows(npz: NpzArchive, key: str, width: int, n: int | None, where: str) -> int:
    """Rows of a (N, width) member, from its header alone."""
    m = npz.header(key)
    if len(m.shape) != 2 or m.shape[1] != width or m.shape[0] < 1 or (n is not None and m.shape[0] != n):
        rows = "N" if n is None else str(n)
        raise MotionError(f"{where}: {key!r} has shape {m.shape}, expected ({rows}, {width})")
    return m.shape[0]


def _finite_bounded(arr: np.ndarray, key: str, where: str, rotations: bool) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise MotionError(f"{where}: {key!r} contains NaN or infinite values")
    with np.errstate(over="ignore"):
        if rotations:
            worst = float(np.linalg.norm(arr.reshape(-1, 3), axis=1).max(initial=0.0))
            if worst > MAX_ROTATION:
                raise MotionError(f"{where}: {key!r} holds a rotation of {worst:.6g} radians; axis-angle "
                                  f"rotations must be at most 4 pi = {MAX_ROTATION:.4g}")
        else:
            worst = float(np.abs(arr).max(initial=0.0))
            if worst > MAX_TRANS:
                raise MotionError(f"{where}: {key!r} holds a position of {worst:.6g} m; positions must be "
                                  f"within {MAX_TRANS:g} m of the origin")
    return arr


def _open(path: str | os.PathLike) -> NpzArchive:
    try:
        data = read_user_file(path, "motion file", MAX_MOTION_BYTES)
    except UserFileError as e:
        raise MotionError(str(e)) from None
    if data.lstrip()[:9] == b"HIERARCHY":
        raise MotionError(f"{path}: is a BVH file; give it the .bvh extension to import it as one")
    try:
        return NpzArchive(data, str(path))
    except NpzError as e:
        raise MotionError(str(e)) from None


def load_motion(path: str | os.PathLike, fps: float | None = None, max_frames: int | None = None) -> Motion:
    """A motion file by its extension: .bvh (assets.bvh), else AMASS .npz."""
    if Path(path).suffix.lower() == ".bvh":
        from posebooth.assets.bvh import read_bvh

        return read_bvh(path, fps, max_frames)
    return load_amass(path, fps, max_frames)


def load_amass(path: str | os.PathLike, fps: float | None = None, max_frames: int | None = None) -> Motion:
    """Read and check an AMASS .npz; returns the motion converted to Y-up.

    With `fps` (the scene's rate), only the source frames that sampling at
    `fps` needs are decoded (the first `max_frames` output frames when given),
    and a motion longer than a person can hold is refused before any is.
    """
    where = str(path)
    try:
        return _load_amass(_open(path), where, fps, max_frames)
    except NpzError as e:
        raise MotionError(str(e)) from None


def _load_amass(npz: NpzArchive, where: str, fps: float | None, max_frames: int | None) -> Motion:
    keys = npz.keys
    rate_key = next((k for k in _RATE_KEYS if k in keys), None)
    has_split = {"root_orient", "pose_body"} <= keys
    missing = [k for k in ("trans",) if k not in keys]
    if "poses" not in keys and not has_split:
        missing.insert(0, "poses")
    if rate_key is None:
        missing.append("mocap_framerate")
    if missing:
        found = ", ".join(sorted(keys)[:20]) or "no arrays"
        raise MotionError(f"{where}: missing {', '.join(map(repr, missing))}; {_EXPECTED}. Found: {found}")

    # Headers first: shapes and dtypes are checked before any data is decoded.
    if "poses" in keys:
        m = npz.header("poses")
        if len(m.shape) != 2 or m.shape[1] not in _POSE_WIDTHS or m.shape[0] < 1:
            raise MotionError(f"{where}: 'poses' has shape {m.shape}; {_EXPECTED}")
        n, layout = m.shape[0], _POSE_WIDTHS[m.shape[1]]
    else:
        n = _checked_rows(npz, "root_orient", 3, None, where)
        _checked_rows(npz, "pose_body", 63, n, where)
        layout = "smplx"
    _checked_rows(npz, "trans", 3, n, where)
    rate = npz.read_small(rate_key, 1) if npz.header(rate_key).shape in ((), (1,)) else None
    if rate is None:
        raise MotionError(f"{where}: {rate_key!r} should be one number, found shape {npz.header(rate_key).shape}")
    src_fps = float(rate[0])
    if not MIN_FPS <= src_fps <= MAX_FPS:
        raise MotionError(f"{where}: the frame rate {rate_key!r} is {src_fps:g}; it must be between "
                          f"{MIN_FPS:g} and {MAX_FPS:g} frames per second")

    rows = n
    if fps is not None:   # the resampled length, checked before allocating
        count = output_frames(n, src_fps, fps)
        if max_frames is not None:
            count = min(count, max_frames)
        if count > MAX_KEYS:
            raise MotionError(f"{where}: {n} frames at {src_fps:g} fps make {count} frames at the scene's "
                              f"{fps:g} fps, more than the {MAX_KEYS} keys a person can hold; import fewer "
                              f"frames (--max-frames)")
        rows = _source_rows(count, src_fps, fps, n)
    if rows > MAX_SOURCE_ROWS:
        raise MotionError(f"{where}: importing this would read {rows} source frames; at most "
                          f"{MAX_SOURCE_ROWS} can be read at once; import fewer frames (--max-frames)")

    hands = None
    if "poses" in keys:
        width = {"smpl": 72, "smplh": 156, "smplx": 165}[layout]
        poses = _finite_bounded(npz.read_rows("poses", rows, width), "poses", where, True)
        root, body = poses[:, :3], poses[:, 3:72 if layout == "smpl" else 66]
        if layout != "smpl":   # the fingers come last: 2 x 15 joints (after jaw and eyes on SMPL-X)
            hands = poses[:, -90:].reshape(rows, 2, 15, 3)
    else:
        root = _finite_bounded(npz.read_rows("root_orient", rows, 3), "root_orient", where, True)
        body = _finite_bounded(npz.read_rows("pose_body", rows, 63), "pose_body", where, True)
        if "pose_hand" in keys:
            _checked_rows(npz, "pose_hand", 90, n, where)
            hands = _finite_bounded(npz.read_rows("pose_hand", rows, 90), "pose_hand", where,
                                    True).reshape(rows, 2, 15, 3)
    trans = _finite_bounded(npz.read_rows("trans", rows, 3), "trans", where, False)
    betas = None
    if "betas" in keys:  # informational only: a bad betas array is not worth refusing the motion
        try:
            betas = npz.read_small("betas", 1000)
            betas = betas if np.isfinite(betas).all() else None
        except NpzError:
            betas = None

    body_pose = np.zeros((rows, 23, 3))
    body_pose[:, : body.shape[1] // 3] = body.reshape(rows, -1, 3)   # SMPL-H/X: hands (22, 23) stay at rest
    go = (Rotation.from_matrix(Z_UP_TO_Y_UP) * Rotation.from_rotvec(root)).as_rotvec()
    pelvis = (trans + SMPL_REST_PELVIS) @ Z_UP_TO_Y_UP.T
    return Motion(layout, src_fps, go, body_pose, pelvis, betas, hands)


def resample(motion: Motion, fps: float, max_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample the motion at `fps` from its first frame on.

    Returns rotvecs (M, 24, 3) (slerp between the two nearest source frames,
    shortest path) and transl (M, 3) (linear).
    """
    n = motion.num_frames
    count = int(math.floor((n - 1) / motion.fps * fps + 1e-9)) + 1
    if max_frames is not None:
        count = min(count, max_frames)
    u = np.arange(count) * (motion.fps / fps)      # fractional source frame of each output frame
    i0 = np.minimum(np.floor(u + 1e-9).astype(int), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    t = np.clip(u - i0, 0.0, 1.0)
    rot = np.concatenate([motion.global_orient[:, None], motion.body_pose], axis=1)   # (N, 24, 3)
    rotvecs = slerp_rotvecs(rot[i0].reshape(-1, 3), rot[i1].reshape(-1, 3), np.repeat(t, 24)).reshape(count, 24, 3)
    transl = (1 - t)[:, None] * motion.transl[i0] + t[:, None] * motion.transl[i1]
    return rotvecs, transl


def resample_hands(motion: Motion, fps: float, count: int) -> np.ndarray | None:
    """The motion's hands at `fps` (count, 2, 15, 3), as `resample` samples the body; None: no hands."""
    if motion.hands is None:
        return None
    n = motion.num_frames
    u = np.arange(count) * (motion.fps / fps)
    i0 = np.minimum(np.floor(u + 1e-9).astype(int), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    t = np.clip(u - i0, 0.0, 1.0)
    h = motion.hands
    return slerp_rotvecs(h[i0].reshape(-1, 3), h[i1].reshape(-1, 3), np.repeat(t, 30)).reshape(count, 2, 15, 3)


def import_motion(scene: Scene, path: str | os.PathLike, person_index: int = 0,
                  start_frame: int | None = None, max_frames: int | None = None) -> Scene:
    """A new scene where one person's keys are the motion, one key per scene frame.

    person_index is 0-based (messages speak of people 1..N, as the CLI and the
    outliner do); start_frame: the scene frame the motion's first frame lands
    on (default: the timeline's start); max_frames: import at most this many
    scene frames. The timeline is extended to cover the motion. `scene` is
    never modified, and the result always fits in a scene file.
    """
    n_people = len(scene.people)
    if not 0 <= person_index < n_people:
        raise MotionError(f"there is no person {person_index + 1}: people are numbered 1..{n_people}"
                          if n_people else "the scene has no people; add one first")
    start = scene.timeline.start if start_frame is None else int(start_frame)
    if not 0 <= start <= MAX_FRAME:
        raise MotionError(f"start_frame must be between 0 and {MAX_FRAME}, not {start}")
    if max_frames is not None and max_frames < 1:
        raise MotionError(f"max_frames must be at least 1, not {max_frames}")
    motion = load_motion(path, scene.timeline.fps, max_frames)
    count = min(output_frames(motion.num_frames, motion.fps, scene.timeline.fps),
                max_frames or MAX_KEYS, MAX_KEYS)
    if start + count - 1 > MAX_FRAME:
        raise MotionError(f"{path}: the motion would end after frame {MAX_FRAME}; start it earlier")
    rotvecs, transl = resample(motion, scene.timeline.fps, count)
    hands = resample_hands(motion, scene.timeline.fps, count)
    fingers = (lambda k: {}) if hands is None else (lambda k: {   # noqa: E731
        "left_hand_pose": hands[k, 0].reshape(-1).tolist(), "right_hand_pose": hands[k, 1].reshape(-1).tolist()})
    keys = [PoseKey(frame=start + k, global_orient=rotvecs[k, 0].tolist(),
                    body_pose=rotvecs[k, 1:].reshape(-1).tolist(), transl=transl[k].tolist(), interp="linear",
                    **fingers(k))
            for k in range(count)]
    out = scene.model_copy(deep=True)
    out.people[person_index] = out.people[person_index].model_copy(update={"keys": keys})
    out.timeline = out.timeline.model_copy(update={"end": max(out.timeline.end, start + count - 1)})
    size = len(scene_to_json(out).encode("utf-8"))
    if size > MAX_SCENE_BYTES:   # a scene that could be written but never opened again
        raise MotionError(f"{path}: with {count} frames the scene file would be {size >> 20} MiB, more than "
                          f"the {MAX_SCENE_BYTES >> 20} MiB a scene file may be; import fewer frames "
                          f"(--max-frames)")
    return out
