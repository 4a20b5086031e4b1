"""The command line's exit codes and its one user-facing error type.

Every subcommand reports bad input by raising `CliError`; `cli.main.main`
prints it as one line, `posebooth: error: ...`, and exits EXIT_BAD_INPUT.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_INCOMPLETE = 1      # render: the export ran but is not complete
EXIT_BAD_INPUT = 2       # a file, option or environment the command cannot use
EXIT_INTERRUPTED = 130   # Ctrl+C


class CliError(Exception):
    """A user-facing failure: printed as one line, without a traceback."""
