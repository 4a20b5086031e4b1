"""Writing a file where the user asked, or one line saying why not."""
from __future__ import annotations

import stat
from pathlib import Path

from posebooth.cli.errors import CliError


def check_writable(path: Path, what: str) -> None:
    """Checked before writing: a folder, a missing folder, or a special file
    (a FIFO, /dev/null: the atomic rename would replace the device node)."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):   # the folder checks below say which
        mode = None
    except OSError as e:
        raise CliError(f"{path}: cannot write there ({e.strerror or e})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise CliError(f"{path}: is a folder; give a {what} file name, e.g. {path / ('x' + path.suffix)}")
    if mode is not None and not stat.S_ISREG(mode):
        raise CliError(f"{path}: is not a regular file; a {what} is written to a regular file")
    if not path.parent.is_dir():
        state = "is not a folder" if path.parent.exists() else "no such folder"
        raise CliError(f"{path.parent}: {state} (to write {path.name} in)")


def write_output_file(out, data: bytes, what: str) -> Path:
    """Atomically write `data` to `out` (a scene, a recipe)."""
    from posebooth.files.atomic import atomic_write_bytes

    path = Path(out)
    check_writable(path, what)
    try:
        atomic_write_bytes(path, data)
    except PermissionError:
        raise CliError(f"{path}: permission denied (cannot write in {path.parent})") from None
    except OSError as e:
        raise CliError(f"{path}: cannot write ({e.strerror or e})") from None
    return path
