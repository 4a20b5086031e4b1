"""Making samples in one process: draw, render (the one frame pipeline),
write. The same code runs in the calling process, in local worker
processes and in Ray tasks; each keeps one `SampleMaker` per run (pose
library, bodies, an EGL renderer) across the chunks it is given.

Determinism: torch runs with one thread here, so a body's vertices do not
depend on how many threads a machine has, and each sample poses its own
people in one call: a sample is the same bytes wherever it is made.
"""
from __future__ import annotations

import functools
import json
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from posebooth.dataset.generation_scoring import load_scorer, score_rows, truth_of
from posebooth.dataset.recipe import Recipe
from posebooth.dataset.writer import SampleWriter

_MAKERS: dict[str, "SampleMaker"] = {}


def run_settings(recipe: Recipe) -> dict:
    """What a resumed run must share with the first (dataset run.json)."""
    return {"recipe": recipe.digest(), "seed": recipe.seed, "samples": recipe.samples,
            "size": list(recipe.camera.size), "passes": list(recipe.output.passes),
            "control_kinds": list(recipe.generation.controls), "shard_size": recipe.output.shard_size,
            "clip_frames": recipe.clip_frames, "model": recipe.generation.model or None}


class SampleMaker:
    """model=False: render and write only (a Ray render task, whose samples
    a GPU actor generates: dataset.ray_run)."""

    def __init__(self, recipe: Recipe, out_dir, body_for=None, renderer=None, model: bool = True):
        import torch

        from posebooth.dataset.malloc import keep_freed_memory
        from posebooth.dataset.poses import PoseLibrary

        torch.set_num_threads(1)
        keep_freed_memory()
        if body_for is None:
            from posebooth.assets.registry import get_body as body_for
        self._own_renderer = renderer is None
        if renderer is None:
            from posebooth.viewport.headless import HeadlessRenderer
            renderer = HeadlessRenderer()
        self.recipe, self.body_for, self.renderer = recipe, body_for, renderer
        self.library = PoseLibrary(recipe)
        self.writer = SampleWriter(out_dir, run_settings(recipe))
        # Files are encoded and written on a thread (PNG deflate releases the
        # GIL) while the next sample is drawn and rendered.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="posebooth-sample-write")
        self._in_flight: deque = deque()
        self.backend = load_model(recipe) if model and recipe.generation.model else None
        self.scorer = load_scorer(recipe) if self.backend is not None else None

    def render(self, index: int):
        """Sample `index` drawn and rendered: (dataset.sampling.Sample, a RenderedFrame per clip frame)."""
        from posebooth.assets.props import scene_props
        from posebooth.dataset.sampling import draw_sample
        from posebooth.frame.render import render_frame
        from posebooth.scene.tracks import camera_at

        sample = draw_sample(self.recipe, index, self.library, self.body_for)
        passes = ["rgb"] + [p for p in ("normal", "parts") if p in self.writer.passes]
        props = scene_props(sample.scene)   # a preset's seat: static, placed once for every frame
        rendered = [render_frame(self.renderer, people, camera_at(sample.scene.camera, f), f, passes=passes,
                                 controls=self.writer.control_kinds or self.recipe.generation.controls, props=props,
                                 openpose=self.recipe.generation.openpose)
                    for f, people in enumerate(sample.posed)]
        return sample, rendered

    def make_all(self, indices, on_done=None) -> list[dict]:
        """Make every sample of `indices` (with a model, whole batch groups:
        dataset.generate); on_done(n) after each n written."""
        if not self.recipe.generation.model:
            made = []
            for i in indices:
                made.append(self.make(i))
                if on_done:
                    on_done(1)
            return made
        from posebooth.dataset.generate import groups

        made = []
        for members, todo in groups(indices, self.recipe.generation.batch, self.recipe.samples):
            items = [self.render_item(i, write=i in todo) for i in members]
            made += self.generate_and_write(items)
            if on_done:
                on_done(len(todo))
        return made

    def make(self, index: int) -> dict:
        """Draw, render and write sample `index` (no model); returns its counts."""
        sample, rendered = self.render(index)
        while len(self._in_flight) >= 2:
            self._in_flight.popleft().result()
        self._in_flight.append(self._pool.submit(self.writer.write, sample, rendered))
        return _counts(sample)

    def render_item(self, index: int, write: bool) -> dict:
        """A sample ready for the model: its requests and, when `write`, every
        file but the generated ones already written (its rows kept for the record)."""
        from posebooth.dataset.generate import frame_requests

        sample, rendered = self.render(index)
        requests = frame_requests(sample, rendered, self.recipe.generation.controls)
        rows = None
        if write:   # the control images written are exactly those handed to the model
            controls = [{c.kind: c.image for c in r.controls} for r in requests]
            rows = self.writer.write_rendered(sample, rendered, controls)
        truth = [truth_of(r) for r in rendered] if write and self.recipe.generation.score else None
        return {"index": index, "requests": requests, "rows": rows, "meta": sample.meta, "truth": truth,
                "colors": [p.color for p in rendered[0].people], "counts": _counts(sample)}

    def generate_and_write(self, items: list[dict]) -> list[dict]:
        """One batch group through the model; the samples to write get their
        images and records. Returns their counts."""
        return generate_and_write(self.backend, self.recipe, self.writer, items, self.scorer)

    def drain(self) -> None:
        """Wait until every sample made so far is on disk (re-raises a write error)."""
        while self._in_flight:
            self._in_flight.popleft().result()

    def close(self) -> None:
        self.drain()
        self._pool.shutdown(wait=True)
        if self._own_renderer:
            self.renderer.close()


def _counts(sample) -> dict:
    return {"index": sample.index, "people": len(sample.scene.people), "tries": sample.placement_tries}


def generate_and_write(backend, recipe: Recipe, writer: SampleWriter, items: list[dict],
                       scorer=None) -> list[dict]:
    """scorer (dataset.generation_scoring): score each sample written, and
    regenerate it alone below the recipe's threshold."""
    from posebooth.dataset.generate import generate_samples

    strategy = recipe.generation.clip_strategy
    results = generate_samples(backend, strategy, [it["requests"] for it in items])
    done = []
    for item, result in zip(items, results):
        if item["rows"] is not None:
            meta = item["meta"]
            if scorer is not None and item.get("truth") is not None:
                result = scorer.settle(backend, strategy, item, result)
                score_rows(item["rows"], result["scores"])
                meta = {**meta, "fidelity": result["fidelity"]}
            writer.write_generated(item["index"], item["rows"], result["rgb"], result["seeds"], item["colors"],
                                   meta)
            done.append(item["counts"])
    return done


def model_options(recipe: Recipe):
    """How the recipe's model is loaded: by the workers, and checked (without
    torch) by `dataset run` before they start."""
    from posebooth.pipeline.source_checks import LoadOptions

    g = recipe.generation
    return LoadOptions(device=g.device, dtype=g.dtype, preview_decoder="none")


def load_model(recipe: Recipe):
    """The recipe's diffusion model, loaded once per process; its ControlNets
    must cover the recipe's control kinds (the exported control/ images are
    exactly those handed to the model)."""
    from posebooth.pipeline.loading import load_backend

    g = recipe.generation
    backend = load_backend(g.model, model_options(recipe))
    missing = [k for k in g.controls if k not in backend.control_kinds]
    if missing:
        raise ValueError(f"generation.controls: the model {g.model} has no ControlNet for {', '.join(missing)} "
                         f"(it takes {', '.join(backend.control_kinds)})")
    W, H = recipe.camera.size
    if W % 8 or H % 8:
        raise ValueError(f"camera.size: {W}x{H} is not a multiple of 8, which diffusion models need")
    return backend


def maker_for(recipe_json: str, out_dir: str, model: bool = True) -> SampleMaker:
    """This worker process's maker for a run. The EGL renderer outlives runs
    (a pool or a Ray worker kept warm across runs does not build it again)."""
    recipe = Recipe.model_validate_json(recipe_json)
    key = f"{recipe.digest()}:{out_dir}:{model}"
    if key not in _MAKERS:
        for old in _MAKERS.values():   # one run at a time per process
            old.close()
        _MAKERS.clear()
        _MAKERS[key] = SampleMaker(recipe, out_dir, renderer=_process_renderer(), model=model)
    return _MAKERS[key]


def warm_worker() -> int:
    """Build this worker's anny body and renderer now (what its first
    sample would otherwise pay for); returns the process id."""
    import os

    from posebooth.assets.registry import get_body
    from posebooth.scene.model import BodySpec

    get_body(BodySpec(model="anny"))
    _process_renderer()
    return os.getpid()


@functools.lru_cache(maxsize=1)
def _process_renderer():
    """A worker's renderer. Mesa's software rasteriser (llvmpipe) draws on
    the calling thread: a worker already has a core of its own, and
    llvmpipe's helper threads (one per core, in every worker) only add
    hand-offs between them. Output is the same; a GPU driver ignores this."""
    import os

    from posebooth.viewport.headless import HeadlessRenderer

    os.environ.setdefault("LP_NUM_THREADS", "0")
    return HeadlessRenderer()


def make_chunk(recipe_json: str, out_dir: str, indices: list[int]) -> list[dict]:
    """Worker entry (a process pool or a Ray task): make every sample of the
    chunk not already on disk (a retried task skips what it wrote)."""
    maker = maker_for(recipe_json, out_dir)
    made = maker.make_all([i for i in indices if not maker.writer.done(i)])
    maker.drain()
    return made


def render_group(recipe_json: str, out_dir: str, members: list[int], todo: list[int]) -> list[dict]:
    """Ray render task: a batch group rendered, its files but the generated
    ones written; the items go to a GPU actor (dataset.ray_run)."""
    maker = maker_for(recipe_json, out_dir, model=False)
    return [maker.render_item(i, write=i in todo and not maker.writer.done(i)) for i in members]


def recipe_json(recipe: Recipe) -> str:
    return json.dumps(recipe.model_dump(mode="json"))
