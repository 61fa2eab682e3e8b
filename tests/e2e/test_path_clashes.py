"""A run's files must be distinct places; how a clash is reported.

Found by review: an output at the OpenLineage spool's path (beside the audit log)
was hashed, then had the run's COMPLETE event appended to it, so its published
hash was wrong; and ``run_pipeline`` raised for an input that was also the
output, with no audit entry, although only a clash with the audit log has
nowhere safe to be recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import PipelineConfig, run_pipeline
from pipeline.errors import ConfigError
from support import run_cli

CSV = "id,value\n1,10\n2,20\n"


def test_input_as_output_is_a_logged_failure(tmp_path: Path) -> None:
    source, audit = tmp_path / "in.csv", tmp_path / "audit.jsonl"
    source.write_text(CSV)
    result = run_pipeline(PipelineConfig(input_path=source, output_path=source, audit_path=audit))
    assert not result.success
    assert "the output and the input are the same file" in result.errors[0]["message"]
    assert source.read_text() == CSV
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(e["action"], e["status"]) for e in entries] == [
        ("run_pipeline", "started"),
        ("run_pipeline", "failed"),
    ]


def test_a_clash_with_the_audit_log_raises(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(CSV)
    with pytest.raises(ConfigError, match="the audit log and the output are the same file"):
        run_pipeline(
            PipelineConfig(
                input_path=source, output_path=tmp_path / "a.jsonl", audit_path=tmp_path / "a.jsonl"
            )
        )


def test_output_at_the_spool_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text(CSV)
    done = run_cli(
        ["--input", "in.csv", "--output", "openlineage.spool.jsonl", "--audit", "audit.jsonl"],
        tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "the lineage spool and the output are the same file" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "openlineage.spool.jsonl").exists()
