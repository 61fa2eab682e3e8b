"""Helpers the tests import by name: repository paths and a CLI runner.

They live here, not in ``conftest.py``: a test module's ``from conftest import``
picks whichever ``conftest`` was imported first, and ``tests/unit/audit`` has
its own (running that folder with ``tests/e2e`` in one call failed to collect).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def run_cli(
    args: Sequence[str], cwd: Path, *, module: str | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess (`pipeline ...` or `python -m MODULE ...`)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.pop("OPENLINEAGE_URL", None)
    if module is None:
        cmd = [sys.executable, "-c", "from pipeline.cli import main; main()", *args]
    else:
        cmd = [sys.executable, "-m", module, *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=check)
