"""Entry point of the frozen app: no arguments (or a scene file) opens the
window, like a desktop app; a subcommand or an option runs the command line."""
import sys

from posebooth.cli.main import main


def command_line(args: list[str]) -> list[str]:
    from posebooth.cli.main import build_parser
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    if args and (args[0] in sub.choices or args[0].startswith("-")):
        return args
    return ["gui", *args]


if __name__ == "__main__":
    sys.exit(main(command_line(sys.argv[1:])))
