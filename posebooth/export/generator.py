"""Generation for exports and previews, without Qt: scene settings plus a
frame's conditioning images -> a GenerationRequest, and the FrameGenerator
(export.driver) that runs a loaded backend over the frames export_scene
hands it, with the scene's clip strategy.

`posebooth render --model` and the GUI's "Export frame / clip" both go
through `SceneGenerator` + `ClipSession`, so a scene exports the same way
from either. The clip strategies themselves are pipeline.clips.generate_clip
(one implementation): it wants a sequence of requests, export_scene produces
them one frame at a time, so `ClipSession` feeds generate_clip lazily on the
thread that owns the backend (a helper thread headless, the generation
worker in the GUI) and hands each result back. Memory stays one frame deep
whatever the clip length.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Mapping

import numpy as np

from posebooth.export.annotations import annotate_frame
from posebooth.export.controls import control_images
from posebooth.export.driver import FrameInputs, GeneratedFrame
from posebooth.pipeline.errors import GenerationCancelled, GenerationError
from posebooth.pipeline.request import Control, GenerationRequest, GenerationResult, new_request_id

STRIDE = 8  # width and height of a request must be multiples of the VAE's stride
_END = object()  # no more frames


# --- requests ------------------------------------------------------------------------------
def generation_size(width: int, height: int, scale: float = 1.0) -> tuple[int, int]:
    """(W, H) scaled, rounded down to multiples of 8 (at least 8): what the model can take."""
    snap = lambda v: max(STRIDE, int(v * scale) // STRIDE * STRIDE)  # noqa: E731
    return snap(width), snap(height)


def camera_at_size(camera, width: int, height: int):
    """`camera` (scene.camera.Camera) seeing the same view on a width x height image: K scaled
    per axis, which maps the continuous pixel rectangle [0, W) x [0, H) onto [0, w) x [0, h)
    (FORMAT.md's pixel convention), so it also holds for explicit intrinsics."""
    from posebooth.scene.camera import Camera

    if (width, height) == (camera.width, camera.height):
        return camera
    K = np.diag([width / camera.width, height / camera.height, 1.0]) @ camera.K
    return Camera(K=K, extrinsic=camera.extrinsic, width=int(width), height=int(height), near=camera.near,
                  far=camera.far)


def scene_kinds(gen) -> tuple[str, ...]:
    """Control kinds enabled in scene.generation, in order, deduplicated (depth if none)."""
    return tuple(dict.fromkeys(c.kind for c in gen.controls)) or ("depth",)


def usable_kinds(gen, model_kinds) -> tuple[str, ...]:
    """The scene's kinds the model has a ControlNet for. Images the model ignores are not
    rendered (nor exported as control/ files: those are what the model was given); if none
    is left, the model's first kind (SD2-depth: depth) so there is something to condition on."""
    model_kinds = tuple(model_kinds or ())
    if not model_kinds:
        return scene_kinds(gen)
    return tuple(k for k in scene_kinds(gen) if k in model_kinds) or model_kinds[:1]


def renderer_passes(kinds) -> tuple[str, ...]:
    """Depth and instance always (annotations, openpose visibility), normal when asked for."""
    return ("depth", "normal", "instance") if "normal" in kinds else ("depth", "instance")


def render_controls(renderer, people, camera, kinds, frame: int) -> dict[str, np.ndarray]:
    """Conditioning images of posed `people` seen by `camera`, through the renderer and
    export.controls: the same code the dataset export writes control/ with."""
    from posebooth.viewport.renderer import RenderMesh

    meshes = [RenderMesh(p.vertices, p.faces, p.part_labels, p.index + 1, p.color) for p in people]
    rp = renderer.render(meshes, camera, renderer_passes(kinds))
    ann = annotate_frame(people, camera, rp.depth, rp.instance, frame) if "openpose" in kinds else None
    return control_images(kinds, rp, ann)


def build_request(gen, controls: Mapping[str, np.ndarray], *, seed: int, width: int, height: int,
                  steps: int | None = None, guidance: float | None = None, preview: bool = False,
                  request_id: str | None = None) -> GenerationRequest:
    """A request from scene.generation (prompt, steps, guidance, scheduler, each control's
    scale/start/end) and rendered control images (kind -> HxWx3 uint8 at width x height)."""
    by_kind = {c.kind: c for c in gen.controls}
    made = []
    for kind, image in controls.items():
        s = by_kind.get(kind)
        scale, start, end = (s.scale, s.start, s.end) if s is not None else (1.0, 0.0, 1.0)
        if end <= start:
            raise ValueError(f"{kind} control: start ({start:.2f}) must be before end ({end:.2f})")
        made.append(Control(kind, image, float(scale), float(start), float(end)))
    extra = {"request_id": request_id} if request_id else {}
    return GenerationRequest(
        prompt=gen.prompt, negative_prompt=gen.negative_prompt, controls=tuple(made), seed=int(seed),
        steps=int(steps or gen.steps), guidance=float(gen.guidance if guidance is None else guidance),
        width=int(width), height=int(height), preview=preview, scheduler=gen.scheduler, **extra)


def generator_settings(gen, model: Mapping[str, Any], *, kinds, seed: int, steps: int, guidance: float,
                       strategy: str, strength: float) -> dict:
    """dataset.json `generator` (FORMAT.md). Deterministic: a re-run with the same settings
    resumes the export, other settings are refused by the writer."""
    by_kind = {c.kind: c for c in gen.controls}
    out = {
        "model": model.get("label"), "source": model.get("source"), "pipeline": model.get("pipeline"),
        "scheduler": model.get("scheduler"), "device": model.get("device"), "dtype": model.get("dtype"),
        "prompt": gen.prompt, "negative_prompt": gen.negative_prompt, "steps": int(steps),
        "guidance": float(guidance),
        "controls": [{"kind": k, "scale": float(by_kind[k].scale if k in by_kind else 1.0),
                      "start": float(by_kind[k].start if k in by_kind else 0.0),
                      "end": float(by_kind[k].end if k in by_kind else 1.0)} for k in kinds],
        "seed": int(seed), "seed_policy": "fixed: every frame uses this seed (see clip_strategy)",
        "clip_strategy": strategy,
    }
    if strategy == "previous-frame":
        out["img2img_strength"] = float(strength)
    return out


def model_info(backend, source: str) -> dict:
    """Plain-data description of a loaded backend (safe to hand to another thread)."""
    return {"source": str(source), "label": backend.label, "pipeline": backend.pipeline_kind,
            "control_kinds": list(backend.control_kinds), "scheduler": backend.scheduler_name(),
            "device": str(backend.device), "dtype": str(backend.dtype).replace("torch.", ""),
            "defaults": dict(backend.defaults), "warnings": list(backend.warnings)}


# --- streaming clips -----------------------------------------------------------------------
class _Feed:
    """The request sequence generate_clip iterates: each item blocks until the export
    hands it over. Only what generate_clip uses: truth, [0], iteration."""

    def __init__(self, session: "ClipSession"):
        self._session, self._first = session, None

    def _next(self):
        while True:
            if self._session.stopped():
                raise GenerationCancelled(self._session.clip_id)
            try:
                return self._session._requests.get(timeout=0.05)
            except queue.Empty:
                pass

    def _head(self):
        if self._first is None:
            self._first = self._next()
        return self._first

    def __bool__(self) -> bool:
        return self._head() is not _END

    def __getitem__(self, index: int):
        if index != 0:
            raise IndexError(index)
        return self._head()

    def __iter__(self):
        item = self._head()
        while item is not _END:
            yield item
            item = self._next()


class ClipSession:
    """One clip, streamed: `run(backend)` on the backend's thread, `generate(request)`
    frame by frame from the export's thread, then `finish()` (or `stop()` to cancel)."""

    def __init__(self, options, clip_id: str | None = None):
        self.options = options  # pipeline.clips.ClipOptions
        self.clip_id = clip_id or new_request_id()
        self._requests: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._external_stop: Callable[[], bool] = lambda: False
        self._aborted: BaseException | None = None
        self._ended = False

    def stopped(self) -> bool:
        return self._stop.is_set() or self._external_stop()

    def run(self, backend, should_stop: Callable[[], bool] | None = None) -> None:
        """Generate frames as they arrive until finish()/stop(); never raises (errors go
        to the waiting generate())."""
        from posebooth.pipeline.clips import generate_clip

        if should_stop is not None:
            self._external_stop = should_stop
        try:
            if backend is None:
                raise GenerationError("No model is loaded: choose a model first")
            generate_clip(backend, _Feed(self), self.options, clip_id=self.clip_id,
                          on_step_for=lambda req: self._on_step, on_frame=self._results.put,
                          should_stop=self.stopped)
        except BaseException as exc:  # handed to the export thread, which raises it
            self._results.put(exc)
        finally:
            self._ended = True

    def _on_step(self, step: int, total: int, preview) -> None:
        if self.stopped():  # cancel lands within one denoising step
            raise GenerationCancelled(self.clip_id)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self._requests.put(request)
        while True:
            try:
                item = self._results.get(timeout=0.05)
            except queue.Empty:
                if self._aborted is not None:
                    raise self._aborted
                if self._ended and self._results.empty():
                    raise GenerationError("the clip's generation has already ended")
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def finish(self) -> None:
        self._requests.put(_END)

    def stop(self) -> None:
        self._stop.set()

    def abort(self, error: BaseException | None = None) -> None:
        """The runner will not run (its job was cancelled or failed): wake generate()."""
        self._aborted = error or GenerationCancelled(self.clip_id)
        self._stop.set()


class SceneGenerator:
    """export.driver.FrameGenerator: each frame's request from the scene's generation
    settings and the frame's control images, generated through a ClipSession."""

    def __init__(self, gen, session: ClipSession, model: Mapping[str, Any], *, seed: int | None = None,
                 steps: int | None = None, guidance: float | None = None,
                 on_close: Callable[[], None] | None = None):
        self.gen, self.session = gen, session
        self.seed = int(gen.seed if seed is None else seed)
        self.steps = int(steps or gen.steps)
        self.guidance = float(gen.guidance if guidance is None else guidance)
        self.control_kinds = usable_kinds(gen, model.get("control_kinds"))
        self.settings = generator_settings(gen, model, kinds=self.control_kinds, seed=self.seed,
                                           steps=self.steps, guidance=self.guidance,
                                           strategy=session.options.strategy, strength=session.options.strength)
        self._on_close = on_close

    def __call__(self, inputs: FrameInputs) -> GeneratedFrame:
        cam = inputs.camera
        request = build_request(self.gen, {k: inputs.controls[k] for k in self.control_kinds}, seed=self.seed,
                                width=cam.width, height=cam.height, steps=self.steps, guidance=self.guidance)
        result = self.session.generate(request)
        # The images exactly as handed to the model (the request's read-only copies).
        return GeneratedFrame(np.asarray(result.image), int(result.seed),
                              {c.kind: np.asarray(c.image) for c in request.controls})

    def close(self) -> None:
        """No more frames: let the runner end (stopping it if a frame is still running)."""
        self.session.finish()
        if self._on_close is not None:
            self._on_close()


def clip_options(gen, strategy: str | None = None):
    from posebooth.pipeline.clips import ClipOptions

    return ClipOptions(strategy or gen.clip_strategy, strength=min(1.0, max(0.01, float(gen.img2img_strength))))


def local_generator(backend, gen, source: str, *, seed: int | None = None, steps: int | None = None,
                    guidance: float | None = None, strategy: str | None = None) -> SceneGenerator:
    """A SceneGenerator whose clip runs on its own thread with `backend` (headless use:
    nothing else touches the backend meanwhile). Call close() when the export ends."""
    session = ClipSession(clip_options(gen, strategy))
    thread = threading.Thread(target=session.run, args=(backend,), name="posebooth-clip", daemon=True)

    def close():
        if thread.is_alive():
            thread.join(0.5)
            if thread.is_alive():  # the export stopped mid-frame: cancel within one step
                session.stop()
                thread.join(30)

    generator = SceneGenerator(gen, session, model_info(backend, source), seed=seed, steps=steps,
                               guidance=guidance, on_close=close)
    thread.start()
    return generator
