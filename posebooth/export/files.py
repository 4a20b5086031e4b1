"""Writing inside an export folder, safely (FORMAT.md, writing rules).

* Nothing is written outside OUT: relative names only, no `..`, no absolute
  paths, and every folder is resolved (symlinks followed) and must still lie
  inside the resolved OUT.
* Every file is written to a temporary name in its own folder and renamed
  into place (os.replace is atomic within a file system), so a killed process
  never leaves a truncated file under a final name; only `.*.tmp` litter,
  which `clean_temp_files` removes on the next run.
* A full disk (or quota) becomes an ExportError naming the file, with the
  temporary file removed.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path, PurePosixPath

TEMP_SUFFIX = ".tmp"


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
                raise ExportError(f"{root}: exists and is not a folder") from None
            except OSError as e:
                raise ExportError(f"{root}: cannot create the output folder ({e.strerror or e})") from None
        if not root.is_dir():
            raise ExportError(f"{root}: not a folder")
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
            raise _as_export_error(e, rel) from None
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
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
        except OSError as e:
            raise _as_export_error(e, rel) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(e, OSError):
                raise _as_export_error(e, rel) from None
            raise
        return target

    def temp_path_for(self, rel: str) -> Path:
        """A fresh temporary path beside OUT/rel with the same extension (for
        writers such as ffmpeg that pick the format from the name); move it
        into place with `commit`."""
        target = self.path(rel)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f"{TEMP_SUFFIX}{target.suffix}",
                                       dir=target.parent)
        except OSError as e:
            raise _as_export_error(e, rel) from None
        os.close(fd)
        return Path(tmp)

    def commit(self, tmp: Path, rel: str) -> Path:
        target = self.path(rel)
        try:
            os.replace(tmp, target)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise _as_export_error(e, rel) from None
        return target

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


def _as_export_error(e: OSError, rel: str) -> ExportError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return ExportError(f"the disk is full while writing {rel}; nothing partial was left under "
                           f"that name. Free some space and run the same command again to resume.")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ExportError(f"cannot write {rel}: {e.strerror}")
    return ExportError(f"cannot write {rel}: {e.strerror or e}")
