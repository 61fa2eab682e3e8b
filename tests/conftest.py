"""Shared fixtures: repository paths and a runner for the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests read the shared vectors and schemas from it")
    return SHARED


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
