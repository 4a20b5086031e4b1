"""`posebooth gui [SCENE]`: the one place the command line reaches the Qt app
(named in the import contract's exceptions)."""
from __future__ import annotations


def run_gui(scene_path: str | None) -> int:
    from posebooth.ui.app import run_app
    return run_app(scene_path)
