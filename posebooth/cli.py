"""Headless commands: `posebooth scene|render|models|info|gui`.

Every command that reads a scene goes through `_read_scene`, so a bad file is
rejected the same way everywhere: one clear message on stderr, exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A user-facing failure: printed without a traceback."""


def _read_scene(path: str):
    from posebooth.scene.io import SceneError, load_scene
    try:
        return load_scene(path)
    except SceneError as e:
        raise CliError(str(e)) from None


def _cmd_scene_new(args) -> int:
    from posebooth.scene.io import save_scene
    from posebooth.scene.starter import starter_scene
    try:
        scene = starter_scene(people=args.people, preset=args.preset, frames=args.frames)
    except (ValueError, KeyError) as e:
        raise CliError(str(e).strip("'\"")) from None
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"{out.parent}: no such folder")
    save_scene(scene, out)
    print(f"wrote {out} ({len(scene.people)} people, {len(scene.timeline.frames)} frames)")
    return 0


def _cmd_scene_check(args) -> int:
    scene = _read_scene(args.scene)
    keys = sum(len(p.keys) for p in scene.people)
    print(f"{args.scene}: valid scene v{scene.version}: {len(scene.people)} people, {keys} pose keys, "
          f"frames {scene.timeline.start}..{scene.timeline.end} at {scene.timeline.fps:g} fps")
    return 0


def _cmd_scene_schema(args) -> int:
    from posebooth.scene.io import scene_schema
    print(json.dumps(scene_schema(), indent=1))
    return 0


def _cmd_scene_import_motion(args) -> int:
    from posebooth.assets.motion import MotionError, import_motion
    from posebooth.scene.io import save_scene
    scene = _read_scene(args.scene)
    try:
        scene = import_motion(scene, args.motion, person_index=args.person - 1,
                              start_frame=args.start, max_frames=args.max_frames)
    except MotionError as e:
        raise CliError(str(e)) from None
    out = args.out or args.scene
    save_scene(scene, out)
    p = scene.people[args.person - 1]
    print(f"imported {len(p.keys)} frames into {p.name!r}; wrote {out}")
    return 0


def _cmd_info(args) -> int:
    from posebooth.info import collect_info
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        for section, values in info.items():
            print(f"{section}:")
            if isinstance(values, dict):
                for k, v in values.items():
                    print(f"  {k}: {v}")
            elif isinstance(values, list):
                for v in values:
                    print(f"  - {v}")
            else:
                print(f"  {values}")
    return 0


def _cmd_gui(args) -> int:
    from posebooth.ui.app import run_app
    return run_app(args.scene)


def _add_render(sub) -> None:
    try:
        from posebooth.export.render_command import add_render_arguments, run_render
    except ImportError:
        return
    p = sub.add_parser("render", help="render a scene to a dataset folder (no display needed)")
    add_render_arguments(p)
    p.set_defaults(func=run_render)


def _add_models(sub) -> None:
    try:
        from posebooth.pipeline.models_command import add_models_arguments
    except ImportError:
        return
    add_models_arguments(sub)


def build_parser() -> argparse.ArgumentParser:
    from posebooth import __version__
    parser = argparse.ArgumentParser(prog="posebooth", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"posebooth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    scene = sub.add_parser("scene", help="create, check and edit scene files")
    ssub = scene.add_subparsers(dest="scene_command", required=True)
    p = ssub.add_parser("new", help="write a valid starter scene")
    p.add_argument("out", metavar="OUT.json")
    p.add_argument("--people", type=int, default=1)
    p.add_argument("--preset", default=None, help="pose preset name (see `posebooth scene presets`)")
    p.add_argument("--frames", type=int, default=1)
    p.set_defaults(func=_cmd_scene_new)
    p = ssub.add_parser("check", help="validate a scene file (exit 0 when valid)")
    p.add_argument("scene")
    p.set_defaults(func=_cmd_scene_check)
    p = ssub.add_parser("schema", help="print the scene JSON schema")
    p.set_defaults(func=_cmd_scene_schema)
    p = ssub.add_parser("presets", help="list the pose presets")
    p.set_defaults(func=lambda a: print("\n".join(__import__("posebooth.assets.presets",
                                                            fromlist=["x"]).list_presets())) or 0)
    p = ssub.add_parser("import-motion", help="import an AMASS-style .npz into a person's keys")
    p.add_argument("scene")
    p.add_argument("motion")
    p.add_argument("--person", type=int, default=1, help="1-based person index")
    p.add_argument("--start", type=int, default=None, help="first frame (default: timeline start)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--out", default=None, help="write here instead of overwriting SCENE")
    p.set_defaults(func=_cmd_scene_import_motion)

    _add_render(sub)
    _add_models(sub)

    p = sub.add_parser("info", help="GL renderer, torch device, body models, caches")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("scene", nargs="?", default=None)
    p.set_defaults(func=_cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as e:
        print(f"posebooth: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("posebooth: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
