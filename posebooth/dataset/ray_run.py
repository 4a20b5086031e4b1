"""Running a recipe's chunks as Ray tasks (`posebooth dataset run --ray`).

Each task makes the samples of one chunk with dataset.work.make_chunk and
writes them straight into the output folder, which every node must see at
the same path (a shared filesystem: NFS, Lustre, a mounted bucket). A task
that fails or whose node dies is retried (a retry skips the samples already
on disk); a driver that dies leaves what was written, and a re-run resumes.
With no address, a local Ray instance is started (and stopped at the end;
a run killed with SIGKILL leaves it running: `ray stop` ends it).
"""
from __future__ import annotations

import logging

MAX_RETRIES = 3


def run_on_ray(recipe_json: str, out_dir: str, chunks: list[list[int]], bar, address: str | None = None,
               num_cpus: int | None = None, num_gpus: float = 0) -> None:
    """num_gpus: per task, when the recipe runs a model (a GPU worker keeps
    its model loaded across the tasks Ray gives it)."""
    import ray

    from posebooth.dataset.work import make_chunk

    started_here = not ray.is_initialized()
    if started_here:
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        if address:
            ray.init(address=address, **quiet)
        else:   # always a new instance: never a stray one a killed run left behind
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **quiet)
    try:
        have = ray.cluster_resources().get("GPU", 0)
        if num_gpus and have < num_gpus:
            raise ValueError(f"the Ray cluster has {have:g} GPU(s) and each task with a model asks for "
                             f"{num_gpus:g}; add GPU nodes, or pass --gpus-per-task 0 to run it on CPUs")
        task = ray.remote(num_cpus=1, num_gpus=num_gpus, max_retries=MAX_RETRIES, retry_exceptions=True)(make_chunk)
        pending = [task.remote(recipe_json, out_dir, chunk) for chunk in chunks]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                bar.update(len(ray.get(ref)))
    finally:
        if started_here:
            ray.shutdown()
