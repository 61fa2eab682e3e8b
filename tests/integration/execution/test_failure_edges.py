"""Failures at the edges of a run, found by review: each must fail before anything is
published, or say what it is, in the library's words (no internal error)."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
from pathlib import Path

import pytest

import pipeline.lineage.store as store_module
from pipeline import PipelineConfig, run_pipeline
from pipeline.audit.log import AuditLogger
from pipeline.audit.storage import AppendFile
from pipeline.errors import AuditError
from pipeline.io.atomic import owned_name
from pipeline.lineage.store import LineageStore

ROWS = "id,name\n1,a\n2,b\n"


def _dead_pid() -> int:
    pid = 2**22 - 1
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


@pytest.fixture
def job(tmp_path: Path) -> PipelineConfig:
    (tmp_path / "in.csv").write_text(ROWS)
    out = tmp_path / "out" / "o.csv"
    out.parent.mkdir()
    out.write_text("previous\n")
    return PipelineConfig(
        input_path=tmp_path / "in.csv",
        output_path=out,
        audit_path=tmp_path / "audit.jsonl",
        lineage_store=tmp_path / "lineage.db",
    )


def test_a_locked_lineage_store_fails_the_run_before_it_publishes(
    job: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output was replaced, then the run failed on the store 30 s later."""
    LineageStore(job.lineage_store).close()
    monkeypatch.setattr(store_module, "_BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(str(job.lineage_store), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = run_pipeline(job)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not result.success
    assert result.errors[0]["code"] == "LineageError"
    assert "another process holds the store's write lock" in result.errors[0]["hint"]
    assert result.output_written is False
    assert job.output_path.read_text() == "previous\n"


def test_a_lineage_write_error_is_not_hidden_behind_the_rollback(tmp_path: Path) -> None:
    """SQLite had rolled back already: "cannot rollback - no transaction is active"
    replaced the real error."""
    store = LineageStore(tmp_path / "l.db")
    with pytest.raises(sqlite3.Error) as raised, store.transaction() as conn:
        conn.execute("ROLLBACK")  # as SQLite does itself on a full disk
        conn.execute("INSERT INTO no_such_table VALUES (1)")
    assert "no_such_table" in str(raised.value)
    store.close()


def test_a_full_disk_while_setting_a_torn_line_aside_is_an_audit_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A traceback before, and an empty sidecar file left per attempt."""
    log = tmp_path / "audit.jsonl"
    AuditLogger(log).log_start("p", "read", "read_csv")
    with log.open("ab") as handle:
        handle.write(b'{"torn": ')
    before = log.read_bytes()

    def full(_self: AppendFile, _fd: int, _data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(AppendFile, "_write_all", full)
    with pytest.raises(AuditError, match="cannot set aside the torn last line"):
        AuditLogger(log).log_start("p", "read", "read_csv")
    assert log.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["audit.jsonl"]


def test_a_batch_run_sweeps_a_killed_streaming_runs_spill(job: PipelineConfig) -> None:
    """Only a later streaming run removed them, and they are the size of the input."""
    name = owned_name(".pipeline-spill-")
    host = name[len(".pipeline-spill-") :].split(".", 1)[0]
    orphan = job.output_path.parent / f".pipeline-spill-{host}.{_dead_pid()}.abc"
    orphan.mkdir()
    (orphan / "accepted.parquet").write_text("x")
    assert run_pipeline(job.model_copy(update={"mode": "batch"})).success
    assert not orphan.exists()


def test_a_spill_folder_that_cannot_be_made_is_an_output_error(
    job: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was "unexpected PermissionError in the pipeline stage ... report it"."""
    import pipeline.execution.streaming as streaming

    taken = ".pipeline-spill-taken"
    (job.output_path.parent / taken).write_text("a file where the folder goes")
    monkeypatch.setattr(streaming, "owned_name", lambda _prefix: taken)
    (job.input_path.parent / "rowmodel.py").write_text(
        "from pydantic import BaseModel\nclass Row(BaseModel):\n    id: int\n    name: str\n"
    )
    monkeypatch.syspath_prepend(str(job.input_path.parent))
    result = run_pipeline(
        job.model_copy(update={"mode": "streaming", "schema_ref": "rowmodel:Row"})
    )
    assert result.errors[0]["code"] == "OutputError"
    assert "cannot write the file" in result.errors[0]["message"]
    assert job.output_path.read_text() == "previous\n"


def test_a_failed_run_whose_checkpoint_cannot_be_signed_returns_its_failure(
    job: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: signing after the failed entry raised the signing error, and the
    run's own failure never reached the caller."""

    def unsigned(_self: AuditLogger) -> None:
        raise AuditError("cannot open audit file x.checkpoints: Permission denied")

    monkeypatch.setattr(AuditLogger, "checkpoint", unsigned)
    result = run_pipeline(
        job.model_copy(update={"input_path": job.input_path.with_name("missing.csv")})
    )
    assert not result.success
    assert result.errors[0]["code"] == "InputError"
    assert result.checkpoint is None


def test_a_stop_during_a_library_runs_commit_reaches_the_callers_handler_after_it(
    job: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: the hold dropped the stop, so a service's SIGTERM handler never
    ran (and a Ctrl-C during a commit was lost)."""
    import pipeline.runner as runner

    received: list[int] = []
    publish = runner._Run._publish

    def stopped_while_publishing(self: runner._Run, staged: object, field: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # lands inside the commit's hold
        publish(self, staged, field)  # type: ignore[arg-type]

    monkeypatch.setattr(runner._Run, "_publish", stopped_while_publishing)
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: received.append(signum))
    try:
        result = run_pipeline(job)
        held = list(received)  # before the caller's next line: the run was not cut short
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.success
    assert held == [signal.SIGTERM]
    assert job.output_path.read_text() != "previous\n"
