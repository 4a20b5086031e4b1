"""Diffusion for recipe samples, in groups of `generation.batch` samples.

Samples are grouped by index (group k = samples k*B .. k*B+B-1), the same
groups on every runner, so a generated image does not depend on where it
was made: one process, local workers, or a Ray GPU actor fed by CPU render
tasks. A group's frames go through the model one clip frame at a time, all
of the group's samples in one batched call (each with its own seed and
prompt). A batch of one runs the recipe's clip strategy as before.
"""
from __future__ import annotations

import dataclasses


def group_of(index: int, batch: int) -> range:
    start = index - index % batch
    return range(start, start + batch)


def groups(indices, batch: int, samples: int) -> list[tuple[list[int], list[int]]]:
    """(every sample of the group, the ones of `indices` in it) per group
    touched by `indices`, in order: a group is generated whole, even on
    resume, so its images are those of an uninterrupted run."""
    out: dict[int, list[int]] = {}
    for i in indices:
        out.setdefault(i // batch, []).append(i)
    return [([m for m in group_of(g * batch, batch) if m < samples], todo) for g, todo in out.items()]


def frame_requests(sample, rendered, kinds) -> list:
    """The model's request for each clip frame of a sample (its prompt and
    seed, the frame's control images)."""
    from posebooth.frame.request import build_request

    out = []
    for f, frame in enumerate(rendered):
        cam = frame.camera
        request = build_request(sample.scene.generation, frame.controls(kinds), seed=sample.generation_seed,
                                width=cam.width, height=cam.height)
        out.append(dataclasses.replace(request, frame_index=f, preview=False))
    return out


def generate_samples(backend, strategy: str, requests: list[list]) -> list[dict]:
    """requests[s][f]: sample s's frame f. Returns per sample its images and seeds."""
    if len(requests) == 1:
        return [_one_clip(backend, strategy, requests[0])]
    out = [{"rgb": [], "seeds": []} for _ in requests]
    for f in range(len(requests[0])):
        for item, result in zip(out, backend.generate_batch([r[f] for r in requests])):
            item["rgb"].append(result.image)
            item["seeds"].append(int(result.seed))
    return out


def _one_clip(backend, strategy: str, frames: list) -> dict:
    from posebooth.pipeline.clips import ClipOptions, ClipRun

    run = ClipRun(backend, ClipOptions(strategy))
    out = {"rgb": [], "seeds": []}
    try:
        for request in frames:
            result = run.step(request)
            out["rgb"].append(result.image)
            out["seeds"].append(int(result.seed))
    finally:
        run.close()
    return out
