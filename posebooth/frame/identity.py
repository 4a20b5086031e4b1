"""The identity reference of a scene (scene.model.IdentityReference) -> the pixels a
generation request carries (frame.request.Identity).

The file is read with the one bounded image reader (assets.reference_image) and
checked against the sha256 the scene stored: a missing, changed or unreadable
file is one IdentityError line naming it. The scene itself opens regardless;
`identity_problem` gives that line without raising (for a status message).
"""
from __future__ import annotations

import os

from posebooth.assets.props import sha256_of
from posebooth.assets.reference_image import ReferenceImageError, read_image_file
from posebooth.frame.request import Identity
from posebooth.scene.model import IdentityReference
from posebooth.scene.props import FileRef


class IdentityError(ValueError):
    """The identity reference cannot be used; the message is one line naming the file."""


def _named(e: Exception) -> str:
    return str(e).replace("reference image", "identity image", 1)


_CACHE: dict[tuple, Identity] = {}


def make_identity_reference(path, scale: float = 0.6) -> IdentityReference:
    """A reference for an image file (read and checked now; stored as absolute path + sha256)."""
    try:
        data, _ = read_image_file(path)
    except ReferenceImageError as e:
        raise IdentityError(_named(e)) from None
    full = os.path.abspath(os.fsdecode(path))
    return IdentityReference(image=FileRef(path=full, sha256=sha256_of(data)), scale=scale)


def load_identity(ref: IdentityReference) -> Identity:
    """The reference's pixels and scale, as a request carries them (cached by path, hash and
    the file's size and time: a file deleted or rewritten since is read, and reported, again)."""
    try:
        st = os.stat(ref.image.path)
        key = (ref.image.path, ref.image.sha256, st.st_mtime_ns, st.st_size)
    except (OSError, ValueError):
        key = None  # missing: read_image_file says so in its one line
    if key is None or key not in _CACHE:
        try:
            data, rgb = read_image_file(ref.image.path)
        except ReferenceImageError as e:
            raise IdentityError(_named(e)) from None
        if sha256_of(data) != ref.image.sha256:
            raise IdentityError(f"{ref.image.path}: the identity image changed since it was chosen "
                                "(its sha256 differs); choose it again")
        if len(_CACHE) > 4:
            _CACHE.clear()
        _CACHE[key] = Identity(rgb, ref.scale, ref.image.sha256)
    cached = _CACHE[key]
    return cached if cached.scale == ref.scale else Identity(cached.image, ref.scale, cached.sha256)


def identity_of(gen) -> Identity | None:
    """scene.generation's identity, loaded (None when the scene has none)."""
    ref = getattr(gen, "identity", None)
    return None if ref is None else load_identity(ref)


def identity_problem(gen) -> str | None:
    """The one line saying why the scene's identity image cannot be used, or None."""
    try:
        identity_of(gen)
    except IdentityError as e:
        return str(e)
    return None
