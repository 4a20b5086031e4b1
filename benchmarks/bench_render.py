"""Render benchmark: all passes (one MRT draw + readback of every pass) against
a bare depth-only pass of the same meshes, at 512x512 with 1 and 4 bodies.
Target: all passes <= 1.5x depth only. Also the annotation-only export in
frames per second (target >= 30): annotations.npz / coco.json / per-frame
sidecars with the PNGs they come with, render/ (always written) and mask/;
and, for reference, an export of every image pass. Exports run as
`posebooth render` runs them: with one helper process on a machine with 2
or more cores (export.helpers; started and warmed before the clock starts,
as the command starts it at launch), and, for comparison, in one process.

Run: .venv/bin/python benchmarks/bench_render.py [--frames 30] [--size 512]

Each measurement is a function (renderer, meshes, camera) -> step, where
step(frame_index) does one frame's work; MEASUREMENTS lists them and each is
a column of the table. The "depth culled" column is not the target's
baseline: it is the depth pass through the production path (with the
back-face culling all passes get), printed so the gain from culling is
visible.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posebooth.scene.camera import Camera  # noqa: E402
from posebooth.viewport.headless import HeadlessRenderer  # noqa: E402
from posebooth.viewport.renderer import ALL_PASSES, RenderMesh  # noqa: E402

COLORS = [(0.85, 0.55, 0.45), (0.45, 0.65, 0.85), (0.55, 0.8, 0.5), (0.8, 0.75, 0.45)]


def body_mesh() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(vertices, faces, part_labels, description): the anny body in its rest
    pose when available, else a stand-in of the same size."""
    try:
        from posebooth.assets.anny_body import get_anny_body

        body = get_anny_body()
        out = body.forward(np.zeros((1, 3), np.float32), np.zeros((1, 23, 3), np.float32),
                           np.zeros((1, 3), np.float32))
        v = np.asarray(out.vertices[0], np.float32)
        return v - v.mean(0), body.faces, body.part_labels, f"{body.version} body"
    except Exception as exc:  # not written yet, or its assets are missing
        import trimesh

        m = trimesh.creation.uv_sphere(radius=1.0, count=[85, 85])
        v = (m.vertices * [0.25, 0.85, 0.15]).astype(np.float32)  # body-sized ellipsoid
        labels = np.clip((v[:, 1] + 0.85) / 1.7 * 24, 0, 23).astype(np.uint8)
        note = (f"NOTE: anny body unavailable ({type(exc).__name__}: {exc}); "
                f"using a {len(v)}-vertex / {len(m.faces)}-face ellipsoid stand-in")
        return v, m.faces, labels, note


def scene(n_bodies: int, size: int) -> tuple[list[RenderMesh], Camera]:
    v, f, labels, _ = BODY
    xs = np.linspace(-0.6, 0.6, n_bodies) if n_bodies > 1 else [0.0]
    meshes = [RenderMesh(v + [x, 0.0, 0.3 * k], f, labels, k + 1, COLORS[k % 4])
              for k, x in enumerate(xs)]
    cam = Camera.from_look_at([0.0, 0.2, 3.2], [0.0, 0.0, 0.0], 0.0, size, size)
    return meshes, cam


def _moving(meshes: list[RenderMesh], frame: int) -> list[RenderMesh]:
    # New vertex arrays every frame (as an animated body gives), same topology.
    dy = np.float32(0.001 * (frame % 7))
    return [RenderMesh(m.vertices + dy, m.faces, m.part_labels, m.instance_id, m.color)
            for m in meshes]


# Each measurement makes a one-frame step: step(frame_index) does one frame's work.
def all_passes_step(r: HeadlessRenderer, meshes, cam):
    return lambda i: r.render(_moving(meshes, i), cam, ALL_PASSES)


def depth_only_step(r: HeadlessRenderer, meshes, cam):
    return lambda i: r.render_depth_only(_moving(meshes, i), cam)


def depth_culled_step(r: HeadlessRenderer, meshes, cam):
    """For reference, not the target's baseline: the depth pass through the
    production path, with the back-face culling all passes get."""
    return lambda i: r.render(_moving(meshes, i), cam, ("depth",))


MEASUREMENTS = [("all passes ms", all_passes_step), ("depth only ms", depth_only_step),
                ("depth culled ms", depth_culled_step)]


def measure(r: HeadlessRenderer, meshes, cam, frames: int, warmup: int = 5, block: int = 10) -> dict[str, float]:
    """Median ms per frame of every measurement. Steps run in alternating
    blocks of `block` frames, so load from other processes hits them alike,
    while each block renders steadily into its own framebuffer as an export
    does (switching framebuffers every frame stalls llvmpipe and is no
    workload's pattern)."""
    steps = {name: make(r, meshes, cam) for name, make in MEASUREMENTS}
    times = {name: [] for name in steps}
    for name, step in steps.items():
        for i in range(warmup):
            step(i)
    for start in range(0, frames, block):
        for name, step in steps.items():
            for i in range(start, min(start + block, frames)):
                t0 = time.perf_counter()
                step(i)
                times[name].append(1e3 * (time.perf_counter() - t0))
    return {name: statistics.median(t) for name, t in times.items()}


# --- export throughput -----------------------------------------------------------
# Annotation-only: the annotations (annotations.npz, coco.json, per-frame
# sidecars) with the PNGs they come with: render/ (always written, FORMAT.md)
# and mask/ (the instance mask the boxes and COCO segments are taken from).
ANNOTATION_PASSES = ("render", "mask")
# For reference: every image pass without a model.
IMAGE_PASSES = ("render", "depth", "normal", "parts", "mask")


def _export_body_for():
    """pose_people's body lookup: the registry (anny) when it works, else a
    static stand-in BodyModel around BODY so the measurement still runs."""
    try:
        from posebooth.assets.anny_body import get_anny_body
        get_anny_body()
        return None
    except Exception:
        from posebooth.assets.body import BodyOutput
        from posebooth.assets.smpl_skeleton import REST_JOINTS

        v, f, labels, _ = BODY

        class Static:
            name, version = "stand-in", "ellipsoid"
            faces, part_labels = np.asarray(f, np.int32), labels
            shape_names, default_shape = (), np.zeros(0, np.float32)

            def forward(self, go, bp, transl, shape=None):
                t = np.asarray(transl, np.float32)[:, None]
                j = (REST_JOINTS[None].astype(np.float32) + t)
                return BodyOutput(v[None] + t, j, j[:, [15] * 5 + list(range(12))])

        body = Static()
        return lambda spec: body


def export_fps(r: HeadlessRenderer, n_bodies: int, size: int, frames: int,
               passes=ANNOTATION_PASSES, helpers=None) -> float:
    """Export frames per second: export_scene end to end (posing, one
    render of the needed passes, annotations, the PNGs of `passes` and the
    per-frame sidecar on the writer's thread pool, then annotations.npz /
    coco.json / dataset.json), no diffusion. Wall-clock over `frames`
    frames after a 5-frame warm-up export (and the helpers' warm-up)."""
    import tempfile

    from posebooth.export.driver import export_scene
    from posebooth.assets.starter import starter_scene

    body_for = _export_body_for()
    sc = starter_scene(people=n_bodies, frames=frames, width=size, height=size)
    with tempfile.TemporaryDirectory(prefix="posebooth-bench-") as tmp:
        if helpers is not None:
            helpers.wait_warm(helpers.warm(sc, body_for))
        export_scene(sc, Path(tmp) / "warm", frames=range(5), passes=passes, renderer=r,
                     body_for=body_for, progress=False)
        t0 = time.perf_counter()
        export_scene(sc, Path(tmp) / "out", passes=passes, renderer=r, body_for=body_for,
                     progress=False, helpers=helpers)
        return frames / (time.perf_counter() - t0)


def main(argv=None) -> int:
    global BODY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--export-frames", type=int, default=64,
                    help="frames per export measurement (several posing chunks)")
    args = ap.parse_args(argv)
    BODY = body_mesh()
    print(BODY[3] if BODY[3].startswith("NOTE") else f"mesh: {BODY[3]}, "
          f"{len(BODY[0])} vertices, {len(BODY[1])} faces")
    with HeadlessRenderer() as r:
        info = r.gl_info()
        print(f"GL: {info['renderer']} | {info['version']} | {args.size}x{args.size}, "
              f"median of {args.frames} frames")
        names = [name for name, _ in MEASUREMENTS]
        print(f"{'bodies':>6} | " + " | ".join(f"{n:>14}" for n in names) + " | ratio all/depth | (all/culled depth)")
        worst = 0.0
        for n in (1, 4):
            meshes, cam = scene(n, args.size)
            res = measure(r, meshes, cam, args.frames)
            ratio = res["all passes ms"] / res["depth only ms"]
            worst = max(worst, ratio)
            print(f"{n:>6} | " + " | ".join(f"{res[k]:>14.2f}" for k in names)
                  + f" | {ratio:>15.2f} | {res['all passes ms'] / res['depth culled ms']:>5.2f}")
        from posebooth.export.helpers import ExportHelpers
        from posebooth.cli.render import default_processes
        from posebooth.export.process import prepare_export_process

        prepare_export_process(with_model=False)   # as `posebooth render` does
        processes = default_processes()
        how = f"{processes} processes" if processes > 1 else "1 process"
        worst_fps = float("inf")
        with ExportHelpers(processes - 1) as helpers:
            for n in (1, 4):  # annotation-only export throughput (target >= 30 frames/s)
                fps = export_fps(r, n, args.size, args.export_frames, helpers=helpers)
                one = export_fps(r, n, args.size, args.export_frames) if processes > 1 else fps
                worst_fps = min(worst_fps, fps)
                print(f"annotation-only export ({'+'.join(ANNOTATION_PASSES)} PNGs), {n} bodies: "
                      f"{fps:.1f} frames/s in {how} (posebooth render's default here); "
                      f"{one:.1f} in 1 process")
            for n in (1, 4):
                fps = export_fps(r, n, args.size, args.export_frames, IMAGE_PASSES, helpers=helpers)
                print(f"for reference, all image passes ({'+'.join(IMAGE_PASSES)} PNGs), {n} bodies: "
                      f"{fps:.1f} frames/s in {how}")
    print(f"target ratio <= 1.5: {'met' if worst <= 1.5 else 'NOT met'} (worst {worst:.2f})")
    print(f"target annotation-only export >= 30 frames/s: {'met' if worst_fps >= 30 else 'NOT met'} "
          f"(worst {worst_fps:.1f})")
    return 0


BODY: tuple = ()

if __name__ == "__main__":
    raise SystemExit(main())
