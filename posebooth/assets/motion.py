"""Import AMASS-style motion files (.npz) onto a person as one key per frame.

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
two joints import at rest; the wrists carry the hand's orientation.

Frames: AMASS is Z-up; PoseBooth is Y-up, so (x, y, z) -> (x, z, -y) is
applied to the root rotation (left-multiplied) and to positions. AMASS trans
is SMPL's transl: pelvis = J0(betas) + trans, with J0 the model's rest pelvis.
PoseBooth's transl is the pelvis itself, so a generic neutral J0 is added
first. That offset is approximate (it ignores the motion's betas and
gender; errors are ~1 cm), which is why betas are not needed here.
"""
from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from posebooth.scene.model import MAX_KEYS, PoseKey, Scene

# (x, y, z) in AMASS's Z-up world -> (x, z, -y) in PoseBooth's Y-up world.
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
# Approximate rest pelvis J0 of SMPL's neutral model (model frame, betas = 0).
SMPL_REST_PELVIS = np.array([0.0014, -0.2237, 0.0283])

MAX_FRAME = 10_000_000  # PoseKey.frame's upper bound
_POSE_WIDTHS = {72: "smpl", 156: "smplh", 165: "smplx"}
_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
_EXPECTED = ("expected 'poses' (N x 72 SMPL, N x 156 SMPL-H or N x 165 SMPL-X) or the SMPL-X split keys "
             "'root_orient' (N x 3) + 'pose_body' (N x 63), plus 'trans' (N x 3) and "
             "'mocap_framerate' or 'mocap_frame_rate'")


class MotionError(ValueError):
    """A motion file cannot be imported; the message says why."""


@dataclass(frozen=True)
class Motion:
    """A motion in PoseBooth's frame (Y up), at its own frame rate."""

    layout: str                 # "smpl", "smplh", "smplx"
    fps: float
    global_orient: np.ndarray   # (N, 3)
    body_pose: np.ndarray       # (N, 23, 3)
    transl: np.ndarray          # (N, 3) pelvis world positions
    betas: np.ndarray | None

    @property
    def num_frames(self) -> int:
        return self.global_orient.shape[0]


def _read(npz, key: str, where: str) -> np.ndarray:
    try:
        arr = npz[key]
    except ValueError as e:
        if "pickle" in str(e):
            raise MotionError(f"{where}: the file contains pickled objects, which PoseBooth refuses "
                              f"to load (in {key!r})") from None
        raise MotionError(f"{where}: {key!r} is unreadable ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise MotionError(f"{where}: {key!r} is unreadable; the file looks damaged ({e})") from None
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MotionError(f"{where}: {key!r} holds {arr.dtype} values, not numbers")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise MotionError(f"{where}: {key!r} contains NaN or infinite values")
    return arr


def _shape(arr: np.ndarray, key: str, width: int, n: int | None, where: str) -> np.ndarray:
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] < 1 or (n is not None and arr.shape[0] != n):
        rows = "N" if n is None else str(n)
        raise MotionError(f"{where}: {key!r} has shape {arr.shape}, expected ({rows}, {width})")
    return arr


def load_amass(path: str | os.PathLike) -> Motion:
    """Read and check an AMASS .npz; returns the motion converted to Y-up."""
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise MotionError(f"{where}: no such file")
    if path.is_dir():
        raise MotionError(f"{where}: is a folder, not a motion file")
    if not zipfile.is_zipfile(path):
        raise MotionError(f"{where}: not an .npz archive (AMASS motions are .npz files)")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise MotionError(f"{where}: cannot read the archive ({e})") from None
    with npz:
        keys = set(npz.files)
        rate_key = next((k for k in _RATE_KEYS if k in keys), None)
        has_split = {"root_orient", "pose_body"} <= keys
        missing = [k for k in ("trans",) if k not in keys]
        if "poses" not in keys and not has_split:
            missing.insert(0, "poses")
        if rate_key is None:
            missing.append("mocap_framerate")
        if missing:
            raise MotionError(f"{where}: missing {', '.join(map(repr, missing))}; {_EXPECTED}. "
                              f"Found: {', '.join(sorted(keys)) or 'no arrays'}")

        if "poses" in keys:
            poses = _read(npz, "poses", where)
            if poses.ndim != 2 or poses.shape[1] not in _POSE_WIDTHS or poses.shape[0] < 1:
                raise MotionError(f"{where}: 'poses' has shape {poses.shape}; {_EXPECTED}")
            layout = _POSE_WIDTHS[poses.shape[1]]
            root = poses[:, :3]
            body = poses[:, 3:72] if layout == "smpl" else poses[:, 3:66]
        else:
            root = _shape(_read(npz, "root_orient", where), "root_orient", 3, None, where)
            body = _shape(_read(npz, "pose_body", where), "pose_body", 63, root.shape[0], where)
            layout = "smplx"
        n = root.shape[0]
        trans = _shape(_read(npz, "trans", where), "trans", 3, n, where)
        rate = _read(npz, rate_key, where)
        if rate.size != 1:
            raise MotionError(f"{where}: {rate_key!r} should be one number, found shape {rate.shape}")
        fps = float(rate.reshape(-1)[0])
        if fps <= 0:
            raise MotionError(f"{where}: the frame rate {rate_key!r} is {fps:g}; it must be positive")
        betas = None
        if "betas" in keys:  # informational only: a bad betas array is not worth refusing the motion
            try:
                betas = _read(npz, "betas", where).reshape(-1)
            except MotionError:
                betas = None

    body_pose = np.zeros((n, 23, 3))
    body_pose[:, : body.shape[1] // 3] = body.reshape(n, -1, 3)   # SMPL-H/X: hands (22, 23) stay at rest
    go = (Rotation.from_matrix(Z_UP_TO_Y_UP) * Rotation.from_rotvec(root)).as_rotvec()
    pelvis = (trans + SMPL_REST_PELVIS) @ Z_UP_TO_Y_UP.T
    return Motion(layout, fps, go, body_pose, pelvis, betas)


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
    a = Rotation.from_rotvec(rot[i0].reshape(-1, 3))
    b = Rotation.from_rotvec(rot[i1].reshape(-1, 3))
    step = (a.inv() * b).as_rotvec() * np.repeat(t, 24)[:, None]
    rotvecs = (a * Rotation.from_rotvec(step)).as_rotvec().reshape(count, 24, 3)
    transl = (1 - t)[:, None] * motion.transl[i0] + t[:, None] * motion.transl[i1]
    return rotvecs, transl


def import_motion(scene: Scene, path: str | os.PathLike, person_index: int = 0,
                  start_frame: int | None = None, max_frames: int | None = None) -> Scene:
    """A new scene where one person's keys are the motion, one key per scene frame.

    start_frame: the scene frame the motion's first frame lands on (default:
    the timeline's start); max_frames: import at most this many scene frames.
    The timeline is extended to cover the motion. `scene` is never modified.
    """
    if not 0 <= person_index < len(scene.people):
        raise MotionError(f"there is no person {person_index} (the scene has {len(scene.people)})")
    start = scene.timeline.start if start_frame is None else int(start_frame)
    if start < 0:
        raise MotionError(f"start_frame must be 0 or later, not {start}")
    if max_frames is not None and max_frames < 1:
        raise MotionError(f"max_frames must be at least 1, not {max_frames}")
    motion = load_amass(path)
    rotvecs, transl = resample(motion, scene.timeline.fps, max_frames)
    count = rotvecs.shape[0]
    if count > MAX_KEYS:
        raise MotionError(f"{path}: {count} frames at {scene.timeline.fps:g} fps is more than the "
                          f"{MAX_KEYS} keys a person can hold; import fewer frames (max_frames)")
    if start + count - 1 > MAX_FRAME:
        raise MotionError(f"{path}: the motion would end after frame {MAX_FRAME}; start it earlier")
    keys = [PoseKey(frame=start + k, global_orient=rotvecs[k, 0].tolist(),
                    body_pose=rotvecs[k, 1:].reshape(-1).tolist(), transl=transl[k].tolist(), interp="linear")
            for k in range(count)]
    out = scene.model_copy(deep=True)
    out.people[person_index] = out.people[person_index].model_copy(update={"keys": keys})
    out.timeline = out.timeline.model_copy(update={"end": max(out.timeline.end, start + count - 1)})
    return out
