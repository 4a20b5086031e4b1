"""Batched generation, the dataset engine's GPU path: PoseBooth's batched
call (Backend.generate_batch, as a Ray diffusion actor runs it) against a
bare diffusers call with the same batch, prompts, control images and
generators; images per second and the ratio (target >= 0.9x).

    python benchmarks/bench_batch.py                        # tiny random model, CPU (seconds)
    python benchmarks/bench_batch.py --real-size sd15 --device cuda --dtype fp16 --batch 8 --steps 20 --size 512

Both calls alternate after a warm-up, so drift on a shared machine hits both.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures/: random-weight models

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from posebooth.frame.request import Control, GenerationRequest  # noqa: E402
from posebooth.pipeline.loading import LoadOptions, backend_for_pipeline  # noqa: E402

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def _backend(args):
    if args.real_size:
        from fixtures.real_size import real_size_pipeline
        pipe = real_size_pipeline(args.real_size, device=args.device, dtype=DTYPES[args.dtype])
        kind = "sd15-controlnet" if args.real_size == "sd15" else "sdxl-controlnet"
    else:
        from fixtures.tiny_models import tiny_controlnet_pipeline
        pipe, kind = tiny_controlnet_pipeline(), "sd15-controlnet"
    opts = LoadOptions(device=args.device, dtype=args.dtype, preview_decoder="none")
    return backend_for_pipeline(pipe, kind, {"depth": pipe.controlnet}, opts, label="bench")


def _requests(n: int, size: int, steps: int) -> list[GenerationRequest]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out = []
    for i in range(n):
        blob = np.exp(-(((yy - size * (0.4 + 0.05 * i)) / (0.2 * size)) ** 2 + ((xx - size / 2) / (0.15 * size)) ** 2))
        img = np.repeat(np.clip(220 * blob + 20, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        out.append(GenerationRequest(prompt=f"a person, photo {i}", negative_prompt="blurry",
                                     controls=(Control("depth", img),), seed=100 + i, steps=steps,
                                     guidance=7.5, width=size, height=size))
    return out


def _bare(backend, requests):
    pipe = backend.pipe
    with torch.inference_mode():
        pipe(prompt=[r.prompt for r in requests], negative_prompt=[r.negative_prompt for r in requests],
             image=[Image.fromarray(r.controls[0].image) for r in requests],
             num_inference_steps=requests[0].steps, guidance_scale=requests[0].guidance,
             height=requests[0].height, width=requests[0].width, controlnet_conditioning_scale=1.0,
             generator=[torch.Generator("cpu").manual_seed(r.seed) for r in requests], output_type="np")


def _sync(device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real-size", choices=["sd15", "sdxl"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    steps = args.steps or (20 if args.real_size else 4)
    size = args.size or (512 if args.real_size else 64)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    backend = _backend(args)
    requests = _requests(args.batch, size, steps)
    ours = lambda: backend.generate_batch(requests)  # noqa: E731
    bare = lambda: _bare(backend, requests)  # noqa: E731
    for fn in (ours, bare):   # warm-up (kernels, allocator)
        fn()
        _sync(args.device)
    times = {"posebooth": [], "bare": []}
    for _ in range(args.runs):
        for name, fn in (("posebooth", ours), ("bare", bare)):
            t0 = time.perf_counter()
            fn()
            _sync(args.device)
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    what = f"{args.real_size or 'tiny'} ControlNet, {size}x{size}, {steps} steps, {args.dtype}, {args.device}"
    print(f"batched generation: {what}, batch {args.batch}, median of {args.runs}")
    for name in ("bare", "posebooth"):
        print(f"  {name:10s} {med[name]:8.3f} s/batch  {args.batch / med[name]:8.2f} images/s")
    print(f"  throughput ratio posebooth/bare: {med['bare'] / med['posebooth']:.3f}  (target >= 0.9)")
    # One image a sample (stills); the CPU side (posing, rendering, files) runs
    # beside the model on Ray's CPU tasks and is not counted here.
    hours = 100_000 / (args.batch / med["posebooth"]) / 3600
    print(f"  projected {'GPU' if args.device.startswith('cuda') else args.device}-hours per 100k samples "
          f"(one image each, this device): {hours:.1f}")


if __name__ == "__main__":
    main()
