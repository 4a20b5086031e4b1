"""scipy's Rotation, imported on first use.

Importing scipy.spatial costs about half a second, and the app's window
opens without needing a single rotation (the body thread poses through
torch); modules that turn joints use this name instead of importing scipy
at their top. It behaves as scipy.spatial.transform.Rotation for every
class attribute (from_rotvec, from_matrix, identity, ...).
"""
from __future__ import annotations


class _Rotation:
    def __getattr__(self, name):
        from scipy.spatial.transform import Rotation

        return getattr(Rotation, name)


Rotation = _Rotation()
