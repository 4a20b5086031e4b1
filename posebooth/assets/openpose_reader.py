"""Read an OpenPose JSON file (OpenPose's `--write_json` output, or the
ControlNet editors' files): per person `pose_keypoints_2d` (COCO-18 or
BODY_25), and when present `hand_left_keypoints_2d`,
`hand_right_keypoints_2d` (21 points) and `face_keypoints_2d` (70), each a
flat list x0, y0, c0, x1, ... in pixels of the image it was made from
(c: confidence, 0 = missing). The editors add `canvas_width` /
`canvas_height`; OpenPose itself writes no image size.

A file that cannot be used is one line naming the file and the field
(OpenPoseError)."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from posebooth.files.safe_read import UserFileError, read_user_file

MAX_BYTES = 64 << 20
MAX_PEOPLE = 1000
BODY_LAYOUTS = {18: "COCO-18", 25: "BODY_25"}
PART_SIZES = {"hand_left_keypoints_2d": 21, "hand_right_keypoints_2d": 21, "face_keypoints_2d": 70}
MAX_COORD = 1e6     # pixels: past this a coordinate is garbage, not an image position

# Limbs as (a, b) keypoint pairs; BODY_25 is COCO-18's numbering with the
# mid-hip at 8 and the feet appended, so each layout has its own list.
COCO18_LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
                (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
BODY25_LIMBS = ((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
                (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20),
                (14, 21), (11, 22), (22, 23), (11, 24))
HAND_LIMBS = tuple((0 if k % 4 == 0 else k, k + 1) for k in range(20))
LIMBS = {"COCO-18": COCO18_LIMBS, "BODY_25": BODY25_LIMBS}


class OpenPoseError(ValueError):
    """The file is not usable OpenPose JSON; the message is one line naming the file and field."""


@dataclass(frozen=True)
class OpenPosePerson:
    layout: str                         # "COCO-18" or "BODY_25"
    body: np.ndarray                    # (18 | 25, 3) x, y, confidence
    hand_left: np.ndarray | None        # (21, 3)
    hand_right: np.ndarray | None
    face: np.ndarray | None             # (70, 3)


@dataclass(frozen=True)
class OpenPoseFile:
    path: str
    people: tuple[OpenPosePerson, ...]
    canvas: tuple[int, int] | None      # (width, height) when the file says


def _points(value, where: str, sizes) -> np.ndarray | None:
    if value is None or (isinstance(value, list) and not value):
        return None
    if not isinstance(value, list):
        raise OpenPoseError(f"{where}: expected a list of numbers, got {type(value).__name__}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        bad = next(v for v in value if not isinstance(v, (int, float)) or isinstance(v, bool))
        raise OpenPoseError(f"{where}: expected numbers, found {json.dumps(bad)[:40]}")
    if len(value) % 3 or len(value) // 3 not in sizes:
        want = " or ".join(str(3 * n) for n in sizes)
        raise OpenPoseError(f"{where}: expected {want} numbers (x, y, confidence per keypoint), got {len(value)}")
    arr = np.asarray(value, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(arr).all() or np.abs(arr[:, :2]).max() > MAX_COORD:
        raise OpenPoseError(f"{where}: coordinates must be finite pixel positions within ±{MAX_COORD:g}")
    return arr


def _canvas(doc: dict, where: str) -> tuple[int, int] | None:
    if "canvas_width" not in doc and "canvas_height" not in doc:
        return None
    out = []
    for key in ("canvas_width", "canvas_height"):
        v = doc.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not 1 <= v <= 65536:
            raise OpenPoseError(f"{where}: {key}: expected a size in pixels (1..65536), got {json.dumps(v)[:40]}")
        out.append(int(v))
    return out[0], out[1]


def parse_openpose(text: bytes | str, where: str) -> OpenPoseFile:
    """Parse OpenPose JSON text; `where` names the file in messages."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        detail = f"line {e.lineno} column {e.colno}: {e.msg}" if isinstance(e, json.JSONDecodeError) else str(e)
        raise OpenPoseError(f"{where}: not JSON ({detail})") from None
    if isinstance(doc, list) and len(doc) == 1 and isinstance(doc[0], dict):   # some editors wrap one frame
        doc = doc[0]
    if not isinstance(doc, dict) or "people" not in doc:
        raise OpenPoseError(f"{where}: people: missing (an OpenPose JSON object has a 'people' list)")
    people = doc["people"]
    if not isinstance(people, list):
        raise OpenPoseError(f"{where}: people: expected a list, got {type(people).__name__}")
    if len(people) > MAX_PEOPLE:
        raise OpenPoseError(f"{where}: people: {len(people)} people, more than {MAX_PEOPLE}")
    out = []
    for i, person in enumerate(people):
        at = f"{where}: people[{i}]"
        if not isinstance(person, dict):
            raise OpenPoseError(f"{at}: expected an object, got {type(person).__name__}")
        body = _points(person.get("pose_keypoints_2d"), f"{at}.pose_keypoints_2d", tuple(BODY_LAYOUTS))
        if body is None:
            raise OpenPoseError(f"{at}.pose_keypoints_2d: missing or empty (18 or 25 keypoints expected)")
        parts = {key: _points(person.get(key), f"{at}.{key}", (n,)) for key, n in PART_SIZES.items()}
        out.append(OpenPosePerson(BODY_LAYOUTS[len(body)], body, parts["hand_left_keypoints_2d"],
                                  parts["hand_right_keypoints_2d"], parts["face_keypoints_2d"]))
    return OpenPoseFile(where, tuple(out), _canvas(doc, where))


def read_openpose(path: str | os.PathLike) -> OpenPoseFile:
    """Read and check an OpenPose JSON file (bounded read, regular files only)."""
    where = os.fsdecode(path)
    try:
        data = read_user_file(path, "OpenPose JSON file", MAX_BYTES)
    except UserFileError as e:
        raise OpenPoseError(str(e)) from None
    return parse_openpose(data, where)
