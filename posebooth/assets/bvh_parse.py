"""Parse a BVH motion-capture file into its skeleton and channel values, bounded.

BVH is text: a HIERARCHY of joints (OFFSET from the parent; CHANNELS naming
the values each frame line holds for the joint, rotations in the order they
compose), then MOTION: `Frames: N`, `Frame Time: t` and N lines of values.
Sizes are checked before anything is allocated for them; every refusal is a
MotionError of one line naming the file and the line and field at fault.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from posebooth.assets.motion import MotionError
from posebooth.files.safe_read import UserFileError, read_user_file
from posebooth.scene.model import MAX_FPS, MIN_FPS

MAX_BVH_BYTES = 256 << 20          # like AMASS files: long takes are tens of MB
MAX_HIERARCHY_CHARS = 1 << 20      # a 256-joint skeleton takes ~80 kB
MAX_JOINTS = 256
MAX_END_SITES = 256
MAX_FRAMES = 1_000_000
MAX_VALUES = 64_000_000            # frames x channels held as float64: 512 MB
MAX_NUMBER = 1e7                   # |OFFSET| and |channel value| (file units or degrees)
CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL = {c.lower(): c for c in CHANNELS}
_MOTION_LINE = re.compile(r"^[ \t]*MOTION[ \t]*\r?$", re.M)
_CHUNK_LINES = 4096


@dataclass(frozen=True)
class Joint:
    name: str
    parent: int                  # index into Bvh.joints, -1 for the root
    offset: np.ndarray           # (3,) from the parent, file units
    channels: tuple[str, ...]    # names from CHANNELS, in the file's order
    first: int                   # column of the first channel in a frame line


@dataclass(frozen=True)
class Bvh:
    where: str
    joints: tuple[Joint, ...]                     # parents before children
    end_sites: tuple[tuple[int, np.ndarray], ...]  # (joint, offset)
    frame_time: float
    values: np.ndarray                            # (frames, channels)


def read_bvh_file(path: str | os.PathLike) -> Bvh:
    try:
        data = read_user_file(path, "BVH motion file", MAX_BVH_BYTES)
    except UserFileError as e:
        raise MotionError(str(e)) from None
    text = data.decode("utf-8", errors="replace")
    del data                                   # the text alone is big enough
    return parse_bvh(text, os.fsdecode(path))


class _Tokens:
    """The HIERARCHY's tokens with their line numbers."""

    def __init__(self, text: str, where: str):
        self.items = [(tok, n) for n, line in enumerate(text.split("\n"), 1) for tok in line.split()]
        self.i, self.where = 0, where

    def fail(self, msg: str, line: int | None = None):
        if line is None:
            line = self.items[min(self.i, len(self.items)) - 1][1] if self.items else 1
        raise MotionError(f"{self.where}: line {line}: {msg}")

    def next(self, what: str) -> tuple[str, int]:
        if self.i >= len(self.items):
            self.fail(f"the file ends inside the HIERARCHY where {what} was expected (truncated?)")
        self.i += 1
        return self.items[self.i - 1]

    def expect(self, word: str) -> None:
        tok, n = self.next(repr(word))
        if tok != word:
            self.fail(f"expected {word!r}, found {tok[:40]!r}", n)

    def number(self, what: str) -> float:
        tok, n = self.next(what)
        try:
            v = float(tok)
        except ValueError:
            v = None
        if v is None or not abs(v) <= MAX_NUMBER:
            self.fail(f"{what} is {tok[:40]!r}; it must be a finite number within +-{MAX_NUMBER:g}", n)
        return v


def _hierarchy(tokens: _Tokens) -> tuple[list[Joint], list[tuple[int, np.ndarray]]]:
    tokens.expect("HIERARCHY")
    if tokens.i >= len(tokens.items):
        tokens.fail("the HIERARCHY has no joints; it must start with 'ROOT' and the root joint")
    tok, n = tokens.next("'ROOT'")
    if tok != "ROOT":
        tokens.fail(f"expected 'ROOT' (the skeleton's first joint), found {tok[:40]!r}", n)
    joints: list[Joint] = []
    ends: list[tuple[int, np.ndarray]] = []
    names: set[str] = set()
    stack: list[int] = []          # open joints; -2 marks an open End Site
    columns = 0
    kind = "ROOT"
    while True:
        if kind in ("ROOT", "JOINT"):
            if len(joints) >= MAX_JOINTS:
                tokens.fail(f"more than {MAX_JOINTS} joints; a skeleton may have at most {MAX_JOINTS}")
            name, n = tokens.next(f"the {kind}'s name")
            if name in names:
                tokens.fail(f"joint name {name[:60]!r} appears twice; joint names must be unique", n)
            names.add(name)
            tokens.expect("{")
            tokens.expect("OFFSET")
            offset = np.array([tokens.number(f"{name[:60]}'s OFFSET {a}") for a in "xyz"])
            tokens.expect("CHANNELS")
            count = tokens.number(f"{name[:60]}'s CHANNELS count")
            if count not in range(7):
                tokens.fail(f"{name[:60]}'s CHANNELS count is {count:g}; it must be 0 to 6")
            chans = []
            for _ in range(int(count)):
                tok, n = tokens.next(f"a channel name of {name[:60]}")
                canon = _CHANNEL.get(tok.lower())
                if canon is None or canon in chans:
                    tokens.fail(f"{name[:60]}'s channel {tok[:40]!r} is " + ("repeated" if canon else "unknown")
                                + f"; expected {int(count)} distinct of {', '.join(CHANNELS)}", n)
                chans.append(canon)
            joints.append(Joint(name, stack[-1] if stack else -1, offset, tuple(chans), columns))
            columns += len(chans)
            stack.append(len(joints) - 1)
        elif kind == "End":
            tokens.expect("Site")
            if len(ends) >= MAX_END_SITES:
                tokens.fail(f"more than {MAX_END_SITES} End Sites; a skeleton may have at most {MAX_END_SITES}")
            tokens.expect("{")
            tokens.expect("OFFSET")
            who = joints[stack[-1]].name[:60]
            ends.append((stack[-1], np.array([tokens.number(f"{who}'s End Site OFFSET {a}") for a in "xyz"])))
            tokens.expect("}")
        elif kind == "}":
            stack.pop()
            if not stack:
                break
        else:
            tokens.fail(f"expected 'JOINT', 'End Site' or '}}' inside {joints[stack[-1]].name[:60]!r}, "
                        f"found {kind[:40]!r}")
        if tokens.i >= len(tokens.items):
            tokens.fail(f"the file ends inside the HIERARCHY: joint {joints[stack[-1]].name[:60]!r} is not "
                        f"closed with '}}' (truncated?)")
        kind = tokens.next("'JOINT', 'End Site' or '}'")[0]
    if tokens.i < len(tokens.items):
        tok, n = tokens.items[tokens.i]
        tokens.fail(f"expected 'MOTION' after the skeleton, found {tok[:40]!r} (one ROOT per file is supported)", n)
    if columns == 0:
        tokens.fail("the skeleton has no CHANNELS; a BVH motion needs at least one")
    return joints, ends


class _Lines:
    """The lines of `text` from `pos` on, one at a time (no copy of the text)."""

    def __init__(self, text: str, pos: int):
        self.text, self.pos = text, pos

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.text):
            raise StopIteration
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        line, self.pos = self.text[self.pos: end], end + 1
        return line


def _header(lines: _Lines, where: str, key: str, line_no: int) -> tuple[str, int]:
    """The value after `key:` on the next non-blank line."""
    for line in lines:
        line_no += 1
        if line.strip():
            m = re.fullmatch(rf"\s*{key}\s*:\s*(\S+)\s*", line)
            if not m:
                raise MotionError(f"{where}: line {line_no}: expected '{key}: <number>', found "
                                  f"{line.strip()[:60]!r}")
            return m.group(1), line_no
    raise MotionError(f"{where}: line {line_no}: the file ends before '{key}:' (truncated?)")


def parse_bvh(text: str, where: str) -> Bvh:
    text = text[1:] if text.startswith("\ufeff") else text
    m = _MOTION_LINE.search(text)
    head = text[: m.start()] if m else text
    if len(head) > MAX_HIERARCHY_CHARS:
        raise MotionError(f"{where}: the HIERARCHY section is {len(head)} characters long (or 'MOTION' is "
                          f"missing); at most {MAX_HIERARCHY_CHARS} are read")
    if not head.lstrip().startswith("HIERARCHY"):
        raise MotionError(f"{where}: not a BVH file: it must start with 'HIERARCHY'")
    tokens = _Tokens(head, where)
    joints, ends = _hierarchy(tokens)
    line_no = head.count("\n") + 1           # the MOTION line
    if m is None:
        raise MotionError(f"{where}: line {line_no}: no 'MOTION' section after the HIERARCHY (truncated?)")
    lines = _Lines(text, m.end())
    next(lines)                              # the rest of the MOTION line
    raw, frames_line = _header(lines, where, "Frames", line_no)
    if not re.fullmatch(r"\+?\d{1,12}", raw) or not 1 <= int(raw) <= MAX_FRAMES:
        raise MotionError(f"{where}: line {frames_line}: 'Frames' is {raw[:40]!r}; it must be a whole number "
                          f"from 1 to {MAX_FRAMES}")
    n = int(raw)
    raw, line_no = _header(lines, where, r"Frame\s+Time", frames_line)
    try:
        dt = float(raw)
    except ValueError:
        dt = float("nan")
    if not 1.0 / MAX_FPS <= dt <= 1.0 / MIN_FPS:
        raise MotionError(f"{where}: line {line_no}: 'Frame Time' is {raw[:40]!r} seconds; it must be between "
                          f"{1 / MAX_FPS:g} and {1 / MIN_FPS:g} ({MIN_FPS:g} to {MAX_FPS:g} frames per second)")
    cols = sum(len(j.channels) for j in joints)
    rest = len(text) - m.end()
    if n * cols > MAX_VALUES or n * cols * 2 > rest + 2:   # each value takes a digit and a separator
        raise MotionError(f"{where}: line {frames_line}: 'Frames: {n}' with {cols} channels needs "
                          f"{n * cols} values; " + (f"at most {MAX_VALUES} are read" if n * cols > MAX_VALUES
                                                    else "the file is too short to hold them (truncated?)"))
    values = np.empty((n, cols))
    label = [f"{j.name[:60]} {c}" for j in joints for c in j.channels]
    done = 0
    while done < n:
        chunk = []
        for line in lines:
            chunk.append(line)
            if len(chunk) == min(_CHUNK_LINES, n - done):
                break
        first = line_no + 1
        if len(chunk) < min(_CHUNK_LINES, n - done):
            raise MotionError(f"{where}: line {first + len(chunk)}: the file ends after "
                              f"{done + len(chunk)} of the {n} frames 'Frames' (line {frames_line}) announces "
                              f"(truncated?)")
        split = [ln.split() for ln in chunk]
        for k, toks in enumerate(split):
            if len(toks) != cols:
                raise MotionError(f"{where}: line {first + k}: {len(toks)} values, expected {cols} (one per "
                                  f"channel of the HIERARCHY)")
        try:
            block = np.array([t for toks in split for t in toks], dtype=np.float64).reshape(len(chunk), cols)
        except ValueError:
            block = None
        bad = np.ones((len(chunk), cols), bool) if block is None else ~(np.abs(block) <= MAX_NUMBER)
        if bad.any():
            k, c = np.argwhere(bad)[0] if block is not None else _first_non_number(split)
            raise MotionError(f"{where}: line {first + k}: value {c + 1} ({label[c]}) is {split[k][c][:40]!r}; "
                              f"it must be a finite number within +-{MAX_NUMBER:g}")
        values[done: done + len(chunk)] = block
        done += len(chunk)
        line_no += len(chunk)
    extra = re.compile(r"\S").search(text, lines.pos)
    if extra:
        raise MotionError(f"{where}: line {line_no + 1 + text.count(chr(10), lines.pos, extra.start())}: more "
                          f"frame lines than 'Frames: {n}' (line {frames_line}) announces")
    return Bvh(where, tuple(joints), tuple(ends), dt, values)


def _first_non_number(split: list[list[str]]) -> tuple[int, int]:
    for k, toks in enumerate(split):
        for c, tok in enumerate(toks):
            try:
                float(tok)
            except ValueError:
                return k, c
    return 0, 0
