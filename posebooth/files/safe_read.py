"""The one bounded reader for the user's files (scenes, motions).

A path the user names may be anything: a FIFO (a plain open() blocks until a
writer comes), /dev/zero (endless), a socket, a folder, a file that grows
while it is read. So: open with O_NONBLOCK (a FIFO opens at once), look at
what was actually opened (fstat of the fd, not of the path, so a swapped
symlink cannot slip through), accept only regular files, and never read more
than the caller's limit.
"""
from __future__ import annotations

import errno
import os
import stat

_CHUNK = 1 << 20


class UserFileError(ValueError):
    """The file cannot be read as asked; the message is one line naming it."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def read_user_file(path: str | os.PathLike, what: str, max_bytes: int) -> bytes:
    """All of `path`'s bytes, or UserFileError (one line: the path, what is
    wrong, what is allowed). `what` names the file's role ("scene file")."""
    shown = os.fsdecode(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UserFileError(f"{shown}: no such file") from None
    except PermissionError:
        raise UserFileError(f"{shown}: permission denied (cannot read this {what})") from None
    except OSError as e:
        if e.errno == errno.ENXIO:   # a socket (or a device with nothing behind it)
            raise UserFileError(f"{shown}: is not a regular file; a {what} must be one") from None
        if e.errno == errno.ELOOP:
            raise UserFileError(f"{shown}: a loop of symbolic links") from None
        raise UserFileError(f"{shown}: cannot open ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = _kind(st.st_mode)
            raise UserFileError(f"{shown}: is {kind}, not a {what}" if kind.startswith("a ")
                                else f"{shown}: is {kind}; a {what} must be one")
        if st.st_size > max_bytes:
            raise UserFileError(f"{shown}: {_size(st.st_size)} is more than the {_size(max_bytes)} "
                                f"a {what} may be")
        chunks, total = [], 0
        while total <= max_bytes:   # read one byte past the limit to notice a file that grew
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise UserFileError(f"{shown}: grew past the {_size(max_bytes)} a {what} may be while it was read")
        return b"".join(chunks)
    except OSError as e:
        raise UserFileError(f"{shown}: cannot read ({e.strerror or e})") from None
    finally:
        os.close(fd)
