"""`posebooth render SCENE --out DIR`: a dataset folder (docs/FORMAT.md)
with no display (EGL through HeadlessRenderer) and a progress bar.

Bad input (scene file, --frames, --size, --passes, an output folder that
cannot be used) is one message on stderr and exit status 2, worded and
numbered as posebooth.cli does (this module does not import cli: cli reaches
the Qt GUI, and export stays Qt-free).

Generation seam: `_make_generator(args, scene)` returns None today (no
model runs). The generation engineer adds `--model PRESET_OR_PATH --steps
--guidance --seed --clip-strategy` in `add_generation_arguments` and builds
an export.driver.FrameGenerator there; nothing else changes.
"""
from __future__ import annotations

import re
import sys

from posebooth.export.driver import DEFAULT_PASSES
from posebooth.export.writer import PASSES

SIZE_LIMITS = (8, 8192)  # CameraSpec's width / height bounds
EXIT_BAD_INPUT = 2       # posebooth.cli.EXIT_BAD_INPUT


class BadInput(Exception):
    """Reported as `posebooth: error: ...`, exit status 2 (like cli.CliError)."""


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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_generation_arguments(parser)


def add_generation_arguments(parser) -> None:
    """Seam for --model/--steps/--guidance/--seed/--clip-strategy."""


def _make_generator(args, scene):
    """The FrameGenerator for these arguments, or None when no model runs."""
    return None


def parse_frames(text: str | None, timeline) -> list[int]:
    start, end = timeline.start, timeline.end
    if text is None:
        return list(range(start, end + 1))
    m = re.fullmatch(r"\s*(\d*)\s*(:?)\s*(\d*)\s*", text)
    if not m or (not m.group(2) and not m.group(1)):
        raise BadInput(f"--frames {text!r}: expected A:B, A:, :B or N (frame numbers, B inclusive)")
    a = int(m.group(1)) if m.group(1) else start
    b = (int(m.group(3)) if m.group(3) else end) if m.group(2) else a
    if b < a:
        raise BadInput(f"--frames {text}: the last frame {b} is before the first {a}")
    if a < start or b > end:
        raise BadInput(f"--frames {text}: the scene's timeline has frames {start}..{end}")
    return list(range(a, b + 1))


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise BadInput(f"--size {text!r}: expected WxH, e.g. 512x512")
    w, h = int(m.group(1)), int(m.group(2))
    lo, hi = SIZE_LIMITS
    if not (lo <= w <= hi and lo <= h <= hi):
        raise BadInput(f"--size {text}: width and height must be between {lo} and {hi} pixels")
    return w, h


def parse_passes(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise BadInput("--passes is empty; choose from " + ",".join(PASSES))
    unknown = [p for p in names if p not in PASSES]
    if unknown:
        raise BadInput(f"--passes: unknown pass(es) {', '.join(unknown)}; choose from {','.join(PASSES)}")
    return names


def run_render(args) -> int:
    try:
        return _run(args)
    except BadInput as e:
        print(f"posebooth: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args) -> int:
    from posebooth.export.driver import export_scene
    from posebooth.export.files import ExportError
    from posebooth.scene.io import SceneError, load_scene

    try:
        scene = load_scene(args.scene)
    except SceneError as e:
        raise BadInput(str(e)) from None
    frames = parse_frames(args.frames, scene.timeline)
    size = parse_size(args.size)
    passes = parse_passes(args.passes)
    if args.workers < 1:
        raise BadInput("--workers must be at least 1")
    generator = _make_generator(args, scene)
    errors = [ExportError, ValueError]
    try:
        from posebooth.viewport.renderer import RenderError
        errors.append(RenderError)
    except ImportError:
        pass
    try:
        from posebooth.assets.body import BodyModelError
        errors.append(BodyModelError)
    except ImportError:
        pass
    try:
        manifest = export_scene(scene, args.out, frames=frames, passes=passes, size=size,
                                video=args.video, generator=generator, progress=not args.quiet,
                                workers=args.workers)
    except tuple(errors) as e:
        raise BadInput(str(e)) from None
    state = "complete" if manifest["complete"] else "INCOMPLETE"
    print(f"wrote {len(manifest['frames'])} frame(s) of {manifest['image_size'][0]}x"
          f"{manifest['image_size'][1]} to {args.out} ({state})")
    return 0 if manifest["complete"] else 1
