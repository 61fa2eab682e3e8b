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
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pipeline.runner as runner
from pipeline import PipelineConfig, run_pipeline
from pipeline.audit.errors import LogTamperError
from pipeline.audit.keys import generate_keypair
from pipeline.audit.log import AuditLogger
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
    assert result.checkpoint is None  # nothing signed once the evidence failed
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


# -- what a review of the fix found ----------------------------------------------------


def test_a_closing_entry_written_before_its_periodic_checkpoint_failed_is_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The 1,000th entry signs a checkpoint as it is logged: when that entry is the run's
    # closing one and the checkpoint fails, the entry is in the log all the same.
    keys = generate_keypair(tmp_path / "keys")
    dry = tmp_path / "dry.jsonl"
    run_pipeline(
        PipelineConfig(
            input_path=DATA, output_path=tmp_path / "dry.csv", audit_path=dry, signing_key=None
        )
    )
    audit = tmp_path / "audit.jsonl"
    filler = AuditLogger(audit)
    with filler.group_commit():  # one fsync, not a thousand
        for _ in range(1000 - len(dry.read_text().splitlines())):
            filler.log("filler", "pipeline", "run_pipeline", "started")
    filler.close()
    _fill_disk_for(monkeypatch, _checkpoints)
    result = run_pipeline(
        PipelineConfig(
            input_path=DATA,
            output_path=tmp_path / "out.csv",
            audit_path=audit,
            signing_key=keys.private_path,
        )
    )
    last = json.loads(audit.read_text().splitlines()[-1])
    assert (last["seq"], last["stage"], last["status"]) == (999, "pipeline", "completed")
    assert "but its signed checkpoint could not be written" in result.errors[0]["message"]


def test_a_tampered_log_at_the_closing_entry_keeps_its_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = tmp_path / "audit.jsonl"
    emit = runner._Run._emit

    def garbage_first(self: runner._Run, event: str, *args: object) -> None:
        if event == "complete":  # another writer appends a line that is no entry
            with audit.open("ab") as handle:
                handle.write(b'{"not": "an entry"}\n')
        emit(self, event, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(runner._Run, "_emit", garbage_first)
    outcome = runner.execute(
        PipelineConfig(input_path=DATA, output_path=tmp_path / "out.csv", audit_path=audit)
    )
    assert not outcome.result.success and outcome.result.output_written
    assert isinstance(outcome.error, LogTamperError) and outcome.error.exit_code == 1
    assert outcome.result.errors[0]["code"] == "LogTamperError"


def test_a_spooled_lineage_entry_that_cannot_be_logged_returns_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The OpenLineage endpoint is down, so the run logs that it spooled the event: that
    # entry, before the closing one, met the full disk outside the fix.
    for key in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))  # no openlineage.yml found
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", "http://127.0.0.1:9")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY", '{"total": 0}')
    written: list[bool] = []

    def after_the_write(_path: Path, data: bytes) -> bool:
        if written:
            return True
        written.append(b'"write_csv"' in data and b'"completed"' in data)
        written[:] = [w for w in written if w]
        return False

    _fill_disk_for(monkeypatch, after_the_write)
    out = tmp_path / "out.csv"
    result = run_pipeline(
        PipelineConfig(input_path=DATA, output_path=out, audit_path=tmp_path / "audit.jsonl")
    )
    assert not result.success and result.output_written
    assert result.output_hash == hashlib.sha256(out.read_bytes()).hexdigest()
    assert "but its closing audit entry could not be written" in result.errors[0]["message"]
