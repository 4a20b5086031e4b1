"""Generation benchmark: PoseBooth's overhead over bare diffusers, submit-to-first-preview
latency through the worker, throughput and peak memory.

    python benchmarks/bench_generate.py                      # tiny random models (seconds, CPU ok)
    python benchmarks/bench_generate.py --real-size sd15 --device cuda --size 512 --steps 20
    python benchmarks/bench_generate.py --model sd15-depth   # a preset / HF id / folder / file
    python benchmarks/bench_generate.py --live-only --steps 2 --taesd   # the live preview alone

The live preview (pipeline.live): a drag of 60 mouse moves a second, each a new control
image; previews are requested through the worker as the app's panel does (one
outstanding, the newest pose when the previous one lands). Printed: previews per second
during the drag, edit-to-image latency (from the move whose pose a shown image is of to
the image), and from the last move to its image. The conditioning render is not in it
(bench_render times that).

The GUI figure is the longest gap of a 10 ms QTimer on the Qt event loop while images
generate through ui.generation_bridge (what the app's Generation panel uses), step
previews converted to QImages on the GUI thread as the panel does; target <= 50 ms.

The overhead ratio times Backend.generate (with the worker's step callback and step
previews) against a bare pipeline call with the same inputs, alternating the two,
after warm-up; the target is <= 1.05.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures/: tiny random models
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from posebooth.pipeline.devices import peak_memory_bytes  # noqa: E402
from posebooth.pipeline.loading import LoadOptions, backend_for_pipeline, load_backend  # noqa: E402
from posebooth.frame.request import Control, GenerationRequest  # noqa: E402
from posebooth.pipeline.worker import GenerationWorker  # noqa: E402

TINY = {"tiny": "sd15-controlnet", "tiny-sd2": "sd2-depth", "tiny-sdxl": "sdxl-controlnet"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", default="tiny", help="tiny | tiny-sd2 | tiny-sdxl | preset | HF id | folder | .safetensors"
    )
    p.add_argument("--real-size", choices=["sd15", "sdxl"], help="random-weight real architecture (overrides --model)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--steps", type=int, default=None, help="default: 4 (tiny), 20 (real)")
    p.add_argument("--size", default=None, help="N or WxH; default 64 (tiny), 512 (sd15), 1024 (sdxl)")
    p.add_argument("--offload", action="store_true", help="enable_model_cpu_offload (CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile the UNet and ControlNet")
    p.add_argument("--preview-every", type=int, default=1)
    p.add_argument("--runs", type=int, default=5, help="timed runs per variant after warm-up")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--taesd", action="store_true", help="decode previews with a random-weight TAESD "
                   "(tiny for the tiny models, the real architecture otherwise)")
    p.add_argument("--live-seconds", type=float, default=2.0, help="length of the simulated drag")
    p.add_argument("--live-only", action="store_true", help="only the live preview figures")
    return p.parse_args(argv)


def depth_image(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    blob = np.exp(-(((yy - h / 2) / (0.3 * h)) ** 2 + ((xx - w / 2) / (0.2 * w)) ** 2))
    return np.repeat(np.clip(220 * blob + 20 * xx / w, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def build_backend(args, options: LoadOptions):
    if args.real_size:
        from fixtures.real_size import real_size_pipeline
        from posebooth.pipeline.devices import pick_device, pick_dtype

        device, _ = pick_device(args.device)
        dtype = pick_dtype(device, args.dtype)
        build_on = "cpu" if args.offload else device
        pipe = real_size_pipeline(args.real_size, device=build_on, dtype=dtype)
        kind = "sdxl-controlnet" if args.real_size == "sdxl" else "sd15-controlnet"
        return backend_for_pipeline(pipe, kind, None, options, label=f"random {args.real_size}")
    if args.model in TINY:
        from fixtures import tiny_models as tm

        kind = TINY[args.model]
        pipe = {
            "sd15-controlnet": tm.tiny_controlnet_pipeline,
            "sd2-depth": tm.tiny_sd2_depth_pipeline,
            "sdxl-controlnet": tm.tiny_sdxl_controlnet_pipeline,
        }[kind]()
        return backend_for_pipeline(pipe, kind, None, options, label=args.model)
    return load_backend(args.model, options)


def bare_call(backend, req: GenerationRequest):
    """What a user would write with diffusers alone, same inputs."""
    depth = Image.fromarray(req.controls[0].image)
    gen = torch.Generator("cpu").manual_seed(req.seed)
    if backend.pipeline_kind == "sd2-depth":
        dm = torch.from_numpy(req.controls[0].image[..., 0].astype(np.float32) / 255.0)[None]
        gray = Image.new("RGB", (req.width, req.height), (128, 128, 128))
        return backend.pipe(
            req.prompt,
            image=gray,
            depth_map=dm,
            strength=1.0,
            num_inference_steps=req.steps,
            guidance_scale=req.guidance,
            generator=gen,
            output_type="np",
        ).images[0]
    return backend.pipe(
        req.prompt,
        image=depth,
        height=req.height,
        width=req.width,
        num_inference_steps=req.steps,
        guidance_scale=req.guidance,
        generator=gen,
        output_type="np",
    ).images[0]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def attach_taesd(backend, tiny: bool) -> None:
    """Previews decode with a random-weight AutoencoderTiny (the published TAESD architecture
    is its default config; the tiny one matches the tiny VAE's stride)."""
    from diffusers import AutoencoderTiny

    from posebooth.pipeline.previews import TaesdPreview

    if tiny:
        from fixtures.tiny_models import tiny_taesd

        taesd = tiny_taesd()
    else:
        taesd = AutoencoderTiny()
    backend.fast_decoder = TaesdPreview(taesd.to(device=backend.device, dtype=backend.dtype).eval())


def shifted_depth(w: int, h: int, i: int) -> np.ndarray:
    """The control image of drag move i: the body blob moved i pixels (a new pose per move)."""
    return np.roll(depth_image(w, h), i % max(1, w // 4), axis=1)


def live_preview_figures(backend, req: GenerationRequest, seconds: float = 2.0, hz: float = 60.0,
                         init_from_previous: bool = False) -> dict:
    """Drive the worker as the app's panel does during a drag (pipeline.live.LivePacer) with
    `hz` moves a second for `seconds`; returns previews/s, edit-to-image latencies (s) and counts."""
    import queue

    from posebooth.pipeline.live import LivePacer, img2img_steps

    done: queue.Queue = queue.Queue()
    worker = GenerationWorker(backend=backend, on_result=lambda r: done.put(("result", r)),
                              on_error=lambda rid, msg: done.put(("error", (rid, msg))),
                              on_cancelled=lambda rid: done.put(("cancelled", rid)))
    controls = [Control("depth", shifted_depth(req.width, req.height, i)) for i in range(8)]
    pacer, edit_time, shown, last_image = LivePacer(), {}, [], None
    problems = []

    def request_now(i: int) -> None:
        r = dataclasses.replace(req, controls=(controls[i % len(controls)],), preview=True, request_id=f"live-{i}")
        if init_from_previous and last_image is not None:
            r = dataclasses.replace(r, init_image=last_image, strength=0.5, steps=img2img_steps(req.steps, 0.5))
        pacer.started(r.request_id)
        worker.submit(r, live=True)

    def handle(kind, payload, now: float) -> None:
        nonlocal last_image
        if kind != "result":   # the request ended without an image: say so, go on
            problems.append(f"{kind}: {payload}")
            rid = payload[0] if kind == "error" else payload
        else:
            rid = payload.request_id
        if kind == "result" and pacer.accept(rid):
            i = int(rid.split("-")[1])
            shown.append((i, now - edit_time[i], now))
            last_image = payload.image
        if pacer.finished(rid):
            request_now(pacer.edits)

    try:
        # Warm-up (first call: allocations, kernels), then the drag.
        worker.submit(dataclasses.replace(req, preview=True, request_id="warm-up"))
        worker.wait_idle(600)
        while not done.empty():
            done.get()
        t0 = time.perf_counter()
        moves = int(seconds * hz)
        for i in range(1, moves + 1):
            due = t0 + i / hz
            while True:   # results until the next move is due
                try:
                    kind, payload = done.get(timeout=max(0.0, due - time.perf_counter()))
                except queue.Empty:
                    break
                handle(kind, payload, time.perf_counter())
            edit_time[i] = time.perf_counter()
            if pacer.edit():
                request_now(i)
        t_end = time.perf_counter()
        while pacer.outstanding:   # the drag ended: until the last pose's image lands
            kind, payload = done.get(timeout=600)
            handle(kind, payload, time.perf_counter())
    finally:
        worker.shutdown()
    during = [s for s in shown if s[2] <= t_end]
    lat = [s[1] for s in shown]
    return {
        "fps": len(during) / (t_end - t0),
        "latency_median": statistics.median(lat) if lat else float("nan"),
        "latency_max": max(lat) if lat else float("nan"),
        "last_move_to_image": shown[-1][2] - edit_time[moves] if shown and shown[-1][0] == moves else float("nan"),
        "shown": len(shown),
        "moves": moves,
        "problems": problems,
    }


def print_live(figures: dict, label: str = "") -> None:
    f = figures
    print(f"live preview{label}: {f['fps']:.1f} previews/s during a {f['moves']}-move drag; edit-to-image latency "
          f"median {f['latency_median'] * 1000:.0f} ms (max {f['latency_max'] * 1000:.0f} ms); last move to its "
          f"image {f['last_move_to_image'] * 1000:.0f} ms; {f['shown']} shown"
          + (f"; PROBLEMS: {f['problems'][:3]}" if f["problems"] else ""))


def own_work_ms(backend, req: GenerationRequest, n: int = 20) -> tuple[float, float]:
    """PoseBooth's own per-image work (request -> pipeline kwargs, result conversion) and per-step
    work (step callback + preview decode), timed directly: noise-free, unlike the ratio."""
    t = time.perf_counter()
    for _ in range(n):
        backend._prepare(req)
        (np.clip(np.zeros((req.height, req.width, 3), np.float32), 0, 1) * 255).round().astype(np.uint8)
    per_image = (time.perf_counter() - t) / n
    vae = getattr(backend.pipe, "vae_scale_factor", 8)
    latents = torch.randn(2, 4, req.height // vae, req.width // vae, device=backend.device, dtype=backend.dtype)

    class P:  # what the callback reads from the pipeline
        _num_timesteps = n + 1

    cb = backend._callback(lambda step, total, preview: None, {})
    with torch.inference_mode():
        cb(P, 0, 0, {"latents": latents})  # warm-up
        sync(backend.device)
        t = time.perf_counter()
        for i in range(n):
            cb(P, i, 0, {"latents": latents})
        sync(backend.device)
    return per_image * 1000, (time.perf_counter() - t) / n * 1000


def first_preview_latency(backend, req: GenerationRequest, runs: int) -> float:
    """Submit -> first on_preview through the worker thread (median)."""
    got, lat = threading.Event(), []
    worker = GenerationWorker(backend=backend, on_preview=lambda rid, step, img: got.set())
    try:
        for i in range(runs):
            got.clear()
            r = GenerationRequest(
                req.prompt,
                req.controls,
                seed=i,
                steps=req.steps,
                guidance=req.guidance,
                width=req.width,
                height=req.height,
                preview=True,
            )
            t = time.perf_counter()
            worker.submit(r)
            got.wait(600)
            lat.append(time.perf_counter() - t)
            worker.cancel(r.request_id)
            worker.wait_idle(600)
    finally:
        worker.shutdown()
    return statistics.median(lat)


def gui_stall_ms(backend, req: GenerationRequest, runs: int = 3) -> tuple[float, float, int]:
    """Longest GUI event-loop stall (ms), 99th-percentile timer gap (ms) and the number of
    step previews shown, while `runs` generations go through the Qt bridge."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no GL needed: nothing is rendered here
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from posebooth.ui.generation.bridge import GenerationBridge
    from posebooth.ui.generation.history import to_qimage

    app = QApplication.instance() or QApplication([])  # noqa: F841  (kept alive for the loop)
    bridge = GenerationBridge(loader=lambda *a, **k: backend)
    loop = QEventLoop()

    class Sink(QObject):  # slots of a GUI-thread object: the bridge's signals arrive queued
        shown = 0

        def on_preview(self, rid, step, image):
            to_qimage(image)
            self.shown += 1

        def on_done(self, *args):
            loop.quit()

    sink = Sink()
    bridge.preview.connect(sink.on_preview)
    for sig in (bridge.modelLoaded, bridge.result, bridge.error):
        sig.connect(sink.on_done)
    bridge.load("benchmark")
    loop.exec()
    clock, ticks = QElapsedTimer(), []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(clock.elapsed()))
    gaps: list[float] = []
    try:
        for i in range(runs):
            ticks.clear()
            clock.start()
            timer.start()
            bridge.submit(dataclasses.replace(req, seed=i, request_id=f"gui-{i}"))
            loop.exec()
            timer.stop()
            gaps += list(np.diff([0, *ticks, clock.elapsed()]))
    finally:
        bridge.shutdown()
    return float(max(gaps)), float(np.percentile(gaps, 99)), sink.shown


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    real = bool(args.real_size) or args.model not in TINY
    steps = args.steps or (20 if real else 4)
    size = args.size or ("1024" if args.real_size == "sdxl" else "512" if real else "64")
    w, h = (int(v) for v in (size.split("x") if "x" in size else (size, size)))
    options = LoadOptions(
        device=args.device,
        dtype=args.dtype,
        cpu_offload=args.offload,
        compile=args.compile,
        preview_decoder="auto",
        preview_every=args.preview_every,
    )
    t0 = time.perf_counter()
    backend = build_backend(args, options)
    build_s = time.perf_counter() - t0
    if args.taesd:
        attach_taesd(backend, tiny=not real)
    dev = backend.device
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    req = GenerationRequest(
        "a person standing in a sunny park, photo",
        (Control("depth", depth_image(w, h)),),
        seed=1,
        steps=steps,
        guidance=7.0,
        width=w,
        height=h,
    )

    print(
        f"model={args.real_size and 'real-size ' + args.real_size or args.model} pipeline={backend.pipeline_kind} "
        f"device={dev} dtype={str(backend.dtype).replace('torch.', '')} size={w}x{h} steps={steps} "
        f"scheduler={backend.scheduler_name()} offload={backend.offload} compile={args.compile} "
        f"previewer={type(backend.previewer).__name__} every={args.preview_every} torch_threads={torch.get_num_threads()}"
    )
    print(f"build/load: {build_s:.2f} s")
    live_req = dataclasses.replace(req, guidance=0.0 if args.live_only else req.guidance)
    for from_previous in (False, True):
        print_live(live_preview_figures(backend, live_req, args.live_seconds, init_from_previous=from_previous),
                   f" ({'TAESD' if backend.fast_decoder is not None else 'full VAE'}"
                   f"{', from the previous preview' if from_previous else ''})")
    if args.live_only:
        return 0
    noop = lambda step, total, preview: None  # noqa: E731  (the worker's callback is about this cheap)
    variants = {
        "bare diffusers": lambda: bare_call(backend, req),
        "posebooth": lambda: backend.generate(req, noop),
        "posebooth, no step callback": lambda: backend.generate(req),
    }
    for _ in range(args.warmup):
        for fn in variants.values():
            fn()
    times = {k: [] for k in variants}
    for _ in range(args.runs):  # interleaved, so drift hits all variants alike
        for k, fn in variants.items():
            times[k].append(timed(fn, dev))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(
            f"{k:>30}: median {v * 1000:9.1f} ms  (min {min(times[k]) * 1000:.1f}, max {max(times[k]) * 1000:.1f}, n={args.runs})"
        )
    bare = med["bare diffusers"]
    print(
        f"overhead ratio posebooth / bare: {med['posebooth'] / bare:.3f} with step previews, "
        f"{med['posebooth, no step callback'] / bare:.3f} without (target <= 1.05); "
        f"ratio of the fastest runs: {min(times['posebooth']) / min(times['bare diffusers']):.3f}"
    )
    prep_ms, step_ms = own_work_ms(backend, req)
    print(
        f"PoseBooth's own work: {prep_ms:.2f} ms per image + {step_ms:.3f} ms per step (callback + preview) "
        f"= {(prep_ms + steps * step_ms) / (bare * 1000) * 100:.2f}% of the bare call"
    )
    print(f"images/s: {1 / med['posebooth']:.3f}   steps/s: {steps / med['posebooth']:.2f}")
    latency = first_preview_latency(backend, req, max(3, args.runs // 2))
    print(f"submit -> first step preview (worker): median {latency * 1000:.1f} ms")
    peak = peak_memory_bytes(dev)
    print(
        f"peak memory ({'torch.cuda.max_memory_allocated' if dev.type == 'cuda' else 'process max RSS'}): "
        f"{peak / 2**20:.0f} MiB"
    )
    # Last: the bridge leaves torch one core short on the CPU (the app's policy for the GUI).
    stall, p99, shown = gui_stall_ms(backend, req, max(3, args.runs // 2))
    print(
        f"GUI event loop while generating through the Qt bridge: longest stall {stall:.0f} ms "
        f"(99th percentile gap {p99:.0f} ms, {shown} step previews shown; target <= 50 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
