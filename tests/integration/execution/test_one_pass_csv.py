"""Streaming a CSV without a schema: one pass when the first rows predict the types.

The type proof runs beside the sink over one parse of the file, the output
typed as the first rows predict; a later row that refutes the prediction sends
the run to a second pass with the proven types. Either way the bytes and the
evidence are batch mode's. Columns the run neither reads nor writes are not
typed (they are recorded as String) in both modes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import pipeline.execution.streaming as streaming
import pipeline.runner as runner
from pipeline import PipelineResult, run_pipeline
from pipeline.spec import PipelineSpec

HEADER = "id,code,npi,day,status\n"


def _row(i: int, code: str | None = None) -> str:
    day = f"2024-01-{i % 28 + 1:02d}"
    return f"{i},{code if code is not None else i % 50},{9_000_000 + i},{day},S{i % 3}\n"


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


STEPS: list[dict[str, Any]] = [
    {"kind": "filter", "filter": "status != 'S0'"},
    {"kind": "dedupe", "dedupe": {"keys": ["code"], "keep": "last"}},
    {"kind": "derive", "derive": {"next": "code + 1"}},
    {"kind": "select", "select": ["id", "code", "next", "day"]},
]


def _run(
    tmp: Path, data: Path, mode: str, fmt: str = "csv", steps: list[dict[str, Any]] | None = None
) -> tuple[PipelineResult, Path]:
    out = tmp / mode / f"out.{fmt}"
    spec = PipelineSpec.model_validate(
        {
            "version": 1,
            "name": "one-pass",
            "mode": mode,
            "source": {"uri": str(data)},
            "steps": STEPS if steps is None else steps,
            "sink": {"uri": str(out)},
            "audit": {"path": str(tmp / "audit.jsonl")},
        }
    )
    result = run_pipeline(spec.to_config(as_of="2024-01-01T00:00:00+00:00"))
    assert result.success, result.errors
    assert result.conserved
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.output_hash
    return result, out


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per output plan a streaming run staged (True: beside its proof)."""
    seen: list[bool] = []
    original = streaming._transform_and_stage

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("proof") is not None)
        return original(*args, **kwargs)

    monkeypatch.setattr(streaming, "_transform_and_stage", spy)
    monkeypatch.setattr(streaming, "HEAD_ROWS", 100)
    return seen


@pytest.fixture
def evidence(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, dict[str, str]]]:
    """The input and output fields each run puts into its lineage record."""
    found: list[dict[str, dict[str, str]]] = []
    original = runner._Run._run_lineage

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        record = original(self, *args, **kwargs)
        if kwargs.get("status", args[0] if args else None) == "completed":
            found.append(
                {
                    "input": dict(record.inputs[0].fields),
                    "output": dict(record.outputs[0].fields),
                }
            )
        return record

    monkeypatch.setattr(runner._Run, "_run_lineage", spy)
    return found


def test_a_predicted_file_is_streamed_in_one_pass_as_batch_writes_it(
    tmp_path: Path, passes: list[bool], evidence: list[dict[str, dict[str, str]]]
) -> None:
    data = _csv(tmp_path / "in.csv", [_row(i) for i in range(1, 600)])
    batch, batch_out = _run(tmp_path, data, "batch")
    stream, stream_out = _run(tmp_path, data, "streaming")
    assert passes == [True]  # one output plan, with the proof beside it
    assert stream_out.read_bytes() == batch_out.read_bytes()
    # Both counted in the one pass: the filter's beside the sink, the dedupe's by the sink.
    assert stream.filtered_records == batch.filtered_records == {"filter_1": 199, "dedupe_2": 350}
    assert evidence[0] == evidence[1]
    # npi is neither read nor written: read as text, not typed, in both modes.
    assert evidence[1]["input"] == {
        "id": "Int64",
        "code": "Int64",
        "npi": "String",
        "day": "Date",
        "status": "String",
    }
    # day passes through to CSV as its text; its proven type is what the evidence says.
    assert evidence[1]["output"] == {"id": "Int64", "code": "Int64", "next": "Int64", "day": "Date"}


@pytest.mark.parametrize(
    ("late", "code_type"),
    [
        ("007", "String"),  # not an integer as written: the column stays text
        ("2.5", "String"),  # integers print back without ".0": no float fits them all
        ("-3", "Int64"),  # one more integer: the prediction holds
        ("", "Int64"),  # a blank: the prediction holds (nulls fit any type)
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_late_row_that_refutes_the_prediction_gets_the_proven_types(
    tmp_path: Path,
    passes: list[bool],
    evidence: list[dict[str, dict[str, str]]],
    late: str,
    code_type: str,
    fmt: str,
) -> None:
    rows = [_row(i) for i in range(1, 600)]
    rows[450] = _row(451, late)
    data = _csv(tmp_path / "in.csv", rows)
    steps = [STEPS[0], {"kind": "select", "select": ["id", "code", "day"]}]
    _, batch_out = _run(tmp_path, data, "batch", fmt, steps)
    _, stream_out = _run(tmp_path, data, "streaming", fmt, steps)
    assert stream_out.read_bytes() == batch_out.read_bytes()
    assert passes == ([True] if code_type == "Int64" else [True, False])
    assert evidence[0] == evidence[1]
    assert evidence[1]["input"]["code"] == code_type
    if fmt == "parquet":
        assert str(pl.read_parquet(stream_out).schema["code"]) == code_type


def test_a_column_blank_in_the_first_rows_is_typed_from_the_rest(
    tmp_path: Path, passes: list[bool], evidence: list[dict[str, dict[str, str]]]
) -> None:
    rows = [_row(i, "" if i <= 300 else None) for i in range(1, 600)]
    data = _csv(tmp_path / "in.csv", rows)
    steps = [{"kind": "select", "select": ["id", "code"]}]
    _, batch_out = _run(tmp_path, data, "batch", "parquet", steps)
    _, stream_out = _run(tmp_path, data, "streaming", "parquet", steps)
    assert stream_out.read_bytes() == batch_out.read_bytes()
    assert passes == [True, False]  # predicted text (all blank), proven Int64
    assert evidence[1]["output"]["code"] == "Int64" == evidence[0]["output"]["code"]


def test_a_quote_after_the_first_rows_is_read_as_batch_reads_it(
    tmp_path: Path, passes: list[bool]
) -> None:
    # Past the first 64 KiB, which are looked at for quotes before planning one pass.
    rows = [_row(i) for i in range(1, 3000)]
    rows[2900] = '2901,"",9002901,2024-01-02,"S,1"\n'  # a quoted blank is null; a quoted separator
    data = _csv(tmp_path / "in.csv", rows)
    assert data.read_bytes().index(b'"') > 1 << 16
    steps = [{"kind": "select", "select": ["id", "code", "status"]}]
    batch, batch_out = _run(tmp_path, data, "batch", "csv", steps)
    stream, stream_out = _run(tmp_path, data, "streaming", "csv", steps)
    assert stream_out.read_bytes() == batch_out.read_bytes()
    assert b'2901,,"S,1"\n' in stream_out.read_bytes()
    assert passes == [True, False]
    assert stream.output_records == batch.output_records == 2999
