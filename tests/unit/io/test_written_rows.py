"""Streaming writes count their rows in the written file, in the pass that hashes it."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.io.files import FileSink, _WrittenRows

_text = st.text(alphabet=st.sampled_from(['"', "\n", "\r", ",", "a", "é", " "]), max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(st.tuples(st.none() | _text, st.integers(-5, 5)), max_size=20),
    cuts=st.lists(st.integers(1, 7), min_size=1, max_size=5),
    fmt=st.sampled_from(["csv", "ndjson"]),
)
def test_rows_counted_from_the_bytes_whatever_the_blocks(
    cells: list[tuple[str | None, int]], cuts: list[int], fmt: str
) -> None:
    frame = pl.DataFrame(
        {"s": [c[0] for c in cells], "n": [c[1] for c in cells]},
        schema={"s": pl.String, "n": pl.Int64},
    )
    buffer = io.BytesIO()
    frame.write_csv(buffer) if fmt == "csv" else frame.write_ndjson(buffer)
    data = buffer.getvalue()
    counter = _WrittenRows(fmt)
    position, turn = 0, 0
    while position < len(data):  # blocks of varying small sizes split quotes and CRLFs
        size = cuts[turn % len(cuts)]
        counter(data[position : position + size])
        position, turn = position + size, turn + 1
    assert counter.rows == frame.height


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_streaming_stage_reports_the_written_rows(tmp_path: Path, suffix: str) -> None:
    frame = pl.DataFrame({"s": ['a\n"b"', None, "c,d"] * 5, "n": list(range(15))})
    sink = FileSink(tmp_path / f"out.{suffix}")
    staged = sink.stage_lazy(frame.lazy().filter(pl.col("n") % 2 == 0))
    result = staged.commit()
    assert result.records == 8


@pytest.mark.parametrize("lazy", [False, True])
def test_a_failed_flush_while_staging_is_an_output_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lazy: bool
) -> None:
    # The hashing reader flushes the file behind the writer; a disk error there is
    # the write's failure (the final fsync might never see it again).
    from pipeline import hashing
    from pipeline.errors import OutputError

    monkeypatch.setattr(hashing, "FLUSH_BYTES", 1)

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(hashing.os, "fdatasync", failing)
    frame = pl.DataFrame({"n": list(range(50_000))})
    sink = FileSink(tmp_path / "out.csv")
    with pytest.raises(OutputError, match="Input/output error"):
        sink.stage_lazy(frame.lazy()) if lazy else sink.stage(frame)
    assert list(tmp_path.iterdir()) == []
