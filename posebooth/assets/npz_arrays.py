"""Arrays out of a user's .npz, checked before anything is allocated.

np.load trusts the file: a member header claiming shape (10**12, 72) is
allocated as asked, a small deflated member can unpack to gigabytes, and a
member that is not an .npy at all surfaces as an AttributeError. Here each
member's .npy header is read and checked first (numeric dtype, never
pickled objects, a payload that matches the shape), and the caller reads only
the rows it needs, so what is decompressed is bounded by what is used, not
by what the file claims. The archive's bytes come from the bounded reader.
"""
from __future__ import annotations

import io
import math
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy_format

MAX_MEMBERS = 1000            # AMASS files hold about ten arrays
_CHUNK_BYTES = 8 << 20        # rows are decoded this much at a time
_MAX_WHOLE_BYTES = 256 << 20  # a Fortran-order array cannot be read by rows, so it is read whole, up to this
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError)


class NpzError(ValueError):
    """The archive or one of its arrays is unusable; one line naming the file and key."""


@dataclass(frozen=True)
class Member:
    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    info: zipfile.ZipInfo
    offset: int               # where the data starts, after the .npy header


def _entry_count(data: bytes) -> int | None:
    """Entries the archive's end record declares (zipfile would build an
    object for each before any check of ours)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if end < 0:
        return None
    count = int.from_bytes(data[end + 10:end + 12], "little")
    loc = end - 20
    if count == 0xFFFF and loc >= 0 and data[loc:loc + 4] == b"PK\x06\x07":   # ZIP64: the count is elsewhere
        rec = int.from_bytes(data[loc + 8:loc + 16], "little")
        if data[rec:rec + 4] == b"PK\x06\x06":
            count = int.from_bytes(data[rec + 32:rec + 40], "little")
    return count


class NpzArchive:
    def __init__(self, data: bytes, where: str):
        self.where = where
        count = _entry_count(data)
        if count is None or not zipfile.is_zipfile(io.BytesIO(data)):
            raise NpzError(f"{where}: not an .npz archive (AMASS motions are .npz files)")
        if count > MAX_MEMBERS:
            raise NpzError(f"{where}: the archive lists {count} members; a motion file has at most {MAX_MEMBERS}")
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (*_DAMAGED, ValueError) as e:
            raise NpzError(f"{where}: cannot read the archive ({e})") from None
        names = self._zip.namelist()
        # np.load's naming: a member "poses.npy" is the array "poses".
        self.names = {(n[:-4] if n.endswith(".npy") else n): n for n in names}
        self._headers: dict[str, Member] = {}

    @property
    def keys(self) -> set[str]:
        return set(self.names)

    def header(self, key: str) -> Member:
        if key in self._headers:
            return self._headers[key]
        info = self._zip.getinfo(self.names[key])
        where = f"{self.where}: {key!r}"
        try:
            with self._zip.open(info) as f:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(f)
                else:
                    raise NpzError(f"{where} is a .npy of version {version[0]}.{version[1]}; "
                                   f"PoseBooth reads versions 1.0 and 2.0")
                offset = f.tell()
        except NpzError:
            raise
        except ValueError as e:   # bad magic or header: not an .npy member
            raise NpzError(f"{where} is not a numpy array (.npy) member ({str(e).splitlines()[0]})") from None
        except _DAMAGED as e:
            raise NpzError(f"{where} is unreadable; the file looks damaged ({e})") from None
        if dtype.hasobject:
            raise NpzError(f"{self.where}: the file contains pickled objects, which PoseBooth refuses to load "
                           f"(in {key!r})")
        if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "fiu":
            raise NpzError(f"{where} holds {dtype} values, not numbers")
        need = math.prod(shape) * dtype.itemsize
        if info.file_size - offset != need:
            raise NpzError(f"{where} is damaged: its header says shape {tuple(shape)} of {dtype} "
                           f"({need} bytes) but it holds {info.file_size - offset} bytes")
        member = Member(key, tuple(int(s) for s in shape), dtype, bool(fortran), info, offset)
        self._headers[key] = member
        return member

    def _read(self, m: Member, nbytes: int, out_rows, row_bytes: int) -> None:
        where = f"{self.where}: {m.key!r}"
        try:
            with self._zip.open(m.info) as f:
                f.read(m.offset)
                done = 0
                while done < nbytes:
                    want = min(nbytes - done, max(row_bytes, _CHUNK_BYTES // row_bytes * row_bytes))
                    chunk = f.read(want)
                    if len(chunk) < want:
                        raise NpzError(f"{where} is truncated: the file ends inside its data")
                    out_rows(chunk)
                    done += want
        except NpzError:
            raise
        except _DAMAGED as e:
            raise NpzError(f"{where} is unreadable; the file looks damaged ({e})") from None

    def read_rows(self, key: str, rows: int, cols: int) -> np.ndarray:
        """The first `rows` rows and `cols` columns of a 2-D member, as float64."""
        m = self.header(key)
        n, width = m.shape
        rows = min(rows, n)
        out: list[np.ndarray] = []
        if m.fortran:   # column-major: rows are not contiguous, so read it whole (bounded)
            if n * width * m.dtype.itemsize > _MAX_WHOLE_BYTES:
                raise NpzError(f"{self.where}: {key!r} is stored column-major (Fortran order) and too large "
                               f"to read whole; save it with numpy's default (C) order")
            self._read(m, n * width * m.dtype.itemsize, out.append, max(1, width * m.dtype.itemsize))
            whole = np.frombuffer(b"".join(out), dtype=m.dtype).reshape(width, n).T
            return whole[:rows, :cols].astype(np.float64)
        row_bytes = width * m.dtype.itemsize
        parts: list[np.ndarray] = []
        self._read(m, rows * row_bytes, lambda b: parts.append(
            np.frombuffer(b, dtype=m.dtype).reshape(-1, width)[:, :cols].astype(np.float64)), row_bytes)
        return np.concatenate(parts) if parts else np.zeros((0, cols))

    def read_small(self, key: str, max_items: int) -> np.ndarray:
        """A whole member of at most `max_items` values (a rate, betas), flat float64."""
        m = self.header(key)
        size = math.prod(m.shape)
        if size > max_items:
            raise NpzError(f"{self.where}: {key!r} has {size} values; at most {max_items} are expected")
        parts: list[bytes] = []
        self._read(m, size * m.dtype.itemsize, parts.append, max(1, m.dtype.itemsize))
        flat = np.frombuffer(b"".join(parts), dtype=m.dtype)
        return flat.astype(np.float64)
