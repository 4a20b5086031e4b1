"""Atomic file writes that honour the umask: the one way this project
replaces a file (scenes, autosaves, presets, every exported file).

A temporary file is made beside the target (same file system, so the final
os.replace is atomic), written, optionally fsynced, given the mode a plain
`open(path, "w")` would give (0o666 less the umask: `mkstemp` alone makes
0600, which hides datasets on shared storage from the team), and renamed
into place. A reader never sees a truncated file under the final name; a
killed process leaves only `.<name>.*.tmp` litter.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def _read_umask() -> int:
    """The process umask. Linux reports it in /proc/self/status; elsewhere
    the os.umask round trip, done once at import (it briefly changes the
    umask, which is only safe before other threads create files)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()


def file_mode() -> int:
    """The mode a newly created file gets here: 0o666 less the umask."""
    return 0o666 & ~UMASK


def temp_file_beside(target: str | os.PathLike, suffix: str = TEMP_SUFFIX) -> tuple[int, Path]:
    """(open fd, path) of a fresh temporary file in target's folder, named
    `.<name>.<random><suffix>`, already given file_mode()."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    try:
        os.fchmod(fd, file_mode())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, Path(tmp)


def replace_into(tmp: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Rename a finished temporary file (temp_file_beside's, or one another
    program such as ffmpeg rewrote) into place with file_mode(); the
    temporary file is removed if that fails."""
    try:
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(target)


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview, *, fsync: bool = True) -> Path:
    """Replace `path` with `data` atomically. fsync=True (the default) also
    flushes the data to disk before the rename, so a crash leaves the old
    file or the new one, never an empty one. Raises OSError; nothing is left
    behind on failure."""
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return replace_into(tmp, path)
