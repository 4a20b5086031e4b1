"""`posebooth render SCENE --out DIR`: a dataset folder (docs/FORMAT.md)
with no display (EGL through HeadlessRenderer) and a progress bar.

Bad input (scene file, --frames, --size, --passes, an output folder that
cannot be used) raises cli.errors.CliError: one message on stderr, exit
status 2.

Generation: `--model PRESET_OR_PATH [--steps --guidance --seed
--clip-strategy --device --dtype]` (add_generation_arguments) loads the
model first (a missing one is bad input: exit 2, no traceback) and
`_make_generator` returns an export.generator.SceneGenerator; without
--model no model runs and rgb/ is not written.
"""
from __future__ import annotations

import re
import sys

from posebooth.cli.errors import EXIT_INCOMPLETE, EXIT_OK, CliError
from posebooth.export.passes import DEFAULT_PASSES, PASSES, POSE_CHUNK
from posebooth.export.process import prepare_export_process


SIZE_LIMITS = (8, 8192)  # CameraSpec's width / height bounds
MAX_PROCESSES = 64
# Helpers start cold (~4 s to build a body, beside this process's own build):
# below four chunks of frames they would mostly slow the start down.
HELPED_FRAMES = 4 * POSE_CHUNK


def add_render_arguments(parser) -> None:
    parser.add_argument("scene", help="scene file (posebooth scene new ...)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created; resumable)")
    parser.add_argument("--frames", default=None, metavar="A:B",
                        help="frames A to B inclusive (also A:, :B or N); default: the whole timeline")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="image size in pixels (default: the scene camera's)")
    parser.add_argument("--passes", default=",".join(DEFAULT_PASSES),
                        help=f"comma-separated, from {','.join(PASSES)} (render is always written; "
                             f"default: %(default)s)")
    parser.add_argument("--video", action="store_true", help="also write video/*.mp4 (H.264)")
    parser.add_argument("--workers", type=int, default=2, help="threads encoding and writing files")
    parser.add_argument("--processes", type=int, default=None,
                        help="processes rendering frames when no model runs and there are 64 frames "
                             "or more (default: 2 on a machine with 2 or more cores, else 1; 1 = this "
                             "process only)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--openpose", choices=("body", "body+hands", "full"), default=None,
                        help="what the openpose control image shows (default: the scene's setting): "
                             "the body, the body and hands, or full (body, hands and face)")
    add_generation_arguments(parser)
    from posebooth.cli.score import add_render_scoring_arguments

    add_render_scoring_arguments(parser)


SCENE_MODEL = "scene"    # `--model scene`: the model named in the scene file
DTYPES = ("auto", "fp16", "bf16", "fp32")


def add_generation_arguments(parser) -> None:
    """--model and its settings; without --model no model runs (rgb/ is not written).
    Cheap: nothing heavy (torch) is imported until a model is asked for."""
    from typing import get_args

    from posebooth.scene.model import Generation

    strategies = get_args(Generation.model_fields["clip_strategy"].annotation)
    g = parser.add_argument_group("generation", "run a diffusion model on every frame (writes rgb/)")
    g.add_argument("--model", default=None, metavar="PRESET_OR_PATH",
                   help="model preset (`posebooth models list`), Hugging Face id, diffusers folder, "
                        f".safetensors file, or '{SCENE_MODEL}' for the scene's own model")
    g.add_argument("--steps", type=int, default=None, help="denoising steps (default: the scene's)")
    g.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the scene's)")
    g.add_argument("--seed", type=int, default=None, help="seed for every frame (default: the scene's)")
    g.add_argument("--clip-strategy", choices=strategies, default=None,
                   help="how frames stay consistent (default: the scene's)")
    g.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:N]|mps", help="default: CUDA > MPS > CPU")
    g.add_argument("--dtype", choices=DTYPES, default="auto", help="default: fp16 on GPUs, fp32 on CPU")


def _check_generation_args(args) -> None:
    given = [f"--{n.replace('_', '-')}" for n in ("steps", "guidance", "seed", "clip_strategy")
             if getattr(args, n, None) is not None]
    if getattr(args, "model", None) is None:
        if given:
            raise CliError(f"{', '.join(given)} need(s) --model")
        return
    if args.steps is not None and not 1 <= args.steps <= 1000:
        raise CliError("--steps must be between 1 and 1000")
    if args.guidance is not None and not 0.0 <= args.guidance <= 50.0:
        raise CliError("--guidance must be between 0 and 50")
    if args.seed is not None and not 0 <= args.seed < 2 ** 63:
        raise CliError("--seed must be a non-negative 64-bit integer")


def _make_generator(args, scene):
    """The FrameGenerator for these arguments, or None when no model runs.
    Loads the model now, so a missing one is reported before anything is written."""
    _check_generation_args(args)
    if getattr(args, "model", None) is None:
        return None
    w, h = parse_size(args.size) or (scene.camera.width, scene.camera.height)
    if w % 8 or h % 8:
        raise CliError(f"the image size {w}x{h} is not a multiple of 8, which diffusion models need: "
                       f"pass --size (e.g. {max(8, w // 8 * 8)}x{max(8, h // 8 * 8)})")
    source = scene.generation.model if args.model == SCENE_MODEL else args.model
    from posebooth.pipeline.errors import PipelineError
    from posebooth.pipeline.models import ALLOWED

    if not source.strip():   # "" would otherwise be the current folder
        where = (f"{args.scene}: generation.model" if args.model == SCENE_MODEL else "--model")
        raise CliError(f"{where} is empty: {ALLOWED}")
    try:
        from posebooth.pipeline.source_checks import LoadOptions, check_source

        options = LoadOptions(device=args.device, dtype=args.dtype, preview_decoder="none")
        check_source(source, options)   # a broken source answers before torch is imported
        from posebooth.pipeline.loading import load_backend

        if not args.quiet:
            print(f"loading model {source} ...", file=sys.stderr, flush=True)
        backend = load_backend(source, options)
    except PipelineError as e:
        raise CliError(_one_line(str(e))) from None
    except Exception as e:  # a broken folder or file: diffusers' own message
        raise CliError(_one_line(f"cannot load model {source}: {type(e).__name__}: {e}")) from None
    if not args.quiet:
        for warning in backend.warnings:
            print(f"posebooth: warning: {warning}", file=sys.stderr, flush=True)
    from posebooth.export.generator import local_generator

    from posebooth.cli.score import scoring_generator

    return scoring_generator(args, local_generator(backend, scene.generation, source, seed=args.seed,
                                                   steps=args.steps, guidance=args.guidance,
                                                   strategy=args.clip_strategy))


def _one_line(text: str, limit: int = 600) -> str:
    """A library's message as one line of bounded length (diffusers' span several)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def parse_frames(text: str | None, timeline) -> list[int]:
    start, end = timeline.start, timeline.end
    if text is None:
        return list(range(start, end + 1))
    m = re.fullmatch(r"\s*(\d*)\s*(:?)\s*(\d*)\s*", text)
    if not m or (not m.group(2) and not m.group(1)):
        raise CliError(f"--frames {text!r}: expected A:B, A:, :B or N (frame numbers, B inclusive)")
    a = int(m.group(1)) if m.group(1) else start
    b = (int(m.group(3)) if m.group(3) else end) if m.group(2) else a
    if b < a:
        raise CliError(f"--frames {text}: the last frame {b} is before the first {a}")
    if a < start or b > end:
        raise CliError(f"--frames {text}: the scene's timeline has frames {start}..{end}")
    return list(range(a, b + 1))


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise CliError(f"--size {text!r}: expected WxH, e.g. 512x512")
    w, h = int(m.group(1)), int(m.group(2))
    lo, hi = SIZE_LIMITS
    if not (lo <= w <= hi and lo <= h <= hi):
        raise CliError(f"--size {text}: width and height must be between {lo} and {hi} pixels")
    return w, h



def parse_passes(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise CliError("--passes is empty; choose from " + ",".join(PASSES))
    unknown = [p for p in names if p not in PASSES]
    if unknown:
        raise CliError(f"--passes: unknown pass(es) {', '.join(unknown)}; choose from {','.join(PASSES)}")
    return names


def run_render(args) -> int:
    return _run(args)


def _run(args) -> int:
    from posebooth.export.files import ExportError
    from posebooth.scene.io import SceneError, load_scene

    try:
        scene = load_scene(args.scene)
    except SceneError as e:
        raise CliError(str(e)) from None
    from posebooth.assets.props import PropMeshError, scene_props
    try:   # a prop's missing or changed mesh file: said before the slow start
        scene_props(scene)
    except PropMeshError as e:
        raise CliError(f"{args.scene}: {e}") from None
    if getattr(args, "openpose", None) is not None:
        for control in scene.generation.controls:
            if control.kind == "openpose":
                control.openpose = args.openpose
    frames = parse_frames(args.frames, scene.timeline)
    size = parse_size(args.size)
    passes = parse_passes(args.passes)
    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    processes = _processes(args)
    try:   # before the slow start (helpers, bodies): an unusable --out is told at once
        from posebooth.export.bookkeeping import check_output_folder
        from posebooth.export.writer import OUTPUT_FOLDERS

        check_output_folder(args.out, OUTPUT_FOLDERS)
    except ExportError as e:
        raise CliError(str(e)) from None
    helpers = None
    if processes > 1 and getattr(args, "model", None) is None and len(frames) >= HELPED_FRAMES:
        # Started first, so the helpers build their bodies while this process
        # builds its own (export.helpers).
        from posebooth.frame.sizes import with_size
        from posebooth.export.helpers import ExportHelpers

        helpers = ExportHelpers(processes - 1)
        helpers.warm(with_size(scene, size))
    try:
        return _export(args, scene, frames, size, passes, helpers)
    finally:
        if helpers is not None:
            helpers.close()


def default_processes() -> int:
    """Export processes when --processes is not given: a helper beside this
    process wherever there is a second core (export.helpers says why)."""
    import os

    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _processes(args) -> int:
    n = getattr(args, "processes", None)
    if n is None:
        return default_processes()
    if not 1 <= n <= MAX_PROCESSES:
        raise CliError(f"--processes must be between 1 and {MAX_PROCESSES}")
    return n


def _export(args, scene, frames, size, passes, helpers) -> int:
    from posebooth.export.driver import export_scene
    from posebooth.export.files import ExportError
    from posebooth.cli.score import check_render_scoring, finish_scoring

    if hasattr(args, "score"):
        check_render_scoring(args)
    generator = _make_generator(args, scene)
    from posebooth.assets.body import BodyModelError
    from posebooth.viewport.renderer import RenderError

    errors = [ExportError, ValueError, RenderError, BodyModelError]
    if generator is not None:
        from posebooth.pipeline.errors import PipelineError
        errors.append(PipelineError)   # out of memory, a pipeline that cannot take the input
    prepare_export_process(with_model=generator is not None)
    try:
        manifest = export_scene(scene, args.out, frames=frames, passes=passes, size=size,
                                video=args.video, generator=generator, progress=not args.quiet,
                                workers=args.workers, helpers=helpers)
        if hasattr(args, "score"):
            finish_scoring(args, generator)
    except tuple(errors) as e:
        raise CliError(str(e)) from None
    finally:
        if generator is not None:
            generator.close()
    state = "complete" if manifest["complete"] else "INCOMPLETE"
    print(f"wrote {len(manifest['frames'])} frame(s) of {manifest['image_size'][0]}x"
          f"{manifest['image_size'][1]} to {args.out} ({state})")
    return EXIT_OK if manifest["complete"] else EXIT_INCOMPLETE
