"""Dataset engine throughput: samples per second of a recipe run (anny
bodies, 1-4 people, every pass at 512x512, no model), in one process, in
two worker processes and on a local Ray with two CPUs, plus the peak memory
of a worker. The workers' start (building the body, an EGL context) is
timed too, apart: the rate is measured over the samples after a warm-up run
in the same folder, as a long run sees it. Issue target: >= 40 samples/s
with 2 processes, and Ray >= 0.8x the plain local run. Then the same with
the tests' tiny random-weight ControlNet pipeline generating every sample
on the CPU (on Ray with no GPU, in the tasks themselves).

Run: .venv/bin/python benchmarks/bench_dataset.py [--samples 48] [--size 512]
         [--model-samples 16] [--model-size 128]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("POSEBOOTH_CACHE_DIR", str(REPO / ".cache"))

PASSES = ["render", "depth", "normal", "parts", "mask", "control", "overlay"]
MODEL_STEPS = 4   # the tiny random-weight ControlNet pipeline (tests/fixtures), depth control


def _recipe(samples: int, size: int, seed: int, model: str | None = None):
    from posebooth.dataset.recipe import Recipe

    generation = ({"model": model, "steps": MODEL_STEPS, "controls": ["depth"]} if model
                  else {"controls": ["depth", "openpose"]})
    return Recipe.model_validate({"samples": samples, "seed": seed, "camera": {"size": [size, size]},
                                  "people": {"count": [1, 4]},
                                  "output": {"passes": PASSES, "shard_size": 1000}, "generation": generation})


def _run(mode: str, samples: int, size: int, folder: Path, model: str | None = None) -> tuple[float, float]:
    """(seconds for `samples` samples after warm-up, warm-up seconds)."""
    from posebooth.dataset.run import run_recipe

    from posebooth.dataset.run import worker_pool

    pool = worker_pool(2) if mode == "2 processes" else None   # warm across both runs, as in a long run
    # Ray with a model and no GPU: each task runs the model itself (no diffusion actors).
    kwargs = ({"workers": 2, "pool": pool} if pool else
              {"use_ray": True, "gpus_per_task": 0.0} if mode == "ray" else {})
    if mode == "ray":
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        t0 = time.perf_counter()   # warm-up: start the workers, build each one's body and renderer, 8 samples
        _warm_workers(mode, pool)
        run_recipe(_recipe(8, size, 0, model), folder / "warm", progress=False, **kwargs)
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        manifest = run_recipe(_recipe(samples, size, 1, model), folder / "run", progress=False, **kwargs)
        took = time.perf_counter() - t0
        assert manifest["complete"]
    finally:
        if mode == "ray":
            import ray

            ray.shutdown()
        if pool is not None:
            pool.shutdown()
    return took, warm


def _warm_workers(mode: str, pool) -> None:
    """Both workers built (two long tasks at once go to two idle workers)."""
    from posebooth.dataset.work import warm_worker

    if mode == "2 processes":
        pids = {f.result() for f in [pool.submit(warm_worker) for _ in range(2)]}
    elif mode == "ray":
        import ray

        pids = set(ray.get([ray.remote(num_cpus=1)(warm_worker).remote() for _ in range(2)]))
    else:   # this process: the body (a one-process run makes its own renderer, as the CLI's does)
        from posebooth.assets.registry import get_body
        from posebooth.scene.model import BodySpec

        get_body(BodySpec(model="anny"))
        return
    if len(pids) != 2:
        print(f"  (warning: {len(pids)} of 2 workers warmed)")


def _modes(title: str, modes: list[str], samples: int, size: int, root: Path, model: str | None = None) -> None:
    print(title)
    rates = {}
    for mode in modes:
        took, warm = _run(mode, samples, size, root / mode.replace(" ", "-"), model)
        rates[mode] = samples / took
        print(f"  {mode:12s} {rates[mode]:6.2f} samples/s  ({took:.1f} s; start and warm-up {warm:.1f} s)")
    if "ray" in rates and "2 processes" in rates:
        print(f"  ray / 2 processes: {rates['ray'] / rates['2 processes']:.2f}x (target >= 0.8)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--model-samples", type=int, default=16,
                        help="samples of the run with the tiny diffusion model (0: skip it)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model-size", type=int, default=128,
                        help="image size of the model run (the tiny UNet attends over every latent "
                             "pixel: 512x512 takes ~20 s a sample on a CPU)")
    parser.add_argument("--modes", nargs="+", default=["1 process", "2 processes", "ray"])
    args = parser.parse_args()
    # Every mode writes into a folder of its own, and all are deleted at the
    # end: deleting a mode's thousands of files just before the next mode
    # ran made the file system hunt for free inodes (this machine's ext4
    # skips inodes freed in the last minutes), which charged that next mode
    # ~10 ms of kernel time a sample and skewed the comparison between modes.
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _modes(f"dataset run: {args.samples} samples, 1-4 anny people, {args.size}x{args.size}, passes "
               f"{','.join(PASSES)}, controls depth+openpose, no model; {os.cpu_count()} cores",
               args.modes, args.samples, args.size, root / "annotation-only")
        if args.model_samples:
            sys.path.insert(0, str(REPO / "tests"))   # fixtures/: random-weight models
            from fixtures.tiny_models import save_tiny_controlnet_pipeline

            model = str(save_tiny_controlnet_pipeline(root / "tiny-controlnet"))
            _modes(f"with the tiny random-weight ControlNet pipeline generating every sample ({MODEL_STEPS} "
                   f"steps, depth control, on the CPU), {args.model_samples} samples, "
                   f"{args.model_size}x{args.model_size}",
                   args.modes, args.model_samples, args.model_size, root / "tiny-model", model)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak memory of a worker process: {peak:.0f} MiB (largest child)")


if __name__ == "__main__":
    main()
