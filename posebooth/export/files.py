"""Writing inside an export folder, safely (FORMAT.md, writing rules).

* Nothing is written outside OUT: relative names only, no `..`, no absolute
  paths, and every folder is resolved (symlinks followed) and must still lie
  inside the resolved OUT.
* Every file is written by posebooth.files.atomic: to a temporary name in
  its own folder, renamed into place (atomic within a file system), with the
  mode the umask gives; so a killed process never leaves a truncated file
  under a final name, only `.*.tmp` litter, which `clean_temp_files` removes
  on the next run.
* A full disk, a quota, a file size limit, a read-only folder: one
  ExportError line naming the file and OUT, with the temporary file removed.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path, PurePosixPath

from posebooth.files.atomic import TEMP_SUFFIX, atomic_write_bytes, replace_into, temp_file_beside


class ExportError(RuntimeError):
    """The export cannot go on; the message says why and what to do."""


class SafeOut:
    """An export root. `path(rel)` validates; `write_bytes(rel, data)` writes
    atomically. Thread-safe (its only state, a cache of checked folders, is
    filled idempotently)."""

    def __init__(self, root: str | os.PathLike, create: bool = True):
        root = Path(root).expanduser()
        if create:
            try:
                root.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise ExportError(f"{root}: exists and is not a folder; the output must be a folder") from None
            except OSError as e:
                raise ExportError(f"{root}: cannot create the output folder: {_reason(e)}") from None
        if not root.is_dir():
            raise ExportError(f"{root}: not a folder; the output must be a folder")
        self.root = Path(os.path.realpath(root))
        self._made: set[str] = set()
        self._folders: dict[tuple[str, ...], Path] = {}   # checked folders, by relative parts

    def path(self, rel: str) -> Path:
        """The absolute path of `rel` inside OUT; raises ExportError for a name
        that would land outside it (absolute, `..`, a symlinked folder or file
        pointing elsewhere)."""
        rel_s = str(rel).replace("\\", "/")
        parts = PurePosixPath(rel_s).parts
        if not rel_s or rel_s.startswith("/") or Path(rel_s).is_absolute() or ".." in parts \
                or any(p in ("", ".") for p in rel_s.split("/")):
            raise ExportError(f"refusing to write {rel!r}: not a plain relative name inside {self.root}")
        target = self.root.joinpath(*parts)
        folder = self._folders.get(parts[:-1])
        if folder is None:
            folder = Path(os.path.realpath(target.parent))
            if folder != self.root and self.root not in folder.parents:
                raise ExportError(f"refusing to write {rel}: {target.parent} leads outside {self.root}")
            if folder.is_dir():   # resolved for good once it exists (thousands of files per folder)
                self._folders[parts[:-1]] = folder
        if target.is_symlink():
            dest = Path(os.path.realpath(target))
            if dest != self.root and self.root not in dest.parents:
                raise ExportError(f"refusing to write {rel}: it is a symlink to {dest}, outside {self.root}")
        return folder / target.name

    def ensure_folder(self, rel: str) -> Path:
        """Create folder `rel` inside OUT (validated like a file name)."""
        if rel in self._made:
            return self.root / rel
        probe = self.path(f"{rel}/x")
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _as_export_error(e, rel, self.root) from None
        # Created by us now: re-check that no component was a link outside.
        self.path(f"{rel}/x")
        self._made.add(rel)
        return probe.parent

    def write_bytes(self, rel: str, data: bytes | memoryview, fsync: bool = False) -> Path:
        """Atomically write `data` to OUT/rel. fsync=True also flushes it to disk
        (for bookkeeping files that mark other files as complete)."""
        target = self.path(rel)
        if not target.parent.is_dir():
            self.ensure_folder(str(PurePosixPath(str(rel).replace("\\", "/")).parent))
        try:
            return atomic_write_bytes(target, data, fsync=fsync)
        except OSError as e:
            raise _as_export_error(e, rel, self.root) from None

    def temp_path_for(self, rel: str) -> Path:
        """A fresh temporary path beside OUT/rel with the same extension (for
        writers such as ffmpeg that pick the format from the name); move it
        into place with `commit`."""
        target = self.path(rel)
        try:
            fd, tmp = temp_file_beside(target, suffix=f"{TEMP_SUFFIX}{target.suffix}")
        except OSError as e:
            raise _as_export_error(e, rel, self.root) from None
        os.close(fd)
        return tmp

    def commit(self, tmp: Path, rel: str) -> Path:
        try:
            return replace_into(tmp, self.path(rel))
        except OSError as e:
            raise _as_export_error(e, rel, self.root) from None

    def exists(self, rel: str) -> bool:
        return self.path(rel).is_file()

    def clean_temp_files(self) -> int:
        """Remove temporary files an interrupted run left behind; returns how many."""
        n = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
            for name in filenames:
                if name.startswith(".") and (name.endswith(TEMP_SUFFIX) or f"{TEMP_SUFFIX}." in name):
                    try:
                        os.unlink(os.path.join(dirpath, name))
                        n += 1
                    except OSError:
                        pass
        return n


def _reason(e: OSError) -> str:
    if e.errno == errno.ENOTDIR:
        return "a part of that path is a file, not a folder"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (choose a folder you can write to)"
    if e.errno == errno.EROFS:
        return "the file system is read-only (choose a folder you can write to)"
    return str(e.strerror or e)


def _as_export_error(e: OSError, rel: str, root: Path | None = None) -> ExportError:
    where = rel if root is None else f"{rel} in {root}"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return ExportError(f"the disk is full while writing {where}; nothing partial was left under "
                           f"that name. Free some space and run the same command again to resume.")
    if e.errno == errno.EFBIG:
        return ExportError(f"{where} would be larger than this process may write (the file size limit, "
                           f"`ulimit -f`, or the file system's); nothing partial was left under that name. "
                           f"Raise the limit and run the same command again to resume.")
    return ExportError(f"cannot write {where}: {_reason(e)}")
