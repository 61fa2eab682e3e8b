"""``python -m pipeline.run --input … --output … --audit …`` (the seed quickstart)."""

from __future__ import annotations

import sys

from pipeline.cli import main

if __name__ == "__main__":
    main(["run", *sys.argv[1:]])
