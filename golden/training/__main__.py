"""CLI: python -m golden.training --bench {digits,mnist1d} --recipe NAME|all [--json] ..."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
