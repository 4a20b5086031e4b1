"""Reading the user's SMPL-family model files without running code from them.

A .pkl is a pickle, and unpickling runs whatever the file names. The official
SMPL / SMPL-H / SMPL-X pickles are built from numpy arrays, scipy sparse
matrices and, in the original SMPL 1.0/1.1 release, chumpy `Ch` objects that
wrap a numpy array (state key "x"). So a .pkl is read by an Unpickler whose
find_class gives exactly those classes and refuses every other name; chumpy
itself is never imported: a `Ch` becomes the array it wraps. A .npz is read
with allow_pickle=False; its object members (SMPL-X's joint2num/part2num
dicts, which smplx does not use) are skipped, and every member's size is read
from its header before its data, so a compressed bomb is refused.
"""
from __future__ import annotations

import copyreg
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from posebooth.assets.body import BodyModelError

MAX_MEMBER_BYTES = 2 << 30   # SMPL-X's largest array (posedirs) is ~120 MB


class _Refused(pickle.UnpicklingError):
    """The file names something that is no part of a model file."""


class _ChumpyArray:
    """Stands in for chumpy.ch.Ch while unpickling: keeps only the wrapped array."""

    array: Any = None

    def __setstate__(self, state) -> None:
        self.array = state.get("x") if isinstance(state, dict) else None


def _numpy(module: str, name: str):
    import importlib

    return getattr(importlib.import_module(module), name)


def _sparse(name: str):
    import scipy.sparse

    return getattr(scipy.sparse, name)


# (module, name) as written in the file (Python 2 names included) -> what to build.
_ALLOWED = {
    **{(m, n): (lambda m=m, n=n: _numpy("numpy._core.multiarray", n))
       for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")},
    **{(m, "_frombuffer"): (lambda: _numpy("numpy._core.numeric", "_frombuffer"))
       for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    **{(f"scipy.sparse.{p}{fmt}", f"{fmt}_{kind}"): (lambda fmt=fmt, kind=kind: _sparse(f"{fmt}_{kind}"))
       for p in ("", "_") for fmt in ("csc", "csr") for kind in ("matrix", "array")},
    # protocol 0/1 objects and Python 3 bytes in protocol 2: construction helpers whose
    # classes and arguments come from this same list
    ("copy_reg", "_reconstructor"): lambda: copyreg._reconstructor,
    ("copyreg", "_reconstructor"): lambda: copyreg._reconstructor,
    ("__builtin__", "object"): lambda: object,
    ("builtins", "object"): lambda: object,
    ("__builtin__", "set"): lambda: set,   # chumpy's _dirty_vars
    ("builtins", "set"): lambda: set,
    ("_codecs", "encode"): lambda: _latin1_encode,
    ("chumpy.ch", "Ch"): lambda: _ChumpyArray,
    ("chumpy", "Ch"): lambda: _ChumpyArray,
}


def _latin1_encode(text, encoding="latin1"):
    """How Python 3 writes bytes into a protocol 0-2 pickle; only that codec is honoured."""
    if encoding != "latin1" or not isinstance(text, str):
        raise _Refused(f"_codecs.encode with the codec {str(encoding)[:40]!r}")
    return text.encode("latin1")


class _ModelUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        make = _ALLOWED.get((module, name))
        if make is None:
            raise _Refused(f"{module}.{name}"[:200])
        return make()


def _load_pkl(path: Path, what: str) -> dict:
    try:
        with open(path, "rb") as f:
            data = _ModelUnpickler(f, encoding="latin1").load()
    except _Refused as e:
        raise BodyModelError(f"{path}: refused: it asks to build {e}, which is no part of a {what} model "
                             "file (a pickle can run code; only numpy arrays, scipy sparse matrices and "
                             "chumpy arrays are read)") from None
    except MemoryError:
        raise BodyModelError(f"{path}: not a usable {what} model file (it asks for more memory than there "
                             "is)") from None
    except Exception as e:  # truncated or damaged: the unpickler's own words, on one line
        raise BodyModelError(f"{path}: not a usable {what} model file ({type(e).__name__}: "
                             f"{' '.join(str(e).split())[:200]})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise BodyModelError(f"{path}: not a usable {what} model file (it holds a {type(data).__name__}, "
                             "not the model's dict of arrays)")
    out = {}
    for key, value in data.items():
        while isinstance(value, _ChumpyArray):
            value = value.array
        if value is None:
            raise BodyModelError(f"{path}: {key}: a chumpy value without its array; convert the file "
                                 "with smplx's tools/clean_ch.py or use the .npz version")
        out[key] = value
    return out


def _header(npz, key: str) -> np.dtype | None:
    """The dtype of member `key`, after checking its size from the header (no data read)."""
    fmt = np.lib.format
    with npz.zip.open(f"{key}.npy") as f:
        version = fmt.read_magic(f)
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"{key}: .npy format version {version} is not read")
        shape, _, dtype = read(f)
    size = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if size > MAX_MEMBER_BYTES:
        raise ValueError(f"{key}: an array of {size} bytes, more than a model file holds")
    return dtype


def _load_npz(path: Path, what: str) -> dict:
    out = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise ValueError("a single .npy array, not an .npz archive")
            members = set(npz.zip.namelist())
            for key in npz.files:
                if f"{key}.npy" not in members or _header(npz, key).hasobject:
                    continue  # raw members, pickled Python objects (SMPL-X's joint2num): never read
                out[key] = npz[key]
    except (ValueError, OSError, EOFError, KeyError) as e:
        raise BodyModelError(f"{path}: not a usable {what} model file ({' '.join(str(e).split())[:200]})") from None
    except Exception as e:  # zipfile.BadZipFile and the like
        raise BodyModelError(f"{path}: not a usable {what} model file ({type(e).__name__}: "
                             f"{' '.join(str(e).split())[:200]})") from None
    return out


def read_model_file(path: Path, what: str = "SMPL") -> dict[str, Any]:
    """The arrays of an SMPL-family (`what`) model file (.pkl or .npz), read without
    running code from it; BodyModelError (one line naming the file) otherwise."""
    if path.suffix == ".pkl":
        return _load_pkl(path, what)
    if path.suffix == ".npz":
        return _load_npz(path, what)
    raise BodyModelError(f"{path}: a model file is a .pkl or an .npz")
