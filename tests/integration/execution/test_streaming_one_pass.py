"""The one-pass streaming path proves its sampled types on every row, or falls back.

Types are taken from the first rows; when a later row breaks them (a value that
does not fit, a value in a column that was empty, a quote, a ragged row) the run
must still write exactly what full inference in batch mode writes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import pipeline.execution.streaming as streaming
from pipeline import run_pipeline
from pipeline.spec import PipelineSpec

STEPS = [
    {"kind": "filter", "filter": "n >= 1"},
    {"kind": "dedupe", "dedupe": {"keys": ["grp"], "keep": "last"}},
]


def _run(tmp: Path, data: Path, mode: str, fmt: str = "parquet"):
    spec = PipelineSpec.model_validate(
        {
            "version": 1,
            "name": "one-pass",
            "mode": mode,
            "source": {"uri": str(data)},
            "steps": STEPS,
            "sink": {"uri": str(tmp / mode / f"out.{fmt}")},
            "audit": {"path": str(tmp / mode / "audit.jsonl")},
        }
    )
    result = run_pipeline(spec.to_config(as_of="2024-01-01T00:00:00+00:00"))
    assert result.success, result.errors
    out = tmp / mode / f"out.{fmt}"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.output_hash
    actions = [
        json.loads(x)["action"] for x in (tmp / mode / "audit.jsonl").read_text().splitlines()
    ]
    return result, actions


ROWS = [f"{i},{i % 7},g{i % 5},{i * 1.5}" for i in range(40)]
CASES = {
    "types_hold": (ROWS, False),
    "late_text_in_int_column": (ROWS[:30] + ["x31,3,g1,1.0"] + ROWS[31:], True),
    "late_value_in_empty_column": (
        [r.rsplit(",", 1)[0] + "," for r in ROWS[:30]] + ROWS[30:],
        True,
    ),
    "late_quote": (ROWS[:35] + ['36,1,"g,1",2.0'] + ROWS[36:], True),
    "late_ragged_row": (ROWS[:35] + ["36,1"] + ROWS[36:], True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_pass_matches_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(streaming, "_PROOF_SAMPLE", 10)
    rows, retried = CASES[name]
    data = tmp_path / "in.csv"
    data.write_text("id,n,grp,amount\n" + "\n".join(rows) + "\n")
    batch, _ = _run(tmp_path, data, "batch")
    stream, actions = _run(tmp_path, data, "streaming")
    assert stream.output_hash == batch.output_hash
    assert stream.quarantine_hash == batch.quarantine_hash
    assert (stream.input_records, stream.rejected_records, stream.filtered_records) == (
        batch.input_records,
        batch.rejected_records,
        batch.filtered_records,
    )
    assert stream.input_hash == batch.input_hash
    assert ("read_retry" in actions) == retried
