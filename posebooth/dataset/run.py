"""Running a recipe: the samples not yet on disk, in chunks, in this
process, in local worker processes or as Ray tasks; then every complete
shard is assembled and dataset.json written.

A sample is a pure function of (recipe, seed, index), so the chunking, the
number of workers and their order change nothing in what is written; a
killed run resumes from the samples whose records are on disk.
"""
from __future__ import annotations

import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone

from posebooth.dataset.layout import shard_of
from posebooth.dataset.provenance import licenses_markdown, provenance
from posebooth.dataset.recipe import Recipe
from posebooth.dataset.work import make_chunk, recipe_json, run_settings
from posebooth.dataset.writer import SampleWriter

CHUNK = 4             # samples per task: small enough for a live progress bar and cheap retries
FORMAT_NAME = "posebooth-recipe-dataset"
FORMAT_VERSION = 1


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """Local worker processes: spawned (fork would copy a live EGL context
    and torch's threads), each ending itself if this process dies."""
    return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=init_worker)


def init_worker() -> None:
    from posebooth.dataset.malloc import keep_freed_memory
    from posebooth.export.process import exit_with_parent

    exit_with_parent()
    keep_freed_memory()


def _bar(total: int, done: int, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="sample", disable=not progress, desc="dataset",
                dynamic_ncols=True)


def _chunks(recipe: Recipe, pending: list[int]) -> list[list[int]]:
    """Work units: CHUNK samples, or with a model whole batch groups (a group
    is generated in one place: dataset.generate)."""
    if not recipe.generation.model or recipe.generation.batch == 1:
        return [pending[i:i + CHUNK] for i in range(0, len(pending), CHUNK)]
    from posebooth.dataset.generate import groups

    return [todo for _, todo in groups(pending, recipe.generation.batch, recipe.samples)]


def run_recipe(recipe: Recipe, out_dir, *, workers: int = 1, ray_address: str | None = None,
               use_ray: bool = False, progress: bool = True, recipe_text: str | None = None,
               body_for=None, renderer=None, gpus_per_task: float | None = None, pool=None) -> dict:
    """Make every sample of `recipe` into out_dir; returns dataset.json.
    With a model on Ray, CPU tasks render and each diffusion actor takes
    `gpus_per_task` GPUs (default 1). With 0, there are no actors: each
    task also generates its samples, as local workers do (on CPUs a lone
    actor would generate for every task in turn).
    pool: a ProcessPoolExecutor to use for workers > 1 (kept warm by the
    caller across runs; its processes need `init_worker`)."""
    if gpus_per_task is None:
        gpus_per_task = 1.0 if recipe.generation.model else 0.0
    writer = SampleWriter(out_dir, run_settings(recipe), recipe_text)
    writer.clean_temp_files()
    pending = writer.pending(range(recipe.samples))
    chunks = _chunks(recipe, pending)
    text, out = recipe_json(recipe), str(writer.out.root)
    with _bar(recipe.samples, recipe.samples - len(pending), progress) as bar:
        if use_ray and recipe.generation.model and gpus_per_task > 0:
            from posebooth.dataset.generate import groups
            from posebooth.dataset.ray_run import run_groups_on_ray

            run_groups_on_ray(text, out, groups(pending, recipe.generation.batch, recipe.samples), bar,
                              ray_address, num_gpus=gpus_per_task)
        elif use_ray:
            from posebooth.dataset.ray_run import run_on_ray

            run_on_ray(text, out, chunks, bar, ray_address)
        elif workers <= 1:
            from posebooth.dataset.work import SampleMaker

            maker = SampleMaker(recipe, out, body_for=body_for, renderer=renderer)
            try:
                maker.make_all(pending, on_done=bar.update)
            finally:
                maker.close()
        else:
            own = pool is None
            if own:
                pool = worker_pool(workers)
            try:
                futures = [pool.submit(make_chunk, text, out, chunk) for chunk in chunks]
                for fut in as_completed(futures):
                    bar.update(len(fut.result()))
            finally:
                if own:
                    pool.shutdown(wait=True, cancel_futures=True)
    return finish(writer, recipe)


def finish(writer: SampleWriter, recipe: Recipe) -> dict:
    """Assemble the complete shards and write dataset.json (complete: every
    sample on disk and every shard assembled)."""
    from importlib.metadata import version

    from posebooth import __version__

    s = writer.settings
    # The installed version, not `import anny`: that imports torch, seconds a
    # Ray or multi-process driver (which never poses a body) need not spend.
    body_version = f"anny {version('anny')}"
    prov = provenance(recipe, body_version)
    shards = range(shard_of(recipe.samples - 1, recipe.output.shard_size) + 1)
    stats = {"samples_done": 0, "people": 0, "placement_tries": 0}
    assembled = []
    for shard in shards:
        if writer.shard_complete(shard):
            counts = writer.assemble_shard(shard)
            assembled.append(shard)
            stats["samples_done"] += counts["samples"]
            stats["people"] += counts["people"]
            stats["placement_tries"] += counts["placement_tries"]
    done = stats["samples_done"]
    stats["placement_rejection_rate"] = (stats["placement_tries"] - done) / max(1, stats["placement_tries"])
    manifest = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "app_version": __version__,
        "created": writer.created, "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "recipe": s["recipe"], "seed": s["seed"], "samples": s["samples"], "shard_size": s["shard_size"],
        "clip_frames": s["clip_frames"], "fps": recipe.fps, "image_size": s["size"], "passes": s["passes"],
        "control_kinds": s["control_kinds"], "generator": _generator(recipe), "body_models": [body_version],
        "shards_assembled": assembled, "stats": stats, "provenance": prov, "complete": done == recipe.samples,
    }
    manifest.update(_kept_from_before(writer))
    if recipe.generation.score is not None and recipe.generation.model:
        manifest["fidelity"] = _scored_summary(writer, recipe, assembled)
    writer.out.write_bytes("LICENSES.md", licenses_markdown(prov).encode("utf-8"))
    writer.out.write_bytes("dataset.json", (json.dumps(manifest, indent=1) + "\n").encode("utf-8"), fsync=True)
    return manifest


def _scored_summary(writer: SampleWriter, recipe: Recipe, shards: list[int]) -> dict:
    """dataset.json's `fidelity` from the assembled shards (generation_scoring)."""
    import numpy as np

    from posebooth.dataset.generation_scoring import summary
    from posebooth.dataset.layout import shard_dir

    tables, metas = [], []
    for shard in shards:
        with np.load(writer.out.path(f"{shard_dir(shard)}/annotations.npz"), allow_pickle=False) as z:
            if "fidelity" in z.files:
                tables.append({k: z[k] for k in ("fidelity", "fidelity_pck", "fidelity_depth")})
        text = writer.out.path(f"{shard_dir(shard)}/samples.jsonl").read_text(encoding="utf-8")
        metas += [json.loads(line) for line in text.splitlines() if line.strip()]
    return summary(recipe, tables, metas)


def _generator(recipe: Recipe) -> dict | None:
    g = recipe.generation
    if not g.model:
        return None
    return {"model": g.model, "steps": g.steps, "guidance": g.guidance, "controls": list(g.controls),
            "seed_policy": g.seed_policy, "clip_strategy": g.clip_strategy, "device": g.device, "dtype": g.dtype}


KEPT_KEYS = ("smpl_fit",)   # written by later commands (dataset fit-smpl): a re-run keeps them


def _kept_from_before(writer) -> dict:
    from posebooth.files.safe_read import UserFileError, read_user_file

    try:
        before = json.loads(read_user_file(writer.out.path("dataset.json"), "dataset manifest", 1 << 26))
    except (UserFileError, ValueError, OSError):
        return {}
    return {k: before[k] for k in KEPT_KEYS if isinstance(before, dict) and k in before}
