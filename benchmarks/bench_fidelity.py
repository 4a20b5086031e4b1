"""Fidelity scoring cost per frame: ViTPose and Depth Anything through
PoseBooth's loading and inference path (pipeline.estimators), plus the
scoring maths (frame.fidelity), printed as one table.

    python benchmarks/bench_fidelity.py                       # tiny random models (CPU, seconds)
    python benchmarks/bench_fidelity.py --real-size --device cuda --dtype fp16
    python benchmarks/bench_fidelity.py --pose-model ID|PATH --depth-model ID|PATH

--real-size builds the published architectures (ViTPose-B, Depth Anything
V2 Small) with random weights from configs in code: the same cost as the
real checkpoints, no download.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from posebooth.frame.fidelity import score_frame  # noqa: E402
from posebooth.pipeline.estimators import load_estimators  # noqa: E402


def _timed(fn, repeat: int) -> float:
    fn()   # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real-size", action="store_true")
    ap.add_argument("--pose-model")
    ap.add_argument("--depth-model")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--people", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: on a shared 2-core machine more threads spin-wait)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from fixtures import tiny_estimators as te

    with tempfile.TemporaryDirectory() as tmp:
        if args.pose_model and args.depth_model:
            pose, depth = args.pose_model, args.depth_model
        elif args.real_size:
            pose, depth = te.save_real_size(tmp)
        else:
            pose, depth = te.save_tiny_vitpose(Path(tmp) / "vp"), te.save_tiny_depth_anything(Path(tmp) / "da")
        t = time.perf_counter()
        est = load_estimators(str(pose), str(depth), device=args.device, dtype=args.dtype)
        load_s = time.perf_counter() - t
    n, s = args.people, args.size
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (s, s, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:s, 0:s]
    instance = np.zeros((s, s), np.uint8)
    boxes = np.zeros((n, 4))
    coco = np.zeros((n, 17, 3))
    for k in range(n):
        x0 = k * s // n
        instance[s // 8: 7 * s // 8, x0 + s // (4 * n): x0 + 3 * s // (4 * n)] = k + 1
        ys, xs = np.nonzero(instance == k + 1)
        boxes[k] = [xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1]
        coco[k, :, :2] = boxes[k, :2] + rng.uniform(0, 1, (17, 2)) * boxes[k, 2:]
        coco[k, :, 2] = 2
    depth_m = np.where(instance > 0, 3.0 + 0.1 * np.sin(xx / 17.0), 0.0)
    rows = [("load both models", load_s),
            (f"pose, {n} boxes", _timed(lambda: est.pose(image, boxes), args.repeat)),
            ("depth", _timed(lambda: est.depth(image), args.repeat)),
            ("score one frame (both + maths)",
             _timed(lambda: score_frame(image, coco, boxes, depth_m, instance, pose=est.pose, depth=est.depth),
                    args.repeat))]
    kind = "real-size random" if args.real_size else ("given" if args.pose_model else "tiny random")
    print(f"fidelity scoring, {kind} models, {s}x{s}, {n} people, device {est.pose.device}, "
          f"dtype {str(est.pose.dtype).replace('torch.', '')}, {args.threads} CPU thread(s)")
    for name, sec in rows:
        print(f"  {name:34s} {sec * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
