"""Column names a run cannot carry are refused at the source, in every format and mode.

Polars reads ``*`` as every column and ``^…$`` as a regular expression, so such a
name selected other columns (an ``unexpected DuplicateError`` before this check);
``_row_number``, ``_errors`` and ``_raw`` are the quarantine's. Each is an input error
naming the source and the column, with the rename as the hint, and nothing is
written.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest

from pipeline import PipelineConfig, run_pipeline
from pipeline import quarantine as q
from pipeline.io.base import ROW_NUMBER
from pipeline.io.memory import default_store


def _source(tmp: Path, kind: str, name: str) -> str:
    frame = pl.DataFrame({"id": ["1", "2"], name: ["a", "b"]})
    if kind == "csv":
        frame.write_csv(tmp / "in.csv")
        return str(tmp / "in.csv")
    if kind == "parquet":
        frame.write_parquet(tmp / "in.parquet")
        return str(tmp / "in.parquet")
    if kind == "jsonl":
        frame.write_ndjson(tmp / "in.jsonl")
        return str(tmp / "in.jsonl")
    if kind == "sqlite":
        with sqlite3.connect(tmp / "in.db") as con:
            quoted = '"' + name.replace('"', '""') + '"'
            con.execute(f"CREATE TABLE t (id TEXT, {quoted} TEXT)")
            con.executemany("INSERT INTO t VALUES (?, ?)", frame.rows())
        return f"sqlite://{tmp / 'in.db'}?table=t"
    default_store.put(f"names-{tmp.name}", frame)
    return f"memory://names-{tmp.name}"


@pytest.mark.parametrize("name", ["*", "^a.*$", ROW_NUMBER, "_row_number_2", q.ERRORS, q.RAW])
@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl", "sqlite", "memory"])
@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_a_column_name_a_run_cannot_carry_is_an_input_error(
    tmp_path: Path, kind: str, name: str, mode: str
) -> None:
    out = tmp_path / "out.csv"
    result = run_pipeline(
        PipelineConfig(
            input_path=_source(tmp_path, kind, name),
            output_path=out,
            audit_path=tmp_path / "audit.jsonl",
            mode=mode,  # type: ignore[arg-type]
        )
    )
    assert not result.success
    error = result.errors[0]
    assert error["code"] == "InputError", error
    assert error["column"] == name
    reason = "is reserved for the quarantine" if name.startswith("_") else "reads as a pattern"
    assert error["message"].startswith(f"column name {name!r} {reason}")
    assert error["hint"] == "rename the column in the source"
    assert not out.exists()


@pytest.mark.parametrize("kind", ["parquet", "jsonl", "sqlite", "memory"])
@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_a_column_with_no_name_is_an_input_error(tmp_path: Path, kind: str, mode: str) -> None:
    """Found by review: a Parquet column (or JSON key) named "" was written as `""`."""
    out = tmp_path / "out.csv"
    result = run_pipeline(
        PipelineConfig(
            input_path=_source(tmp_path, kind, ""),
            output_path=out,
            audit_path=tmp_path / "audit.jsonl",
            mode=mode,  # type: ignore[arg-type]
        )
    )
    assert not result.success
    assert result.errors[0]["code"] == "InputError"
    assert "a column has no name" in result.errors[0]["message"]
    assert not out.exists()
