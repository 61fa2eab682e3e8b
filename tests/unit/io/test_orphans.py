"""Temporaries left by a killed run are swept by the next write; live ones are kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.io.atomic import owned_name, stage_file, sweep_orphans


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_orphans_of_dead_processes_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "o.csv"
    mine = owned_name(f".{target.name}.")
    host = mine[len(".o.csv.") :].split(".", 1)[0]
    orphan = tmp_path / f".o.csv.{host}.{_dead_pid()}.abcdef.tmp"
    alive = tmp_path / f".o.csv.{host}.{os.getpid()}.123456.tmp"
    other_host = tmp_path / f".o.csv.otherhost.{_dead_pid()}.999999.tmp"
    for path in (orphan, alive, other_host):
        path.write_text("partial")
    temp = stage_file(target, lambda p: p.write_text("new"))
    assert not orphan.exists()
    assert alive.exists() and other_host.exists()
    assert temp.read_text() == "new"


def test_orphan_spill_folders_are_removed(tmp_path: Path) -> None:
    name = owned_name(".pipeline-spill-")
    host = name[len(".pipeline-spill-") :].split(".", 1)[0]
    orphan = tmp_path / f".pipeline-spill-{host}.{_dead_pid()}.abc"
    orphan.mkdir()
    (orphan / "accepted.parquet").write_text("x")
    sweep_orphans(tmp_path, ".pipeline-spill-")
    assert not orphan.exists()
