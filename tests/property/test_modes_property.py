"""Random specs over random data: batch and streaming write the same bytes,
records are conserved, and a second run writes the same bytes again."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.execution.streaming as streaming
import pipeline.runner as runner
from pipeline import PipelineConfig, run_pipeline
from pipeline.spec import PipelineSpec

COLUMNS = ["id", "grp", "amount", "note"]


@st.composite
def datasets(draw: st.DrawFn) -> str:
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(-50, 50),
                st.sampled_from(["a", "b", "c", ""]),
                st.one_of(st.just(""), st.decimals(-1000, 1000, places=2).map(str)),
                st.text(alphabet='xyz ,"é', max_size=5),
            ),
            min_size=1,
            max_size=40,
        )
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


@st.composite
def step_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    columns = list(COLUMNS)
    steps: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(
            st.sampled_from(["filter", "derive", "rename", "select", "dedupe", "sort", "fill_null"])
        )
        if kind == "filter" and "id" in columns:
            steps.append({"filter": f"id > {draw(st.integers(-40, 40))}"})
        elif kind == "derive" and "id" in columns:
            name = f"d{len(steps)}"
            steps.append({"derive": {name: f"id * {draw(st.integers(1, 5))} + 1"}})
            columns.append(name)
        elif kind == "rename" and "note" in columns:
            steps.append({"rename": {"note": "remark"}})
            columns[columns.index("note")] = "remark"
        elif kind == "select" and len(columns) > 1:
            keep = draw(st.lists(st.sampled_from(columns), min_size=1, unique=True))
            steps.append({"select": list(keep)})
            columns = list(keep)  # a copy: later derives must not edit the step's list
        elif kind == "dedupe":
            keys = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=2, unique=True))
            steps.append(
                {"dedupe": {"keys": keys, "keep": draw(st.sampled_from(["first", "last"]))}}
            )
        elif kind == "sort":
            by = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=2, unique=True))
            steps.append({"sort": {"by": by, "descending": draw(st.booleans())}})
        elif kind == "fill_null" and "grp" in columns:
            steps.append({"fill_null": {"grp": "none"}})
    return steps


def _config(
    tmp: Path,
    data: Path,
    steps: list[dict[str, Any]],
    fmt: str,
    mode: str,
    tag: str,
    quality: dict[str, Any] | None = None,
) -> PipelineConfig:
    spec = PipelineSpec.model_validate(
        {
            "version": 1,
            "name": "prop",
            "mode": mode,
            "source": {"uri": str(data)},
            "steps": [dict(s, kind=next(iter(s))) for s in steps],
            "sink": {"uri": str(tmp / tag / f"out.{fmt}")},
            "audit": {"path": str(tmp / "audit.jsonl")},
            **({"quality": quality} if quality is not None else {}),
        }
    )
    return spec.to_config(as_of="2024-01-01T00:00:00+00:00")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=datasets(),
    steps=step_lists(),
    fmt=st.sampled_from(["csv", "parquet", "jsonl"]),
    chunk=st.integers(1, 9),
    # Few rows predict the types a streaming CSV run types its one pass with: a later
    # row that refutes them (a blank, a decimal, a quote) sends it to a second pass.
    head=st.integers(1, 9),
    # A short or long record: the fast readers hand the file to the exact one, in
    # each mode, and the streaming quarantine's second pass must do the same.
    ragged=st.one_of(
        st.none(), st.tuples(st.sampled_from(["7", "7,a,1.00,x,extra"]), st.integers(1, 40))
    ),
    quality=st.one_of(
        st.none(),
        # Rows quarantined before the steps: streaming infers the rows entering them.
        st.builds(
            lambda floor: {
                "stage": "input",
                "rules": [
                    {"id": "low", "rule": "range", "column": "id", "min": floor, "quarantine": True}
                ],
            },
            st.integers(-50, 50),
        ),
    ),
)
def test_batch_and_streaming_agree(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    steps: list[dict[str, Any]],
    fmt: str,
    chunk: int,
    head: int,
    ragged: tuple[str, int] | None,
    quality: dict[str, Any] | None,
) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", chunk)
    monkeypatch.setattr(streaming, "HEAD_ROWS", head)
    # Each completed run's lineage fields (a run builds its record more than once).
    fields: dict[object, tuple[object, object]] = {}  # keys keep each run alive
    record_of = runner._Run._run_lineage

    def spy(self: Any, status: str, *args: Any, **kwargs: Any) -> Any:
        record = record_of(self, status, *args, **kwargs)
        if status == "completed":
            fields[self] = (record.inputs[0].fields, record.outputs[0].fields)
        return record

    monkeypatch.setattr(runner._Run, "_run_lineage", spy)
    tmp = tmp_path_factory.mktemp("modes")
    data = tmp / "in.csv"
    if ragged is not None:
        lines = text.split("\n")  # no value holds a line break: a line is a record
        record, at = ragged
        lines.insert(min(at, len(lines) - 1), record)
        text = "\n".join(lines)
    data.write_text(text, encoding="utf-8")
    results = {}
    for tag, mode in (("batch", "batch"), ("stream", "streaming"), ("again", "batch")):
        result = run_pipeline(_config(tmp, data, steps, fmt, mode, tag, quality))
        assert result.success, result.errors
        assert result.conserved
        results[tag] = result
        out = tmp / tag / f"out.{fmt}"
        assert hashlib.sha256(out.read_bytes()).hexdigest() == result.output_hash
    hashes = {tag: r.output_hash for tag, r in results.items()}
    assert len(set(hashes.values())) == 1, hashes
    assert results["batch"].filtered_records == results["stream"].filtered_records
    assert results["batch"].quarantine_hash == results["stream"].quarantine_hash
    # The same types in the evidence: the modes prove the same columns the same way.
    assert len(fields) == 3 and len(set(fields.values())) == 1, fields
