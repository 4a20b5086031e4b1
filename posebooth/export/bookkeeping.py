"""An export folder's bookkeeping (FORMAT.md, "Writing rules"), read as
untrusted input: `.posebooth/export.json` (the settings the folder was
made with) and one `.posebooth/frames/<frame>.npy` sidecar per finished
frame (its annotation rows as one structured record).

A damaged export.json cannot say which settings made the files beside it,
so the folder is refused (never mixed with new settings). A damaged sidecar
(truncated, another layout, wrong shapes, non-finite or impossible values)
only means its frame is not done: it is rendered again. Rows are checked
for NaN / infinity before they are written and again before assembly, so a
dataset is never marked complete with wrong numbers.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from posebooth.export.files import ExportError, SafeOut

STATE_DIR = ".posebooth"
STATE_FILE = f"{STATE_DIR}/export.json"
FRAMES_DIR = f"{STATE_DIR}/frames"
MAX_STATE_BYTES = 1 << 20      # export.json is ~1 KB
MAX_SIDECAR_BYTES = 64 << 20   # one frame's rows: a few KB a person
FINAL_FILES = ("dataset.json", "annotations.npz", "coco.json")

_RESTART = "write to an empty folder, or delete this one to start over"


class ExportState(BaseModel):
    """export.json: the settings the folder was made with, and when."""

    model_config = ConfigDict(strict=True, extra="ignore")
    settings: dict
    created: str


def read_state(out: SafeOut) -> dict | None:
    """export.json's content, None when there is none; ExportError (one
    line naming the file and what is wrong) when it cannot be trusted."""
    from posebooth.files.safe_read import UserFileError, read_user_file

    path = out.path(STATE_FILE)
    if not os.path.lexists(path):
        return None
    why = f"the settings this folder's files were made with are unknown, so it cannot be resumed: {_RESTART}"
    try:
        raw = read_user_file(path, "settings file", MAX_STATE_BYTES)
    except UserFileError as e:
        raise ExportError(f"{e}; {why}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not UTF-8 text; {why}") from None
    except ValueError as e:
        raise ExportError(f"{path}: not valid JSON ({e}); {why}") from None
    try:
        return ExportState.model_validate(data).model_dump()
    except ValidationError as e:
        err = e.errors()[0]
        what = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else "not an object"
        raise ExportError(f"{path}: {what} (expected an object with 'settings' (an object) and "
                          f"'created' (a string)); {why}") from None


def exported_leftover(out: SafeOut, folders) -> str | None:
    """A file of an earlier export in OUT (a final file, a sidecar, or a
    frame-numbered file in a pass folder), or None. Writing there without
    an export.json would mix unknown settings with these."""
    for rel in FINAL_FILES:
        if os.path.lexists(out.path(rel)):
            return rel
    for folder in (FRAMES_DIR, *folders):
        try:
            names = os.listdir(out.path(f"{folder}/x").parent)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            raise ExportError(f"cannot list {out.root}/{folder}: {e.strerror or e}") from None
        for name in sorted(names):
            if name[:6].isdigit():
                return f"{folder}/{name}"
    return None


def check_output_folder(out_dir, folders) -> None:
    """Refuse now, writing nothing, an output folder that the export would
    refuse later for the folder alone: `posebooth render` calls it before
    its slow start (helper processes, bodies). Not writable, a file, below
    a file, a damaged export.json, or exported files with no export.json:
    ExportError. (The settings themselves are compared by the writer.)"""
    root = Path(out_dir).expanduser()
    if os.path.lexists(root) and not root.is_dir():
        raise ExportError(f"{root}: exists and is not a folder; the output must be a folder")
    existing = root
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ExportError(f"{root}: cannot create the output folder: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"{root}: cannot write there: {existing} is read-only or not writable by you "
                          f"(choose a folder you can write to)")
    if existing == root:
        out = SafeOut(root, create=False)
        if read_state(out) is None:
            refuse_unrecorded_export(out, folders)


def refuse_unrecorded_export(out: SafeOut, folders) -> None:
    """For a folder with no export.json: ExportError if it holds files of
    an earlier export anyway (their settings are unknown: never mixed)."""
    leftover = exported_leftover(out, folders)
    if leftover is not None:
        raise ExportError(f"{out.root} already holds exported files ({leftover}) but no {STATE_FILE} "
                          f"saying which settings made them, so this export cannot resume it. "
                          f"Write to an empty folder, or delete this one to start over.")


# -- sidecars --------------------------------------------------------------------
def row_layout(people: int) -> dict[str, tuple[str, tuple]]:
    """field -> (dtype, shape) of a frame's rows for `people` people; None in
    a shape: any width (betas and body_shape depend on the bodies)."""
    P = people
    return {"frame_index": ("<i4", ()), "cam_K": ("<f4", (3, 3)), "cam_ext": ("<f4", (4, 4)),
            "global_orient": ("<f4", (P, 3)), "body_pose": ("<f4", (P, 69)), "transl": ("<f4", (P, 3)),
            "betas": ("<f4", (P, None)), "body_shape": ("<f4", (P, None)),
            "joints3d_world": ("<f4", (P, 24, 3)), "joints3d_cam": ("<f4", (P, 24, 3)),
            "joints2d": ("<f4", (P, 24, 2)), "joints2d_vis": ("|u1", (P, 24)),
            "coco17": ("<f4", (P, 17, 3)), "bbox": ("<f4", (P, 4)), "seed": ("<i8", ()),
            "mask_area": ("<i8", (P,)), "mask_rle": ("<U", (P,)),
            "wholebody133": ("<f4", (P, 133, 3)), "wholebody133_cam": ("<f4", (P, 133, 3)),
            "left_hand_pose": ("<f4", (P, 45)), "right_hand_pose": ("<f4", (P, 45)),
            "expression": ("<f4", (P, 52))}


def optional_layout(people: int) -> dict[str, tuple[str, tuple]]:
    """Fields a sidecar may also hold (FrameAnnotations' extras)."""
    return {"coco17_by_other": ("|b1", (people, 17)), "wholebody_by_other": ("|b1", (people, 133))}


EMPTY_WIDTHS = {"betas": 10, "body_shape": 1}    # for an assembly with no frames


def check_finite(frame: int, arrays: dict) -> None:
    """ExportError naming the frame and the first field holding NaN or
    infinity: such rows must never reach a dataset."""
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            raise ExportError(f"frame {frame}: the annotation {name} holds NaN or infinity, so the frame "
                              f"cannot be exported (check the scene's poses and camera at that frame)")


def sidecar_bytes(arrays: dict) -> bytes:
    """A frame's rows as one structured .npy record (a field per array):
    one header to write and parse, ~6x faster both ways than an npz.
    Refuses non-finite rows (check_finite): a sidecar marks its frame done."""
    check_finite(int(arrays["frame_index"]), arrays)
    record = np.zeros((), np.dtype([(k, v.dtype, v.shape) for k, v in arrays.items()]))
    for k, v in arrays.items():
        record[k] = v
    buf = io.BytesIO()
    np.save(buf, record, allow_pickle=False)
    return buf.getvalue()


def _layout_problem(dtype: np.dtype, shape: tuple, people: int) -> str | None:
    """Why a sidecar's header does not describe a frame's rows, or None."""
    if shape != () or dtype.names is None:
        return "not one structured record"
    layout, optional = row_layout(people), optional_layout(people)
    names = set(dtype.names)
    missing, extra = set(layout) - names, names - set(layout) - set(optional)
    if missing or extra:
        return f"fields {sorted(missing)} missing, {sorted(extra)} unknown"
    for name in dtype.names:
        want_type, want = layout.get(name) or optional[name]
        sub = dtype.fields[name][0]
        base, got = (sub.base, sub.shape) if sub.subdtype is not None else (sub, ())
        ok_type = base.kind == "U" if want_type == "<U" else base == np.dtype(want_type)
        if not ok_type or len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
            return f"{name} is {base} {got}, expected {want_type} {want}"
    return None


def _rle_counts(text: str) -> np.ndarray | None:
    """The run lengths of a compressed COCO RLE string (pycocotools'
    rleFrString, vectorised; its C reads past the end of a damaged string),
    or None when it is not one. Each number is 5-bit groups, low first, 0x20
    = more to come, 0x10 in the last = negative; from the third on, each is
    a difference to the one two places before."""
    try:
        c = np.frombuffer(text.encode("ascii"), np.uint8).astype(np.int64) - 48
    except UnicodeEncodeError:
        return None
    if c.size == 0 or c.min() < 0 or c.max() >= 64 or c[-1] & 0x20:
        return None
    ends = np.flatnonzero((c & 0x20) == 0)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    if lengths.max() > 12:          # more than 60 bits: no real count
        return None
    shift = 5 * (np.arange(c.size) - np.repeat(starts, lengths))
    x = np.add.reduceat((c & 0x1F) << shift, starts)
    neg = (c[ends] & 0x10) != 0
    x[neg] |= np.left_shift(np.int64(-1), 5 * lengths[neg])
    counts = x.copy()
    counts[1::2] = np.cumsum(x[1::2])
    counts[2::2] = np.cumsum(x[2::2])
    return counts


def _value_problem(frame: int, rows: dict, size: tuple[int, int]) -> str | None:
    """Why the rows cannot be a rendered frame's annotations, or None."""
    if int(rows["frame_index"]) != frame:
        return f"frame_index is {int(rows['frame_index'])}"
    for name, a in rows.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            return f"{name} holds NaN or infinity"
    if not np.isin(rows["joints2d_vis"], (0, 1, 2)).all() or not np.isin(rows["coco17"][..., 2], (0, 1, 2)).all():
        return "a visibility is not 0, 1 or 2"
    W, H = size
    area = rows["mask_area"]
    for p, text in enumerate(rows["mask_rle"].tolist()):
        counts = _rle_counts(text)
        if counts is None or counts.min() < 0 or counts.sum() != W * H:
            return f"mask_rle of person {p + 1} is not a COCO RLE of a {W}x{H} mask"
        if counts[1::2].sum() != int(area[p]):
            return f"mask_rle of person {p + 1} does not match its mask_area"
    return None


def load_sidecar(out: SafeOut, frame: int, people: int, size: tuple[int, int]) -> dict | None:
    """The frame's rows from its sidecar, or None when there is none or it
    is damaged in any way (the frame is then rendered again)."""
    from posebooth.files.safe_read import UserFileError, read_user_file

    path = out.path(sidecar_name(frame))
    if not os.path.lexists(path):
        return None
    try:
        buf = io.BytesIO(read_user_file(path, "frame sidecar", MAX_SIDECAR_BYTES))
        # The header first: a damaged one may declare any size or type.
        version = np.lib.format.read_magic(buf)
        shape, _, dtype = (np.lib.format.read_array_header_1_0(buf) if version == (1, 0)
                           else np.lib.format.read_array_header_2_0(buf))
        if _layout_problem(dtype, shape, people) is not None:
            return None
        if len(buf.getbuffer()) - buf.tell() != dtype.itemsize:
            return None   # truncated, or trailing bytes
        record = np.load(io.BytesIO(buf.getvalue()), allow_pickle=False)
        rows = {k: np.array(record[k]) for k in dtype.names}
    except (UserFileError, ValueError, EOFError, OSError, TypeError):
        return None
    return None if _value_problem(frame, rows, size) is not None else rows


def sidecar_name(frame: int) -> str:
    return f"{FRAMES_DIR}/{int(frame):06d}.npy"


def stack_rows(frames: list[int], rows: list[dict], people: int) -> dict:
    """The assembled (F, ...) arrays of annotations.npz and coco.json.
    ExportError naming the frame and field when rows disagree in shape (a
    frame written by other bodies) or hold non-finite values."""
    if not rows:
        out = {}
        for k, (dtype, shape) in row_layout(people).items():
            shape = tuple(EMPTY_WIDTHS.get(k, 0) if w is None else w for w in shape)
            out[k] = np.zeros((0, *shape), str if dtype == "<U" else dtype)
        return out
    first = rows[0]
    for f, r in zip(frames, rows):
        check_finite(f, r)
        for k, a in first.items():
            if k not in r or r[k].shape != a.shape:
                got = "missing" if k not in r else f"shaped {r[k].shape}"
                raise ExportError(f"frame {f}: the annotation {k} is {got} but frame {frames[0]}'s is "
                                  f"{a.shape}; delete {sidecar_name(f)} in the export folder and run the "
                                  f"same export again to render that frame again")
    return {k: np.stack([r[k] for r in rows]) for k in first}
