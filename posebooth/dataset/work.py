"""Making samples in one process: draw, render (the one frame pipeline),
write. The same code runs in the calling process, in local worker
processes and in Ray tasks; each keeps one `SampleMaker` per run (pose
library, bodies, an EGL renderer) across the chunks it is given.

Determinism: torch runs with one thread here, so a body's vertices do not
depend on how many threads a machine has, and each sample poses its own
people in one call: a sample is the same bytes wherever it is made.
"""
from __future__ import annotations

import json
from collections import deque
from concurrent.futures import ThreadPoolExecutor

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
    def __init__(self, recipe: Recipe, out_dir, body_for=None, renderer=None):
        import torch

        from posebooth.dataset.poses import PoseLibrary

        torch.set_num_threads(1)
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
        self.backend = load_model(recipe) if recipe.generation.model else None

    def make(self, index: int) -> dict:
        """Draw, render and write sample `index`; returns its counts."""
        from posebooth.dataset.sampling import draw_sample
        from posebooth.frame.render import render_frame
        from posebooth.scene.tracks import camera_at

        sample = draw_sample(self.recipe, index, self.library, self.body_for)
        passes = ["rgb"] + [p for p in ("normal", "parts") if p in self.writer.passes]
        rendered = [render_frame(self.renderer, people, camera_at(sample.scene.camera, f), f, passes=passes,
                                 controls=self.writer.control_kinds)
                    for f, people in enumerate(sample.posed)]
        generated = self._generate(sample, rendered) if self.backend is not None else {}
        while len(self._in_flight) >= 2:
            self._in_flight.popleft().result()
        self._in_flight.append(self._pool.submit(self.writer.write, sample, rendered, **generated))
        return {"index": index, "people": len(sample.scene.people), "tries": sample.placement_tries}

    def _generate(self, sample, rendered) -> dict:
        """Each frame of the sample through the model, as one clip (the
        recipe's strategy, the sample's prompt and seed); returns the images,
        seeds and the exact control images handed to the model."""
        from posebooth.frame.request import build_request
        from posebooth.pipeline.clips import ClipOptions, ClipRun

        g = self.recipe.generation
        run = ClipRun(self.backend, ClipOptions(g.clip_strategy))
        out = {"rgb": [], "seeds": [], "controls": []}
        try:
            for frame in rendered:
                cam = frame.camera
                request = build_request(sample.scene.generation, frame.controls(self.writer.control_kinds),
                                        seed=sample.generation_seed, width=cam.width, height=cam.height)
                result = run.step(request)
                out["rgb"].append(result.image)
                out["seeds"].append(int(result.seed))
                out["controls"].append({c.kind: c.image for c in request.controls})
        finally:
            run.close()
        return out

    def drain(self) -> None:
        """Wait until every sample made so far is on disk (re-raises a write error)."""
        while self._in_flight:
            self._in_flight.popleft().result()

    def close(self) -> None:
        self.drain()
        self._pool.shutdown(wait=True)
        if self._own_renderer:
            self.renderer.close()


def load_model(recipe: Recipe):
    """The recipe's diffusion model, loaded once per process; its ControlNets
    must cover the recipe's control kinds (the exported control/ images are
    exactly those handed to the model)."""
    from posebooth.pipeline.loading import LoadOptions, load_backend

    g = recipe.generation
    backend = load_backend(g.model, LoadOptions(device=g.device, dtype=g.dtype, preview_decoder="none"))
    missing = [k for k in g.controls if k not in backend.control_kinds]
    if missing:
        raise ValueError(f"generation.controls: the model {g.model} has no ControlNet for {', '.join(missing)} "
                         f"(it takes {', '.join(backend.control_kinds)})")
    W, H = recipe.camera.size
    if W % 8 or H % 8:
        raise ValueError(f"camera.size: {W}x{H} is not a multiple of 8, which diffusion models need")
    return backend


def maker_for(recipe_json: str, out_dir: str) -> SampleMaker:
    recipe = Recipe.model_validate_json(recipe_json)
    key = f"{recipe.digest()}:{out_dir}"
    if key not in _MAKERS:
        for old in _MAKERS.values():   # one run at a time per process
            old.close()
        _MAKERS.clear()
        _MAKERS[key] = SampleMaker(recipe, out_dir)
    return _MAKERS[key]


def make_chunk(recipe_json: str, out_dir: str, indices: list[int]) -> list[dict]:
    """Worker entry (a process pool or a Ray task): make every sample of the
    chunk not already on disk (a retried task skips what it wrote)."""
    maker = maker_for(recipe_json, out_dir)
    made = [maker.make(i) for i in indices if not maker.writer.done(i)]
    maker.drain()
    return made


def recipe_json(recipe: Recipe) -> str:
    return json.dumps(recipe.model_dump(mode="json"))
