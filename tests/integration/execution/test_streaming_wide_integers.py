"""A validated integer column widened by a later chunk is written as batch mode writes it.

Validation types an int field's column Int64, Int128 when a value is beyond Int64,
and text beyond Int128 (pipeline.schema.values). Batch mode validates the whole
column at once; streaming validates chunk by chunk, and stopped the run when a
later chunk's column came out wider than the first's ("a type that depends on the
values"), where batch mode succeeded (noticed in session 10). The spill now
widens, and both modes write the same bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

import pipeline.execution.streaming as streaming
from pipeline import run_pipeline
from pipeline.errors import PipelineError
from pipeline.spec import PipelineSpec

MODEL = """
from typing import Optional, Union
from pydantic import BaseModel

class Row(BaseModel):
    id: int
    big: int

class Loose(BaseModel):
    id: int
    big: Optional[Union[int, float]] = None
"""


@pytest.fixture(autouse=True)
def chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model module on the path, chunks of 100 rows, and each spilled chunk's type
    of ``big``: a run must really widen across chunks (found by review: the first
    version of these tests read one chunk, a quote-free CSV being read in blocks)."""
    (tmp_path / "wide_models.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(streaming, "BATCH_ROWS", 100)
    seen: list[str] = []
    append = streaming._Accepted.append

    def spy(self: streaming._Accepted, frame: pl.DataFrame) -> None:
        if frame.height:
            seen.append(str(frame.schema.get("big")))
        append(self, frame)

    monkeypatch.setattr(streaming._Accepted, "append", spy)
    return seen


def _run(tmp: Path, text: str, mode: str, fmt: str, model: str = "Row") -> tuple[object, Path]:
    source = tmp / "in.csv"
    source.write_text(text)
    out = tmp / mode / f"out.{fmt}"
    spec = PipelineSpec.model_validate(
        {
            "version": 1,
            "name": "wide",
            "mode": mode,
            "source": {"uri": str(source)},
            "schema": f"wide_models:{model}",
            "sink": {"uri": str(out)},
            "audit": {"path": str(tmp / "audit.jsonl")},
        }
    )
    return run_pipeline(spec.to_config(as_of="2024-01-01T00:00:00+00:00")), out


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
@pytest.mark.parametrize(
    ("late", "dtype"),
    [
        ({150: 10**20}, "Int128"),
        ({150: 10**20, 250: -(10**40)}, "String"),
        ({50: 10**20}, "Int128"),  # wide first, narrow later: the later chunks widen
        ({50: 10**40, 250: 10**20}, "String"),
    ],
)
def test_both_modes_write_a_widened_integer_column_alike(
    tmp_path: Path, chunks: list[str], fmt: str, late: dict[int, int], dtype: str
) -> None:
    values = {i: i * 7 for i in range(1, 301)} | late
    # A quoted header name: the file is read in chunks of rows, not in blocks of bytes.
    text = '"id",big\n' + "".join(f"{i},{v}\n" for i, v in values.items())
    batch, batch_out = _run(tmp_path, text, "batch", fmt)
    stream, stream_out = _run(tmp_path, text, "streaming", fmt)
    assert len(chunks) == 3 and len(set(chunks)) > 1, chunks  # widened across chunks
    assert batch.success and stream.success, (batch.errors, stream.errors)  # type: ignore[attr-defined]
    assert stream_out.read_bytes() == batch_out.read_bytes()
    if fmt == "parquet":
        assert str(pl.read_parquet_schema(stream_out)["big"]) == dtype
        assert pl.read_parquet(stream_out)["big"].cast(pl.String).to_list() == [
            str(v) for v in values.values()
        ]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
@pytest.mark.parametrize("blank", [range(1, 101), range(101, 201)])
def test_a_chunk_without_a_value_does_not_change_the_column_type(
    tmp_path: Path, chunks: list[str], fmt: str, blank: range
) -> None:
    # An Optional[int | float] column null throughout a chunk is validated as text
    # there (the union's base type): it carries no evidence. It turned the integers
    # of the other chunks into text in streaming mode only (found by review).
    rows = [f"{i},{'' if i in blank else i}\n" for i in range(1, 301)]
    text = '"id",big\n' + "".join(rows)
    batch, batch_out = _run(tmp_path, text, "batch", fmt, "Loose")
    stream, stream_out = _run(tmp_path, text, "streaming", fmt, "Loose")
    assert batch.success and stream.success, (batch.errors, stream.errors)  # type: ignore[attr-defined]
    assert len(chunks) == 3 and "String" in chunks, chunks
    assert stream_out.read_bytes() == batch_out.read_bytes()
    if fmt == "parquet":
        assert str(pl.read_parquet_schema(stream_out)["big"]) == "Int64"


@pytest.mark.parametrize(
    ("first", "later"),
    [
        # Python's isoformat is not Polars' text
        (pl.Series("c", [dt.datetime(2024, 1, 1)]), pl.Series("c", ["x"])),
        (pl.Series("c", [True]), pl.Series("c", ["x"])),  # "True" in Python, "true" in Polars
        (pl.Series("c", [1]), pl.Series("c", [1.5])),
    ],
)
def test_a_column_that_changes_otherwise_still_stops_the_run_by_name(
    tmp_path: Path, first: pl.Series, later: pl.Series
) -> None:
    spill = streaming._Accepted(tmp_path / "accepted.parquet")
    spill.append(pl.DataFrame({"id": [None], "c": first}))  # `id`: no evidence, no error
    with pytest.raises(PipelineError) as caught:
        spill.append(pl.DataFrame({"id": ["2"], "c": later}))
    assert caught.value.message.startswith(
        f"column 'c' is {first.dtype} in earlier rows and {later.dtype}"
    )
