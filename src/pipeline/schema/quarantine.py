"""Building the frames both engines return: the input split, the quarantine, the report.

The rejected frame keeps every original text column as given, then
``_row_number`` (Int64, 1-based data line) and ``_errors`` (a JSON list of
``{"column", "code", "message"}``). The JSON form is compact and key-ordered so
the same input always gives the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

import polars as pl

from pipeline.schema.codes import ErrorEntry

__all__ = [
    "ERRORS",
    "ROW_NUMBER",
    "count_errors",
    "dump_errors",
    "prepare_input",
    "rejected_frame",
]

ROW_NUMBER = "_row_number"
ERRORS = "_errors"


def prepare_input(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """Split the reader's frame into all-String data columns and the row numbers."""
    if ROW_NUMBER in frame.columns:
        numbers = frame.get_column(ROW_NUMBER).cast(pl.Int64)
        data = frame.drop(ROW_NUMBER)
    else:
        numbers = pl.Series(ROW_NUMBER, range(1, frame.height + 1), dtype=pl.Int64)
        data = frame
    # The reader gives text; a Null-typed column (all cells empty) is text too.
    casts = [pl.col(c).cast(pl.String) for c, t in data.schema.items() if t != pl.String]
    if casts:
        data = data.with_columns(casts)
    return data, numbers.alias(ROW_NUMBER)


def dump_errors(entries: Sequence[ErrorEntry]) -> str:
    """Return the ``_errors`` cell for one row."""
    return json.dumps(list(entries), ensure_ascii=False, separators=(",", ":"))


def count_errors(rows: Iterable[Sequence[ErrorEntry]]) -> dict[tuple[str | None, str], int]:
    """Count errors per (column, code) over rejected rows."""
    counts: Counter[tuple[str | None, str]] = Counter()
    for entries in rows:
        for entry in entries:
            counts[(entry["column"], entry["code"])] += 1
    return dict(counts)


def rejected_frame(
    data: pl.DataFrame, numbers: pl.Series, mask: pl.Series, errors: pl.Series
) -> pl.DataFrame:
    """Return the quarantine frame: rows of ``data`` where ``mask``, with reasons.

    ``errors`` holds one ``_errors`` cell per rejected row, in row order.
    """
    rejected = data.filter(mask).with_columns(numbers.filter(mask).alias(ROW_NUMBER))
    return rejected.with_columns(errors.alias(ERRORS).cast(pl.String))
