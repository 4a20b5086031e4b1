"""Generation benchmark: PoseBooth's overhead over bare diffusers, submit-to-first-preview
latency through the worker, throughput and peak memory.

    python benchmarks/bench_generate.py                      # tiny random models (seconds, CPU ok)
    python benchmarks/bench_generate.py --real-size sd15 --device cuda --size 512 --steps 20
    python benchmarks/bench_generate.py --model sd15-depth   # a preset / HF id / folder / file

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
