import sys

from posebooth.cli.main import main

if __name__ == "__main__":   # not when a helper process imports it
    sys.exit(main())
