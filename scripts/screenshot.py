"""Save a screenshot of the PoseBooth window: `python scripts/screenshot.py OUT.png`.

Runs under the current DISPLAY, or starts its own Xvfb when there is none.
Loads a two-person starter scene with pose presets, selects a joint, waits
for the viewport's first frame, and grabs the window (compositing the GL
viewport's framebuffer, which QWidget.grab() may leave black).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def start_xvfb(size: str) -> subprocess.Popen | None:
    if os.environ.get("DISPLAY") or sys.platform != "linux":
        return None
    if not shutil.which("Xvfb"):
        sys.exit("no DISPLAY and no Xvfb: install xvfb (see the Makefile's system-deps)")
    for n in range(90, 120):
        if Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
            continue
        proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                os.environ["DISPLAY"] = f":{n}"
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        proc.kill()
    sys.exit("could not start Xvfb")


def demo_scene():
    from posebooth.assets.starter import starter_scene
    scene = starter_scene(people=2, preset="contrapposto", frames=48, width=768, height=512)
    try:
        from posebooth.assets.presets import get_preset
        from posebooth.scene.model import PoseKey
        waving = get_preset("waving").to_key_fields()
        p = scene.people[1]
        x = p.keys[0].transl[0]
        waving["transl"] = [x + waving["transl"][0], waving["transl"][1], waving["transl"][2]]
        p.keys = [p.keys[0], PoseKey(frame=24, **waving), PoseKey(frame=47, **p.keys[0].model_dump(
            exclude={"frame"}))]
        scene.people[0].keys = [*scene.people[0].keys, PoseKey(frame=36, **scene.people[0].keys[0].model_dump(
            exclude={"frame"}))]
    except Exception as e:  # noqa: BLE001 - a plainer scene still makes a screenshot
        print(f"screenshot: presets unavailable ({e})", file=sys.stderr)
    scene.generation.prompt = ("two dancers in a sunlit loft, linen clothes, soft window light, "
                               "35mm photo, high detail")
    return scene


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", default="1600x1000")
    ap.add_argument("--wait", type=float, default=3.0, help="seconds to let the first frames render")
    ap.add_argument("--panel", choices=("pose", "shape", "camera"), default="pose",
                    help="which of the tabbed panels is in front")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    xvfb = start_xvfb(f"{w + 100}x{h + 100}")
    # Private settings and autosave folders: a screenshot never reads or writes the user's.
    tmp = tempfile.TemporaryDirectory(prefix="posebooth-shot-")
    os.environ["POSEBOOTH_AUTOSAVE_DIR"] = str(Path(tmp.name) / "autosave")
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    try:
        from PySide6.QtCore import QElapsedTimer, QSettings
        from PySide6.QtGui import QPainter
        from PySide6.QtWidgets import QApplication
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp.name)
        from posebooth.ui.app import make_app
        app = make_app()
        from posebooth.ui.document import SceneDocument
        from posebooth.ui.main_window import MainWindow
        doc = SceneDocument(demo_scene())
        doc.set_frame(10)
        win = MainWindow(doc)
        win.resize(w, h)
        win.show()
        doc.select(0, 16)  # Person 1's left shoulder: the gizmo and the pose panel show it
        getattr(win, f"{args.panel}_dock").raise_()
        timer = QElapsedTimer()
        timer.start()
        while timer.elapsed() < args.wait * 1000:
            app.processEvents()
            time.sleep(0.02)
        if hasattr(win.viewport, "frame_all"):
            win.viewport.frame_all()
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        image = win.grab().toImage()
        vp = win.viewport
        if hasattr(vp, "grabFramebuffer"):  # GL content: paint the framebuffer over the widget area
            fb = vp.grabFramebuffer()
            painter = QPainter(image)
            painter.drawImage(vp.mapTo(win, vp.rect().topLeft()), fb.scaled(vp.size()))
            painter.end()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(args.out)):
            print(f"cannot write {args.out}", file=sys.stderr)
            return 1
        print(f"wrote {args.out} ({image.width()}x{image.height()})")
        doc.undo_stack.setClean()
        win.close()
        QApplication.processEvents()
        return 0
    finally:
        tmp.cleanup()
        if xvfb is not None:
            xvfb.terminate()


if __name__ == "__main__":
    sys.exit(main())
