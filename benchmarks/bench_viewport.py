"""Viewport benchmark: the real ViewportWidget under X with the anny body.

  edit -> frame            doc.set_pose to the finished frame through Qt's event
                           loop (body forward pass, paint, Qt's composition of the
                           widget into the window, glFinish); one person. Target < 50 ms.
  edit -> grabFramebuffer  the same paint ending in grabFramebuffer() (no window
                           composition; adds the read-back)
  body forward             doc.posed() alone (part of both rows above)
  empty widget frame       a bare QOpenGLWidget of the same size that only clears:
                           Qt's composition + swap on this X server, paid by any GL widget
  orbit fps                frames per second while the view turns, one and four people

Medians (and 90th percentiles) over many repetitions; "cpu" is this process's
CPU time (llvmpipe's threads included). Needs an X server: uses $DISPLAY, else
starts `Xvfb` itself (xvfb-run or pytest-xvfb work too).

Run: .venv/bin/python benchmarks/bench_viewport.py [--reps 40] [--size 1280x720]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def ensure_display() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    if not shutil.which("Xvfb"):
        sys.exit("No $DISPLAY and no Xvfb: apt-get install xvfb, or run under xvfb-run")
    n = next(n for n in range(99, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["DISPLAY"] = f":{n}"
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.05)
    return proc


def get_body():
    try:
        from posebooth.assets.anny_body import get_anny_body
        body = get_anny_body()
        return body, f"{body.version}: {len(body.part_labels)} vertices, {len(body.faces)} faces"
    except Exception as exc:
        sys.path.insert(0, str(REPO / "tests"))
        from fake_body import fake_body
        body = fake_body()
        return body, f"NOTE: anny unavailable ({exc}); capsule fake body, {len(body.faces)} faces"


class Frames:
    """Counts a widget's paints so a measurement can wait for a real frame."""

    def __init__(self, app, widget, paint_attr: str, finish):
        self.app, self.widget, self.count, self.finish = app, widget, 0, finish
        inner = getattr(widget, paint_attr)

        def counted(*a):
            self.count += 1
            inner(*a)
        setattr(widget, paint_attr, counted)

    def next_frame(self) -> None:
        """Let the event loop paint (as after any edit: the document's signal
        called update()) and wait for the GL work to finish."""
        before = self.count
        self.widget.update()
        deadline = time.perf_counter() + 5.0
        while self.count == before:
            if time.perf_counter() > deadline:
                sys.exit("the widget did not paint; is its window visible?")
            self.app.processEvents()
        self.finish()


def measure(step, reps: int, app) -> tuple[list, list]:
    wall, cpu = [], []
    for i in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        step(i)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        app.processEvents()
    return wall, cpu


def row(name: str, wall, cpu=None) -> None:
    text = f"{name:34s}: {statistics.median(wall) * 1e3:6.1f} ms (p90 {np.percentile(wall, 90) * 1e3:6.1f})"
    if cpu is not None:
        text += f"   cpu {statistics.median(cpu) * 1e3:6.1f} ms"
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--size", default="1280x720")
    args = ap.parse_args()
    W, H = (int(v) for v in args.size.split("x"))
    xvfb = ensure_display()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.setdefault("POSEBOOTH_CACHE_DIR", str(REPO / ".cache"))
    try:
        run(W, H, args.reps)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=10)


def run(W: int, H: int, reps: int) -> None:
    import moderngl
    from PySide6.QtOpenGLWidgets import QOpenGLWidget
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    from posebooth.assets.starter import starter_scene
    from posebooth.scene.tracks import PoseState
    from posebooth.ui.document import SceneDocument
    from posebooth.ui.viewport.widget import ViewportWidget, surface_format

    body, note = get_body()
    print(note)

    def make(people: int):
        doc = SceneDocument(starter_scene(people=people), body_for=lambda spec: body)
        w = ViewportWidget(doc)
        w.resize(W, H)
        w.show()
        for _ in range(20):
            app.processEvents()
        doc.select(0, 18)              # skeleton and gizmo on screen, as while posing
        w.grabFramebuffer()

        def finish():
            w.makeCurrent()
            w._ctx.finish()
            w.doneCurrent()
        return doc, w, Frames(app, w, "_paint", finish)

    doc, w, frames = make(1)
    info = w._ctx.info
    print(f"GL: {info['GL_RENDERER']} | {info['GL_VERSION']} | {W}x{H} | reps {reps} | "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    base = doc.pose_of(0)
    token = object()                   # one merged undo step, like a drag

    def edit(i):
        bp = base.body_pose.copy()
        bp[17] = [0.0, -0.02 * (i % 20) - 0.01, 0.0]   # the left elbow, a new angle every time
        doc.set_pose(0, PoseState(base.global_orient, bp, base.transl), "bench", drag=token)

    row("edit -> frame (1 person)", *measure(lambda i: (edit(i), frames.next_frame()), reps, app))
    row("edit -> grabFramebuffer (1 person)", *measure(lambda i: (edit(i), w.grabFramebuffer()), reps, app))
    row("  body forward (doc.posed())", *measure(lambda i: (doc._invalidate(), doc.posed()), reps, app))
    w.close()

    class Empty(QOpenGLWidget):
        def __init__(self):
            super().__init__()
            self.setFormat(surface_format())

        def initializeGL(self):
            self.ctx = moderngl.create_context()

        def paintGL(self):
            fbo = self.ctx.detect_framebuffer(self.defaultFramebufferObject())
            fbo.use()
            fbo.clear(0.25, 0.25, 0.25, 1.0)

    empty = Empty()
    empty.resize(W, H)
    empty.show()
    for _ in range(20):
        app.processEvents()

    def finish_empty():
        empty.makeCurrent()
        empty.ctx.finish()
        empty.doneCurrent()
    bare = Frames(app, empty, "paintGL", finish_empty)
    row("  empty widget frame (Qt + X)", *measure(lambda i: bare.next_frame(), reps, app))
    empty.close()
    print("  target: edit -> frame < 50 ms with one person")

    for people in (1, 4):
        doc, w, frames = make(people)
        wall, _ = measure(lambda i: (w.view.orbit(4.0, 0.0), frames.next_frame()), reps, app)
        label = f"orbit, {people} {'people' if people > 1 else 'person'}"
        print(f"{label:34s}: {1.0 / statistics.median(wall):6.1f} fps ({statistics.median(wall) * 1e3:.1f} ms a frame)")
        w.close()
    for widget in app.topLevelWidgets():
        widget.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main()
