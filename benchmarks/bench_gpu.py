"""GPU checks, printed as one table: every backend at real size with random weights
(the published configs, tests/fixtures/real_size.py), fp16 and bf16, with and
without model CPU offload and torch.compile; PoseBooth's generate against a bare
diffusers call with the same arguments; and the live preview at 512x512 with a
1- and 2-step schedule and a random-weight TAESD (AutoencoderTiny's default config
is TAESD's architecture): previews per second during a simulated 60 Hz drag and
edit-to-image latency.

    python benchmarks/bench_gpu.py                  # CUDA, the whole matrix within --budget seconds
    python benchmarks/bench_gpu.py --tiny           # tiny random models on the CPU, a few seconds:
                                                    # checks the script itself (tests run it)

Rows run cheapest and most wanted first; a row that would not fit in what is left
of --budget is skipped with a printed line, as is a backend whose builder or
pipeline kind does not exist (yet). "bare" is the pipeline called with the very
arguments PoseBooth prepares (Backend._prepare), without its step callback and
result conversion; the ratio posebooth / bare is the target <= 1.05. Targets on
an H100-class GPU (issue 12): live preview >= 20 fps and <= 100 ms from edit to image.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures/: random-weight models
sys.path.insert(0, str(Path(__file__).resolve().parent))                   # bench_generate
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from bench_generate import attach_taesd, depth_image, live_preview_figures  # noqa: E402
from posebooth.frame.request import Control, GenerationRequest  # noqa: E402
from posebooth.pipeline.loading import LoadOptions, backend_for_pipeline  # noqa: E402

# backend name -> (pipeline kind, size at which it is timed)
CLASSIC = {"sd15": ("sd15-controlnet", 512), "sdxl": ("sdxl-controlnet", 1024)}
MODERN_SIZE = 1024
COLUMNS = [("backend", 16), ("dtype", 5), ("offload", 7), ("compile", 7), ("size", 9), ("steps", 5),
           ("s/image", 8), ("ms/step", 8), ("pb/bare", 7), ("peak GiB", 8), ("live fps", 8),
           ("edit->img ms", 12), ("note", 0)]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny random models on the CPU (checks the script)")
    p.add_argument("--budget", type=float, default=660.0, help="seconds for the whole run (rows that would "
                   "not fit are skipped)")
    p.add_argument("--steps", type=int, default=8, help="denoising steps of the generation rows")
    p.add_argument("--runs", type=int, default=2, help="timed runs per row after one warm-up")
    p.add_argument("--backends", default=None, help="comma-separated subset (default: all that exist)")
    p.add_argument("--live-seconds", type=float, default=3.0, help="length of the simulated drag")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    return p.parse_args(argv)


# ---- building ---------------------------------------------------------------------------------
def modern_names() -> tuple[str, ...]:
    from fixtures import real_size

    return tuple(getattr(real_size, "MODERN_ARCHS", ()))


def tiny_builders() -> dict:
    from fixtures import tiny_models as tm

    out = {"sd15": (tm.tiny_controlnet_pipeline, "sd15-controlnet"),
           "sdxl": (tm.tiny_sdxl_controlnet_pipeline, "sdxl-controlnet")}
    try:
        from fixtures.tiny_modern import BUILDERS
    except ImportError:
        BUILDERS = {}
    out.update({name: (fn, name) for name, fn in BUILDERS.items()})
    return out


def build(name: str, tiny: bool, dtype: str, **options):
    """A Backend for `name`; raises LookupError when no builder of that name exists."""
    if tiny:
        builders = tiny_builders()
        if name not in builders:
            raise LookupError(f"no tiny builder for {name} in tests/fixtures")
        fn, kind = builders[name]
        opts = LoadOptions(device="cpu", dtype=dtype, preview_decoder="none", **options)
        return backend_for_pipeline(fn(), kind, None, opts, label=f"tiny {name}")
    from fixtures import real_size

    if hasattr(real_size, "real_size_backend"):
        if name not in CLASSIC and name not in modern_names():
            raise LookupError(f"tests/fixtures/real_size.py builds no {name}")
        return real_size.real_size_backend(name, device="cuda", dtype=dtype, **options)
    if name not in CLASSIC:   # an older real_size.py: SD1.5 and SDXL only
        raise LookupError(f"tests/fixtures/real_size.py builds no {name}")
    opts = LoadOptions(device="cuda", dtype=dtype, preview_decoder="none", **options)
    torch_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype, torch.float32)
    pipe = real_size.real_size_pipeline(name, "cpu" if opts.cpu_offload else "cuda", torch_dtype)
    return backend_for_pipeline(pipe, CLASSIC[name][0], None, opts, label=f"real-size {name}")


def request_for(backend, size: int, steps: int, guidance: float = 5.0) -> GenerationRequest:
    kinds = [k for k in ("depth",) if k in backend.control_kinds] or list(backend.control_kinds[:1]) or ["depth"]
    return GenerationRequest("a person standing in a sunny park, photo",
                             tuple(Control(k, depth_image(size, size)) for k in kinds),
                             seed=1, steps=steps, guidance=guidance, width=size, height=size)


def free() -> None:
    """Release the last row's memory (the caller has dropped its backend) and compiled graphs."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        torch._dynamo.reset()
    except Exception:
        pass


# ---- measuring --------------------------------------------------------------------------------
def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def bare(backend, req: GenerationRequest):
    pipe, kwargs, _ = backend._prepare(req)
    with torch.inference_mode():
        return pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(req.seed), output_type="np")


def generation_row(backend, req: GenerationRequest, runs: int, warmup: bool = True) -> dict:
    noop = lambda step, total, preview: None  # noqa: E731  (about what the worker's callback costs)
    variants = {"posebooth": lambda: backend.generate(req, noop), "bare": lambda: bare(backend, req)}
    for fn in variants.values() if warmup else ():   # warm-up (and, with compile, the compilation)
        fn()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    times = {k: [] for k in variants}
    for _ in range(runs):   # interleaved: drift hits both alike
        for k, fn in variants.items():
            sync()
            t = time.perf_counter()
            fn()
            sync()
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    return {"s/image": med["posebooth"], "ms/step": med["posebooth"] / req.steps * 1000,
            "pb/bare": med["posebooth"] / med["bare"], "peak GiB": peak}


# ---- the table --------------------------------------------------------------------------------
def cell(value, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.3f}" if value < 10 else f"{value:.1f}"
    else:
        text = str(value)
    return text.ljust(width) if width else text


def print_header() -> None:
    print(" | ".join(cell(name, w) for name, w in COLUMNS))
    print("-+-".join("-" * (w or 24) for _, w in COLUMNS))


def print_row(**values) -> None:
    print(" | ".join(cell(values.get(name), w) for name, w in COLUMNS), flush=True)


def plan(args, names: list[str]) -> list[tuple]:
    """(backend, dtype, offload, compile, live) rows, most wanted first."""
    if args.tiny:   # every backend once, each option once: the paths run, in seconds
        first = names[0]
        return ([(n, "fp32", False, False, False) for n in names]
                + [(first, "bf16", False, False, False), (first, "fp32", True, False, False),
                   (first, "fp32", False, True, False), (first, "fp32", False, False, True)])
    classic = [n for n in names if n in CLASSIC]
    modern = [n for n in names if n not in CLASSIC]
    rows = [(n, "fp16", False, False, False) for n in names]          # every backend once
    rows += [("sd15", "fp16", False, False, True)]                     # the live preview target
    rows += [(n, "bf16", False, False, False) for n in classic]
    if not args.no_compile:
        rows += [("sd15", "fp16", False, True, False), ("sd15", "fp16", False, True, True)]
    rows += [(n, "bf16", True, False, False) for n in classic]         # model CPU offload
    rows += [("sdxl", "fp16", False, False, True)] if "sdxl" in names else []
    rows += [(n, "bf16", False, False, False) for n in modern]
    rows += [(n, "bf16", True, False, False) for n in modern]
    if not args.no_compile:
        rows += [(n, "fp16" if n in CLASSIC else "bf16", False, True, False) for n in names if n != "sd15"]
    return rows


# Rough seconds a row needs on an H200 (building on the CPU for offload, compiling), so
# that rows which cannot finish are skipped rather than cut off by the caller's timeout.
def estimate(name: str, offload: bool, compiled: bool, live: bool) -> float:
    big = name not in CLASSIC
    cost = 40.0 if big else 15.0
    if offload:
        cost += 150.0 if big else 40.0
    if compiled:
        cost += 240.0 if big else 120.0
    if live:
        cost += 20.0
    return cost


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    if args.tiny:
        torch.set_num_threads(1)   # tiny models are fastest on one thread
    elif not torch.cuda.is_available():
        print("bench_gpu: no CUDA device here; use --tiny to check the script on the CPU")
        return 2
    import diffusers

    device = "cpu (tiny random models)" if args.tiny else torch.cuda.get_device_name(0)
    print(f"bench_gpu: {device}; torch {torch.__version__}, diffusers {diffusers.__version__}; "
          f"{args.steps} steps, {args.runs} runs after one warm-up; budget {args.budget:.0f} s")
    available = list(CLASSIC) + [n for n in (tiny_builders() if args.tiny else modern_names()) if n not in CLASSIC]
    names = args.backends.split(",") if args.backends else available
    steps = 2 if args.tiny else args.steps
    print_header()
    for name, dtype, offload, compiled, live in plan(args, names):
        size = 64 if args.tiny else CLASSIC.get(name, (None, MODERN_SIZE))[1]
        key = dict(backend=name, dtype=dtype, offload="yes" if offload else "no",
                   compile="yes" if compiled else "no")
        left = args.budget - (time.perf_counter() - start)
        if not args.tiny and estimate(name, offload, compiled, live) > left:
            print_row(**key, note=f"skipped: would not fit in the {left:.0f} s left of the budget")
            continue
        backend = None
        try:
            backend = build(name, args.tiny, dtype, cpu_offload=offload, compile=compiled)
            note = "; ".join(w for w in backend.warnings if "offload" in w or "compile" in w)
            if live:   # 512x512, 1 and 2 steps, no guidance (distilled models), TAESD decoding
                live_size = 64 if args.tiny else 512
                attach_taesd(backend, tiny=args.tiny)
                for live_steps in (1, 2):
                    req = request_for(backend, live_size, live_steps, guidance=0.0)
                    f = live_preview_figures(backend, req, seconds=0.5 if args.tiny else args.live_seconds)
                    print_row(**key, size=f"{live_size}²", steps=live_steps, **{
                        "live fps": f["fps"], "edit->img ms": f["latency_median"] * 1000,
                        "note": "; ".join(filter(None, [f"live, TAESD; last move to image "
                                                        f"{f['last_move_to_image'] * 1000:.0f} ms",
                                                        note, *f["problems"][:1]]))})
            else:
                req = request_for(backend, size, steps)
                print_row(**key, size=f"{size}²", steps=steps, note=note or None,
                          **generation_row(backend, req, 1 if args.tiny else args.runs, warmup=not args.tiny))
        except LookupError as exc:
            print_row(**key, note=f"skipped: {exc}")
        except Exception as exc:  # one failing row must not lose the others' figures
            print_row(**key, note=f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
        finally:
            backend = None
            free()
    print(f"bench_gpu: done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
