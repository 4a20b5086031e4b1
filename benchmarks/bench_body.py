"""Poses per second of PoseBooth's anny body vs a bare anny forward.

PoseBooth's `AnnyBody.forward` (numpy SMPL-24 pose in, retargeting, Y-up
conversion, joints and COCO keypoints out) against `anny.Anny.forward` with
anny's own pose parameters (per-bone 4x4 deltas), same batch and same
per-sample shapes (new ones each call), in the same run. Target: ratio <= 1.20.
Also the whole body (both hands' MANO-15 poses and a facial expression of
8 weights) against the body alone (target <= 1.20: the fingers are bones of
the same forward pass, the face a sparse blend shape on the rest mesh), and
against the bare anny forward given the same facial actions.

    python benchmarks/bench_body.py [--batches 1 64] [--repeats 30] [--clock wall|cpu]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("POSEBOOTH_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache"))

import numpy as np  # noqa: E402
import roma  # noqa: E402
import torch  # noqa: E402


CLOCK = time.perf_counter


def timed(fn) -> float:
    t0 = CLOCK()
    fn()
    return CLOCK() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: this process's CPU time (all its threads)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)

    from posebooth.assets.anny_body import get_anny_body

    body = get_anny_body()
    model = body.model
    rng = np.random.default_rng(0)
    rows, whole_rows = [], []
    for batch in args.batches:
        go = rng.uniform(-0.5, 0.5, (batch, 3)).astype(np.float32)
        bp = rng.uniform(-0.6, 0.6, (batch, 23, 3)).astype(np.float32)
        tr = rng.normal(size=(batch, 3)).astype(np.float32)
        # anny's own parameters: a random rotation for every bone.
        delta = torch.eye(4).repeat(batch, len(model.bone_labels), 1, 1)
        delta[..., :3, :3] = roma.rotvec_to_rotmat(torch.from_numpy(
            rng.uniform(-0.3, 0.3, (batch, len(model.bone_labels), 3)).astype(np.float32)))
        # A pool of per-sample shapes, a new one each call (PoseBooth caches a
        # single repeated shape, which a dataset run with random bodies never hits).
        shapes = rng.uniform(0, 1, (64, batch, len(body.shape_names))).astype(np.float32)
        calls = {"ours": 0, "bare": 0, "whole": 0, "bare_face": 0}
        hands = rng.uniform(-0.8, 0.8, (2, batch, 15, 3)).astype(np.float32)
        # Its own shapes: those `ours` has just posed would be in the rest-model cache.
        whole_shapes = rng.uniform(0, 1, shapes.shape).astype(np.float32)
        face = np.zeros((batch, len(body.expression_names)), np.float32)
        face[:, rng.choice(len(body.expression_names), 8, replace=False)] = rng.uniform(0, 1, (batch, 8))

        def ours():
            calls["ours"] += 1
            body.forward(go, bp, tr, shapes[calls["ours"] % len(shapes)])

        def bare():
            calls["bare"] += 1
            with torch.inference_mode():
                model(pose_parameters=delta,
                      phenotype_kwargs=torch.from_numpy(shapes[calls["bare"] % len(shapes)]))

        def ours_fixed():
            body.forward(go, bp, tr, shapes[0, :1])

        def whole():
            calls["whole"] += 1
            body.forward(go, bp, tr, whole_shapes[calls["whole"] % len(shapes)], left_hand_pose=hands[0],
                         right_hand_pose=hands[1], expression=face)

        def bare_face():
            calls["bare_face"] += 1
            with torch.inference_mode():
                model(pose_parameters=delta, phenotype_kwargs=torch.from_numpy(
                    shapes[calls["bare_face"] % len(shapes)]), facial_actions=torch.from_numpy(face))

        # Alternate single calls, so that load from other processes hits both
        # alike; the ratio is the median of back-to-back pairs.
        for fn in (bare, ours, ours_fixed, whole, bare_face) * 3:   # warm up
            fn()
        pairs = []
        for _ in range(args.repeats):
            pairs.append([timed(fn) for fn in (bare, ours, ours_fixed, whole, bare_face)])
        t = np.array(pairs)
        rows.append((batch, *np.median(t, 0)[:3], np.median(t[:, 1] / t[:, 0]), np.median(t[:, 2] / t[:, 0])))
        whole_rows.append((batch, *np.median(t, 0)[3:], np.median(t[:, 3] / t[:, 1]),
                           np.median(t[:, 3] / t[:, 4])))

    print(f"anny body forward, torch threads={torch.get_num_threads()}, median {args.clock} time")
    print(f"{'batch':>5} | {'bare anny':>10} | {'PoseBooth':>10} | {'ratio':>5} | "
          f"{'PoseBooth, same shape':>21} | {'ratio':>5}")
    for batch, t_bare, t_ours, t_fixed, r_ours, r_fixed in rows:
        print(f"{batch:>5} | {batch / t_bare:>10.1f} | {batch / t_ours:>10.1f} | {r_ours:>5.2f} | "
              f"{batch / t_fixed:>21.1f} | {r_fixed:>5.2f}")
    print("poses/s (median); ratio = median of PoseBooth time / bare anny time over back-to-back")
    print("pairs (target <= 1.20); 'same shape':")
    print("one body shape reused across calls (the GUI case), its rest model cached")
    print()
    print(f"{'batch':>5} | {'whole body':>10} | {'/ body only':>11} | {'bare anny + face':>16} | {'ratio':>5}")
    for batch, t_whole, t_bare_face, r_body, r_bare in whole_rows:
        print(f"{batch:>5} | {batch / t_whole:>10.1f} | {r_body:>11.2f} | {batch / t_bare_face:>16.1f} | "
              f"{r_bare:>5.2f}")
    print("whole body = both hands (MANO-15) and 8 facial weights; '/ body only' = median of its time over")
    print("PoseBooth's body-only time (target <= 1.20); ratio = over bare anny given the same facial actions")


if __name__ == "__main__":
    main()
