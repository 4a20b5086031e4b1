"""Export a scene: pose, render, annotate and write every frame (no Qt).

`export_scene` is what `posebooth render` and the GUI's export call; each
frame goes through the one frame pipeline (frame.render). The generation
seam: pass a `FrameGenerator`; it receives each RenderedFrame (passes,
annotations and conditioning images on demand) and returns the generated
image, its seed and the exact conditioning images it used. Without one, no
model runs (seed -1, dataset.json `generator` null).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from posebooth.export.passes import DEFAULT_PASSES, POSE_CHUNK
from posebooth.export.writer import DatasetWriter
from posebooth.frame.controls import openpose_parts, scene_control_kinds
from posebooth.frame.render import RenderedFrame, render_frame
from posebooth.frame.sizes import with_size



@dataclass(frozen=True)
class GeneratedFrame:
    rgb: np.ndarray                      # (H, W, 3) uint8
    seed: int
    controls: dict[str, np.ndarray] | None = None  # as handed to the model; None = the frame's own


class FrameGenerator(Protocol):
    settings: dict                       # dataset.json "generator": model, scheduler, steps, ...
    control_kinds: tuple[str, ...]       # conditioning images it wants

    def __call__(self, rendered: RenderedFrame) -> GeneratedFrame: ...


def export_scene(scene, out_dir, *, frames=None, passes=DEFAULT_PASSES, size=None, video=False,
                 generator: FrameGenerator | None = None, renderer=None, body_for=None,
                 progress: bool = True, workers: int = 2, helpers=None,
                 on_frame: Callable[[int], None] | None = None) -> dict:
    """Write the dataset of `scene` into out_dir; returns dataset.json's dict.

    frames: iterable of frame indices (default: the timeline). renderer: an
    object with HeadlessRenderer's `render` (default: a new HeadlessRenderer,
    closed at the end). body_for: pose_people's body lookup (default: the
    registry). helpers: an export.helpers.ExportHelpers that renders chunks
    of frames in other processes (only without a generator, for more than
    one chunk, and with a body_for that pickles). Re-running the same call
    resumes (see export.writer).
    """
    from tqdm import tqdm

    if body_for is None:
        from posebooth.assets.registry import get_body
        body_for = get_body
    scene = with_size(scene, size)
    frames = list(scene.timeline.frames if frames is None else frames)
    bodies = [body_for(p.body) for p in scene.people]
    kinds = tuple(generator.control_kinds) if generator is not None else scene_control_kinds(scene.generation)
    body_models = [{"name": b.name, "version": b.version} for b in bodies]
    writer = DatasetWriter(out_dir, scene, frames, passes, video=video, workers=workers,
                           body_models=body_models, control_kinds=kinds,
                           generator=None if generator is None else generator.settings)
    pending = writer.pending_frames()
    chunks = [pending[i:i + POSE_CHUNK] for i in range(0, len(pending), POSE_CHUNK)]
    own_renderer = renderer is None
    shared = None
    try:
        if own_renderer and pending:
            from posebooth.viewport.headless import HeadlessRenderer
            renderer = HeadlessRenderer()
        bar = tqdm(total=len(writer.frames), initial=len(writer.frames) - len(pending), unit="frame",
                   disable=not progress, desc="render", dynamic_ncols=True)

        def done(frame):
            bar.update(1)
            if on_frame is not None:
                on_frame(frame)

        def helpers_wrote(items):
            for f, rows in items:
                writer.add_written_elsewhere(f, rows)
                done(f)

        with bar:
            if helpers is not None and generator is None:
                shared = helpers.start(scene, writer.out.root, chunks, passes=writer.passes,
                                       control_kinds=writer.control_kinds, body_for=body_for,
                                       body_models=body_models, workers=workers)
            claims = shared.claims if shared is not None else LocalClaims(len(chunks))
            poll = (lambda: helpers_wrote(shared.written())) if shared is not None else None
            export_chunks(scene, chunks, claims, writer, renderer, body_for, generator=generator,
                          on_frame=done, poll=poll)
            if shared is not None:
                shared.wait(helpers_wrote)
        return writer.finish()
    except BaseException:
        if shared is not None:
            shared.cancel()
        writer.abort()
        raise
    finally:
        if own_renderer and renderer is not None:
            renderer.close()


class LocalClaims:
    """Chunk claims when one process renders every chunk (see
    export.helpers.ChunkClaims for the shared kind)."""

    def __init__(self, n_chunks: int):
        self._next = iter(range(n_chunks))

    def claim(self) -> int | None:
        return next(self._next, None)

    def cancelled(self) -> bool:
        return False


def export_chunks(scene, chunks, claims, writer: DatasetWriter, renderer, body_for, *,
                  generator: FrameGenerator | None = None,
                  on_frame: Callable[[int], None] | None = None,
                  poll: Callable[[], None] | None = None) -> None:
    """Pose, render and submit to `writer` every chunk (a list of frames)
    that `claims.claim()` hands this process. `poll` runs after each frame
    (the calling process reads its helpers' progress there)."""
    from posebooth.assets.posing import pose_people_frames
    from posebooth.assets.props import scene_props
    from posebooth.scene.tracks import camera_at

    need = writer.renderer_passes()
    props = scene_props(scene)   # static: placed once for every frame
    with ThreadPoolExecutor(1, thread_name_prefix="posebooth-pose") as pose_pool:
        # Pose the next chunk on its own thread while this one renders and
        # writes: the batched body call is the one long step of the loop.
        def pose_next():
            k = claims.claim()
            return None if k is None else (chunks[k], pose_pool.submit(pose_people_frames, scene, chunks[k],
                                                                       body_for))
        ahead = pose_next()
        while ahead is not None:
            chunk, posing = ahead
            posed = posing.result()
            ahead = pose_next()
            for f, people in zip(chunk, posed):
                if claims.cancelled():
                    return
                rendered = render_frame(renderer, people, camera_at(scene.camera, f), f, passes=need, props=props,
                                        openpose=openpose_parts(scene.generation))
                if generator is None:
                    writer.submit(rendered)
                else:
                    res = generator(rendered)
                    writer.submit(rendered, rgb=res.rgb, controls=res.controls, seed=res.seed)
                if on_frame is not None:
                    on_frame(f)
                if poll is not None:
                    poll()
