"""A disk that fills at a run's very end: after the output is published, the closing
entry or the signed checkpoint cannot be written.

The run raised the audit error, so a library caller got no result and the CLI
printed the result of a run that never started (no counts, no output hash),
though the output had been replaced. The run now returns its own result, failed,
saying what it published and what evidence is missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import PipelineConfig, run_pipeline
from pipeline.audit.keys import generate_keypair
from pipeline.audit.storage import AppendFile
from pipeline.cli import app
from pipeline.errors import AuditError

DATA = Path(__file__).resolve().parents[3] / "data" / "sample_input.csv"


def _fill_disk_for(monkeypatch: pytest.MonkeyPatch, fails: Callable[[Path, bytes], bool]) -> None:
    """Appends that ``fails`` picks fail as a full disk does (storage's own words)."""
    append = AppendFile.append

    def full(self: AppendFile, data: bytes, *, sync: bool = True) -> None:
        if fails(self.path, data):
            raise AuditError(
                f"cannot append to audit file {self.path}: No space left on device",
                dataset=str(self.path),
            )
        append(self, data, sync=sync)

    monkeypatch.setattr(AppendFile, "append", full)


def _checkpoints(path: Path, _data: bytes) -> bool:
    return path.name.endswith(".checkpoints")


def _closing_entry(_path: Path, data: bytes) -> bool:
    return b'"run_pipeline"' in data and b'"completed"' in data


@pytest.mark.parametrize(
    ("fails", "missing"),
    [(_checkpoints, "its signed checkpoint"), (_closing_entry, "its closing audit entry")],
)
def test_a_run_whose_evidence_cannot_be_finished_returns_what_it_published(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fails: Callable[[Path, bytes], bool],
    missing: str,
) -> None:
    keys = generate_keypair(tmp_path / "keys")
    out, audit = tmp_path / "out.csv", tmp_path / "audit.jsonl"
    _fill_disk_for(monkeypatch, fails)
    result = run_pipeline(
        PipelineConfig(
            input_path=DATA, output_path=out, audit_path=audit, signing_key=keys.private_path
        )
    )
    assert not result.success
    assert result.output_written and result.input_records == 10 == result.output_records
    assert result.output_hash == hashlib.sha256(out.read_bytes()).hexdigest()
    # The log as it stands is still signed when only its closing entry failed.
    assert (result.checkpoint is None) == (fails is _checkpoints)
    [error] = result.errors
    assert error["code"] == "AuditError"
    assert f"the output was published, but {missing} could not be written" in error["message"]
    assert "No space left on device" in error["message"]
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    last = (entries[-1]["stage"], entries[-1]["status"])
    assert last == (("pipeline", "completed") if fails is _checkpoints else ("write", "completed"))


def test_the_cli_prints_that_result_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = generate_keypair(tmp_path / "keys")
    out, audit = tmp_path / "out.csv", tmp_path / "audit.jsonl"
    _fill_disk_for(monkeypatch, _checkpoints)
    done = CliRunner().invoke(
        app,
        [
            "run",
            "--input",
            str(DATA),
            "--output",
            str(out),
            "--audit",
            str(audit),
            "--signing-key",
            str(keys.private_path),
            "--json",
        ],
    )
    assert done.exit_code == 2, done.output
    printed = json.loads(done.stdout)
    assert printed["output_written"] is True and printed["input_records"] == 10
    assert printed["output_hash"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert "signed checkpoint could not be written" in done.stderr
    assert "Traceback" not in done.output
