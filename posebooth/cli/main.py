"""Headless commands: `posebooth scene|render|dataset|models|score|info|gui`.

Each subcommand lives in its own module of this package and reports bad
input by raising cli.errors.CliError: one line on stderr, exit status 2.
Subcommand modules are imported eagerly but import nothing heavy (torch,
Qt) until they run, so a broken module is a loud ImportError, never a
silently missing subcommand.
"""
from __future__ import annotations

import argparse
import json
import sys

from posebooth.cli.dataset_commands import add_dataset_arguments
from posebooth.cli.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, CliError
from posebooth.cli.models import add_models_arguments
from posebooth.cli.render import add_render_arguments, run_render
from posebooth.cli.scene_commands import add_scene_arguments
from posebooth.cli.score import add_score_arguments


def _cmd_info(args) -> int:
    from posebooth.cli.info import collect_info
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
    from posebooth.cli.gui import run_gui
    return run_gui(args.scene)


def build_parser() -> argparse.ArgumentParser:
    from posebooth import __version__
    parser = argparse.ArgumentParser(prog="posebooth", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"posebooth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_scene_arguments(sub)
    p = sub.add_parser("render", help="render a scene to a dataset folder (no display needed)")
    add_render_arguments(p)
    p.set_defaults(func=run_render)
    add_models_arguments(sub)
    add_dataset_arguments(sub)
    add_score_arguments(sub)
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
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
