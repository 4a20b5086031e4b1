import sys

from posebooth.cli import main

sys.exit(main())
