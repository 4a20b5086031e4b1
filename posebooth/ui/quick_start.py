"""A warm start drawn from the kept first frame (assets.first_frame).

Before the window is built, the scene it will open (the file named on the
command line, or a new scene) is read once more here and its first frame
looked up among the kept ones. On a hit the window is shown as soon as it is
built, with the kept meshes, and the body model starts building only after
that first frame is on screen (the two would otherwise share one GIL). On a
miss the app starts as before and, once the body is in, keeps the frame it
drew for the next start.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QTimer

from posebooth.assets import first_frame

logger = logging.getLogger(__name__)
FIRST_PAINT_WAIT_MS = 1500   # start the body anyway if no frame is reported (no GL viewport)


@dataclass(frozen=True)
class KeptFrame:
    people_json: str   # first_frame.people_json of the scene it was found for
    frame: float
    people: list       # empty for a scene without people: it needs no body to draw


def find_kept_frame(scene_path) -> KeptFrame | None:
    """The kept first frame of the scene the window is about to open, or None."""
    from posebooth.assets.starter import starter_scene
    from posebooth.scene.io import load_scene
    try:
        scene = load_scene(scene_path) if scene_path else starter_scene()
    except Exception:  # noqa: BLE001 - the window opens it again and reports why
        return None
    frame = scene.timeline.start
    people = first_frame.load(scene, frame) if scene.people else []
    return None if people is None else KeptFrame(first_frame.people_json(scene), frame, people)


def use_kept_frame(doc, kept: KeptFrame) -> bool:
    """Start `doc` on the kept frame when the document opened the same people
    at the same frame (the rest of the key is this process's, read just now)."""
    if doc.frame != kept.frame or first_frame.people_json(doc.scene) != kept.people_json:
        return False
    doc.show_kept_frame(kept.people)
    return True


def keep_first_frame(doc) -> None:
    """Keep what the window drew at start-up for the next start (never raises)."""
    try:
        people = doc.posed()
    except Exception:  # noqa: BLE001 - nothing to keep; the viewport already says why
        return
    if all(p.body.name == "anny" for p in people):   # save() refuses scenes it does not key
        first_frame.save(doc.scene, doc.frame, people)


def after_first_paint(window, start) -> None:
    """Call `start()` once the window's viewport has put a frame on screen."""
    done: list = []

    def once():
        if not done:
            done.append(True)
            start()

    viewport = getattr(window, "viewport", None)
    if hasattr(viewport, "frameSwapped"):
        viewport.frameSwapped.connect(once)
    QTimer.singleShot(FIRST_PAINT_WAIT_MS, window, once)   # dropped with the window
