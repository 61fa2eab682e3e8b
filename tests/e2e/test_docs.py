"""Every Python code block and the shell quickstart of README.md run as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.DOTALL)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
SHELL = [code for lang, code in BLOCKS if lang == "bash"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "data", tmp_path / "data")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    # The seed's API example reads data/input.csv.
    shutil.copy(REPO / "data" / "sample_input.csv", tmp_path / "data" / "input.csv")
    return tmp_path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO / "src"), env.get("PYTHONPATH", "")])
    )
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def test_readme_has_the_seed_sections() -> None:
    for heading in ("### Python API", "### Audit Logging", "### Lineage Tracking", "## Quickstart"):
        assert heading in README
    assert len(PYTHON) >= 3


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_blocks_run(workdir: Path, code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=workdir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def _commands(block: str) -> list[str]:
    joined = block.replace("\\\n", " ")
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip().startswith(("python -m pipeline", "pipeline "))
    ]


RUNNABLE = [(i, _commands(block)) for i, block in enumerate(SHELL) if _commands(block)]


@pytest.mark.parametrize(("index", "commands"), RUNNABLE, ids=[f"bash-{i}" for i, _ in RUNNABLE])
def test_shell_blocks_run_in_order(workdir: Path, index: int, commands: list[str]) -> None:
    """Each shell block's commands run in order in one folder, as a reader would type them."""
    for command in commands:
        argv = shlex.split(command)
        if argv[0] == "python":
            argv[0] = sys.executable
        else:
            argv = [sys.executable, "-c", "from pipeline.cli import main; main()", *argv[1:]]
        done = subprocess.run(
            argv, cwd=workdir, env=_env(), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"block {index}: {command}\n{done.stderr}"


def test_every_cli_command_is_documented() -> None:
    """Each subcommand of `pipeline` appears in the README (sqlite-utils' habit)."""
    import typer.main

    from pipeline.cli import app

    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        names = [f"pipeline {name} {sub}" for sub in subs] if subs else [f"pipeline {name}"]
        missing += [n for n in names if n not in README]
    assert missing == []
