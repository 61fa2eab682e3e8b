"""Streaming a CSV without a schema: one pass when the first rows predict the types.

The type proof runs beside the sink over one parse of the file, the output
typed as the first rows predict; a later row that refutes the prediction sends
the run to a second pass with the proven types. Either way the bytes and the
evidence are batch mode's. Columns the run neither reads nor writes are not
typed (they are recorded as String) in both modes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import pipeline.execution.streaming as streaming
from pipeline import PipelineConfig, PipelineResult, run_pipeline
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


def _config(
    tmp: Path,
    data: Path,
    mode: str,
    fmt: str = "csv",
    steps: list[dict[str, Any]] | None = None,
    **source: Any,
) -> PipelineConfig:
    spec = PipelineSpec.model_validate(
        {
            "version": 1,
            "name": "one-pass",
            "mode": mode,
            "source": {"uri": str(data), **source},
            "steps": STEPS if steps is None else steps,
            "sink": {"uri": str(tmp / mode / f"out.{fmt}")},
            "audit": {"path": str(tmp / "audit.jsonl")},
        }
    )
    return spec.to_config(as_of="2024-01-01T00:00:00+00:00")


def _run(
    tmp: Path, data: Path, mode: str, fmt: str = "csv", steps: list[dict[str, Any]] | None = None
) -> tuple[PipelineResult, Path]:
    out = tmp / mode / f"out.{fmt}"
    result = run_pipeline(_config(tmp, data, mode, fmt, steps))
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


Fields = dict[str, dict[str, str]]
"""What the ``evidence`` fixture (conftest.py) records per run."""


def test_a_predicted_file_is_streamed_in_one_pass_as_batch_writes_it(
    tmp_path: Path, passes: list[bool], evidence: list[Fields]
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
    evidence: list[Fields],
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
    tmp_path: Path, passes: list[bool], evidence: list[Fields]
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


# -- what a review of the one-pass change found ------------------------------------------


def _audit(tmp: Path) -> list[tuple[str, str, str]]:
    entries = [json.loads(line) for line in (tmp / "audit.jsonl").read_text().splitlines()]
    return [(e["stage"], e["action"], e["status"]) for e in entries]


def _each_run(entries: list[tuple[str, str, str]]) -> list[list[tuple[str, str, str]]]:
    runs: list[list[tuple[str, str, str]]] = []
    for entry in entries:
        if entry == ("pipeline", "run_pipeline", "started"):
            runs.append([])
        runs[-1].append(entry)
    return runs


def test_both_modes_log_one_sequence_of_entries(tmp_path: Path, passes: list[bool]) -> None:
    data = _csv(tmp_path / "in.csv", [_row(i) for i in range(1, 600)])
    _run(tmp_path, data, "batch")
    _run(tmp_path, data, "streaming")
    batch, stream = _each_run(_audit(tmp_path))
    assert passes == [True]
    # One pass read, validated and transformed: its entries still say so in that order.
    assert stream == batch
    one_pass = [
        json.loads(line)["details"]
        for line in (tmp_path / "audit.jsonl").read_text().splitlines()
        if '"transform_steps"' in line and '"started"' in line
    ]
    assert [d.get("one_pass", False) for d in one_pass] == [False, True]


def test_a_typed_source_keeps_its_types_in_streaming_evidence(
    tmp_path: Path, evidence: list[Fields]
) -> None:
    data = tmp_path / "in.parquet"
    pl.DataFrame({"id": [1, 2, 3], "amt": [10, 20, 30], "name": ["a", "b", "c"]}).write_parquet(
        data
    )
    steps = [{"kind": "filter", "filter": "id > 1"}]
    _, batch_out = _run(tmp_path, data, "batch", "csv", steps)
    _, stream_out = _run(tmp_path, data, "streaming", "csv", steps)
    assert stream_out.read_bytes() == batch_out.read_bytes()
    assert evidence[0] == evidence[1]
    assert evidence[1]["output"] == {"id": "Int64", "amt": "Int64", "name": "String"}


@pytest.mark.parametrize(
    "step",
    [
        {"kind": "filter", "filter": "_row_number > 2"},
        {"kind": "sort", "sort": {"by": ["_row_number"], "descending": True}},
        {"kind": "derive", "derive": {"line": "_row_number"}},
    ],
)
def test_a_step_may_read_row_numbers_in_every_mode(
    tmp_path: Path, passes: list[bool], step: dict[str, Any]
) -> None:
    data = _csv(tmp_path / "in.csv", [_row(i) for i in range(1, 50)])
    _, batch_out = _run(tmp_path, data, "batch", "csv", [step])
    _, stream_out = _run(tmp_path, data, "streaming", "csv", [step])
    assert stream_out.read_bytes() == batch_out.read_bytes()
    assert passes == [True]


def test_a_step_that_fails_on_the_proven_types_is_named_in_both_modes(
    tmp_path: Path, passes: list[bool], evidence: list[Fields]
) -> None:
    # code looks like integers for the first rows; a later text value makes it text,
    # and "code + 1" cannot run on text. The one pass, typed as predicted, would work.
    rows = [_row(i) for i in range(1, 600)]
    rows[450] = _row(451, "n/a")
    data = _csv(tmp_path / "in.csv", rows)
    steps = [{"kind": "derive", "derive": {"next": "code + 1"}}]
    failures = []
    for mode in ("batch", "streaming"):
        result = run_pipeline(_config(tmp_path, data, mode, "csv", steps))
        assert not result.success
        assert not (tmp_path / mode / "out.csv").exists()
        failures.append({k: result.errors[0].get(k) for k in ("code", "step")})
    assert failures[0] == failures[1] == {"code": "PipelineError", "step": "derive_1"}
    assert passes == [True, False]
    batch, stream = _each_run(_audit(tmp_path))
    assert stream == batch  # the failure is logged in the transform stage, as in batch
    assert not list(tmp_path.rglob("*.tmp*")) and not list(tmp_path.rglob(".pipeline-*"))


def test_python_steps_see_only_proven_types_and_run_once(
    tmp_path: Path, passes: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "typed_steps.py").write_text(
        "import polars as pl\n"
        "CALLS = []\n"
        "def double(lf):\n"
        "    CALLS.append(dict(lf.collect_schema()))\n"
        "    if lf.collect_schema()['code'] != pl.Int64:\n"
        "        raise TypeError('code must be an integer column')\n"
        "    return lf.with_columns((pl.col('code') * 2).alias('twice'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import typed_steps  # type: ignore[import-not-found]

    # Blank in the first rows (predicted text), integers after (proven Int64).
    rows = [_row(i, "" if i <= 150 else None) for i in range(1, 600)]
    data = _csv(tmp_path / "in.csv", rows)
    steps = [{"kind": "python", "python": "typed_steps:double"}]
    _, batch_out = _run(tmp_path, data, "batch", "csv", steps)
    _, stream_out = _run(tmp_path, data, "streaming", "csv", steps)
    assert stream_out.read_bytes() == batch_out.read_bytes()
    assert passes == [False]  # user code is never planned on predicted types
    assert len(typed_steps.CALLS) == 2  # once per run


def test_no_hashing_thread_outlives_a_refused_source(tmp_path: Path) -> None:
    # An unterminated quote: the native read starts its hashing thread, then gives the
    # file up (a multi-byte separator did, before specs refused one).
    data = tmp_path / "in.csv"
    data.write_bytes(b'id,name\n1,"a\n')
    before = threading.active_count()
    config = _config(tmp_path, data, "streaming", "csv", [])
    result = run_pipeline(config)
    assert not result.success
    assert threading.active_count() == before


@pytest.mark.parametrize(
    ("late", "day_type"),
    [
        ("2024-1-05", "String"),  # parses as a date, prints back otherwise: stays text
        ("2024-02-30", "String"),  # no such day
        ("2023-12-31", "Date"),  # a date the first rows never held, that fits
    ],
)
def test_a_late_text_the_first_rows_never_held_is_proven(
    tmp_path: Path,
    passes: list[bool],
    evidence: list[Fields],
    late: str,
    day_type: str,
) -> None:
    # day is proven on its distinct texts: the first rows' are proven by the head, the
    # pass proves only those it has not seen. A refuting one must still be found.
    rows = [_row(i) for i in range(1, 600)]
    rows[520] = f"521,1,9000521,{late},S1\n"
    data = _csv(tmp_path / "in.csv", rows)
    steps = [{"kind": "select", "select": ["id", "day"]}]
    _, batch_out = _run(tmp_path, data, "batch", "parquet", steps)
    _, stream_out = _run(tmp_path, data, "streaming", "parquet", steps)
    assert stream_out.read_bytes() == batch_out.read_bytes()
    assert evidence[0] == evidence[1]
    assert evidence[1]["output"]["day"] == day_type
    assert passes == ([True] if day_type == "Date" else [True, False])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_allowed_empty_delivery_gives_both_modes_one_outcome(tmp_path: Path, fmt: str) -> None:
    # No rows: no column can be proven a number, so "id > 1" compares text with a
    # number. Batch evaluated it (and failed); streaming never evaluates on no rows
    # (and succeeded). Both now resolve the plan's types without evaluating it.
    data = tmp_path / "in.csv"
    data.write_text("id,a\n", encoding="utf-8")
    outcomes = {}
    for steps in (
        [{"kind": "filter", "filter": "id > 1"}, {"kind": "dedupe", "dedupe": {"keys": ["a"]}}],
        [{"kind": "derive", "derive": {"x": "id + 1"}}],  # text + number: cannot type
    ):
        for mode in ("batch", "streaming"):
            config = _config(tmp_path, data, mode, fmt, steps)
            result = run_pipeline(config.model_copy(update={"allow_empty": True}))
            outcomes[mode] = (
                result.success,
                result.output_hash,
                [(e["code"], e.get("step")) for e in result.errors],
            )
        assert outcomes["batch"] == outcomes["streaming"]
        if steps[0]["kind"] == "filter":
            assert outcomes["batch"][0] is True
        else:
            assert outcomes["batch"][2] == [("PipelineError", "derive_1")]


def test_an_input_large_for_memory_never_shares_its_scan_with_the_sink(
    tmp_path: Path, passes: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polars buffers a shared scan without bound for its slowest consumer, so a sink
    slower than the proof or counts beside it could hold the whole parsed input. An
    input too large for memory is proven in a pass of its own, its steps counted as
    they stream past, and the sink runs alone: the same bytes and counts."""
    import pipeline.io.files as files

    data = _csv(tmp_path / "in.csv", [_row(i) for i in range(1, 600)])
    shared, shared_out = _run(tmp_path, data, "streaming")
    assert passes == [True]
    beside: list[int] = []
    original = files.FileSink.stage_lazy

    def spy(self: Any, frame: Any, **kwargs: Any) -> Any:
        beside.append(len(kwargs.get("beside", ())))
        return original(self, frame, **kwargs)

    monkeypatch.setattr(files.FileSink, "stage_lazy", spy)
    monkeypatch.setattr(streaming, "large_for_memory", lambda size: True)
    alone, alone_out = _run(tmp_path / "large", data, "streaming")
    assert passes == [True, False]  # the output plan ran without its proof
    assert beside == [0]  # nor any count beside it
    assert alone_out.read_bytes() == shared_out.read_bytes()
    assert alone.filtered_records == shared.filtered_records == {"filter_1": 199, "dedupe_2": 350}
    assert alone.output_hash == shared.output_hash


def test_the_validation_evidence_is_the_same_in_both_modes(tmp_path: Path) -> None:
    """Found by review: a fused pass's settle replaced the validation details, so a
    streaming result lacked batch's `rejected_by_code`."""
    source = tmp_path / "in.csv"
    source.write_bytes(b"\xef\xbb\xbfid,code\r\n1,a\r\n2,b\r\n")
    validations = []
    for mode in ("batch", "streaming"):
        result = run_pipeline(
            PipelineConfig(
                input_path=source,
                output_path=tmp_path / mode / "out.csv",
                audit_path=tmp_path / mode / "audit.jsonl",
                mode=mode,
            )
        )
        assert result.success, result.errors
        validations.append(result.validation)
    assert validations[0] == validations[1]
    assert validations[0] is not None and "rejected_by_code" in validations[0]
