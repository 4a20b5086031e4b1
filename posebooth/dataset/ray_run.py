"""Running a recipe on Ray (`posebooth dataset run --ray`).

Without a model, or with a model run on CPUs (--gpus-per-task 0), each
task makes the samples of one chunk with dataset.work.make_chunk (with a
model: whole batch groups, the model loaded once per Ray worker process).
With a model on GPUs, CPU tasks pose, render, annotate and
make the control images of one batch group each (dataset.work.render_group)
and write those files; diffusion actors (one per GPU, the model loaded
once) take the groups in turn, generate each in one batched call and
write the images and the samples' records. Everything is written straight
into the output folder, which every node must see at the same path (a
shared filesystem: NFS, Lustre, a mounted bucket). A task that fails or
whose node dies is retried, and a dead actor restarts (a retry skips the
samples already on disk); a driver that dies leaves what was written, and
a re-run resumes (tests/test_dataset_ray_driver_death.py).
With no address, a local Ray instance is started (and stopped at the end).
Ray ties its processes to the driver, so a driver killed even with SIGKILL
takes them along: its tasks may write a sample or two more first (harmless:
atomic files, the same bytes whoever writes them), and Ray's agents end
themselves within about a minute.
"""
from __future__ import annotations

import logging

MAX_RETRIES = 3


def _started(address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to `address`, or start a local Ray; True when started here."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        ray.init(address=address, **quiet)
    else:   # always a new instance: never a stray one a killed run left behind
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **quiet)
    return True


def run_on_ray(recipe_json: str, out_dir: str, chunks: list[list[int]], bar, address: str | None = None,
               num_cpus: int | None = None) -> None:
    """One task per chunk (a model, if any, runs in the task: on CPUs)."""
    import ray

    from posebooth.dataset.work import make_chunk

    started_here = _started(address, num_cpus)
    try:
        task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=True)(make_chunk)
        pending = [task.remote(recipe_json, out_dir, chunk) for chunk in chunks]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                bar.update(len(ray.get(ref)))
    finally:
        if started_here:
            ray.shutdown()


class DiffusionActor:
    """Holds the recipe's model (loaded once) and writes what it generates."""

    def __init__(self, recipe_json: str, out_dir: str):
        import torch

        from posebooth.dataset.recipe import Recipe
        from posebooth.dataset.work import load_model, run_settings
        from posebooth.dataset.writer import SampleWriter

        torch.set_num_threads(1)   # the same bytes as every other runner (on CPU)
        self.recipe = Recipe.model_validate_json(recipe_json)
        self.backend = load_model(self.recipe)
        from posebooth.dataset.generation_scoring import load_scorer

        self.scorer = load_scorer(self.recipe)
        self.writer = SampleWriter(out_dir, run_settings(self.recipe))

    def generate(self, items: list[dict]) -> int:
        from posebooth.dataset.work import generate_and_write

        items = [dict(it, rows=None) if it["rows"] is not None and self.writer.done(it["index"]) else it
                 for it in items]
        return len(generate_and_write(self.backend, self.recipe, self.writer, items, self.scorer))


def run_groups_on_ray(recipe_json: str, out_dir: str, groups: list[tuple[list[int], list[int]]], bar,
                      address: str | None = None, num_gpus: float = 1.0, num_cpus: int | None = None) -> None:
    """A recipe with a model on GPUs: render tasks feed diffusion actors
    (num_gpus > 0 each; run_recipe sends a CPU-only model to plain tasks),
    with about one group in flight per CPU so rendered frames never pile up
    in the object store."""
    import ray

    from posebooth.dataset.work import render_group

    started_here = _started(address, num_cpus)
    try:
        have = ray.cluster_resources().get("GPU", 0)
        if have < num_gpus:
            raise ValueError(f"the Ray cluster has {have:g} GPU(s) and each diffusion actor asks for "
                             f"{num_gpus:g}; add GPU nodes, or pass --gpus-per-task 0 to run it on CPUs")
        n_actors = int(have // num_gpus)   # >= 1: checked above
        actor_cls = ray.remote(num_cpus=1, num_gpus=num_gpus, max_restarts=MAX_RETRIES,
                               max_task_retries=MAX_RETRIES)(DiffusionActor)
        actors = [actor_cls.remote(recipe_json, out_dir) for _ in range(n_actors)]
        render = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=True)(render_group)
        # Enough groups in flight to keep every CPU rendering and every actor fed.
        window = max(2 * n_actors, int(ray.cluster_resources().get("CPU", 1)))
        todo, in_flight, turn = list(groups), [], 0
        while todo or in_flight:
            while todo and len(in_flight) < window:
                members, wanted = todo.pop(0)
                items = render.remote(recipe_json, out_dir, members, wanted)
                in_flight.append(actors[turn % n_actors].generate.remote(items))
                turn += 1
            ready, in_flight = ray.wait(in_flight, num_returns=1)
            for ref in ready:
                bar.update(ray.get(ref))
    finally:
        if started_here:
            ray.shutdown()
