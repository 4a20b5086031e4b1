"""Thin launcher: `python main.py` opens the PoseBooth window."""
import sys

from posebooth.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["gui", *sys.argv[1:]]))
