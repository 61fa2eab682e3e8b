"""The quarantine frame: every rejected record with its original text and reasons.

Columns, in order: ``_row_number`` (1-based record number in the source), the
source's columns as text, ``_errors`` (JSON list of ``{column, code,
message}``; messages never quote a value) and ``_raw`` (the original text of
a record the format could not split into columns). Rows are sorted by
``_row_number`` so the file is deterministic whatever found them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import polars as pl

from pipeline.io.base import ROW_NUMBER, MalformedRow

__all__ = [
    "ERRORS",
    "RAW",
    "combine",
    "count_codes",
    "empty",
    "from_malformed",
    "from_rule_failures",
]

ERRORS = "_errors"
RAW = "_raw"


def _order(columns: Sequence[str]) -> list[str]:
    return [ROW_NUMBER, *columns, ERRORS, RAW]


def empty(columns: Sequence[str]) -> pl.DataFrame:
    """A quarantine with no rows (written anyway: its hash proves nothing was rejected)."""
    return pl.DataFrame(
        {ROW_NUMBER: pl.Series([], dtype=pl.Int64)}
        | {c: pl.Series([], dtype=pl.String) for c in columns}
        | {ERRORS: pl.Series([], dtype=pl.String), RAW: pl.Series([], dtype=pl.String)}
    )


def from_malformed(rows: Sequence[MalformedRow], columns: Sequence[str]) -> pl.DataFrame:
    """Records the reader could not parse: the raw text, code ``malformed_row``."""
    errors = [
        json.dumps([{"column": None, "code": "malformed_row", "message": r.message}]) for r in rows
    ]
    return pl.DataFrame(
        {ROW_NUMBER: pl.Series([r.row_number for r in rows], dtype=pl.Int64)}
        | {c: pl.Series([None] * len(rows), dtype=pl.String) for c in columns}
        | {
            ERRORS: pl.Series(errors, dtype=pl.String),
            RAW: pl.Series([r.raw for r in rows], dtype=pl.String),
        }
    )


def from_rule_failures(
    original: pl.DataFrame, failures: dict[int, list[dict[str, str | None]]]
) -> pl.DataFrame:
    """Rows that failed quality rules marked ``quarantine: true``, with their original text.

    ``original`` is the all-text frame as read (with ``_row_number``);
    ``failures`` maps a row number to its ``{column, code, message}`` entries.
    """
    numbers = sorted(failures)
    picked = original.filter(pl.col(ROW_NUMBER).is_in(numbers)).sort(ROW_NUMBER)
    errors = [json.dumps(failures[n]) for n in picked.get_column(ROW_NUMBER).to_list()]
    return picked.with_columns(pl.Series(ERRORS, errors, dtype=pl.String))


def combine(parts: Iterable[pl.DataFrame], columns: Sequence[str]) -> pl.DataFrame:
    """One quarantine frame in the documented column order, sorted by ``_row_number``."""
    order = _order(columns)
    frames = []
    for part in parts:
        present = set(part.columns)  # a list built per access: once, not once per column
        filled = part.with_columns(
            pl.lit(None, dtype=pl.String).alias(c) for c in order if c not in present
        )
        frames.append(
            filled.select(
                pl.col(ROW_NUMBER).cast(pl.Int64), *(pl.col(c).cast(pl.String) for c in order[1:])
            )
        )
    if not frames:
        return empty(columns)
    return pl.concat(frames).sort(ROW_NUMBER)


def count_codes(rejected: pl.DataFrame) -> dict[str, int]:
    """Rejected rows per error code (a row with two codes counts under both)."""
    if rejected.height == 0:
        return {}
    codes = (
        rejected.select(
            pl.col(ERRORS)
            .str.json_decode(pl.List(pl.Struct({"code": pl.String})))
            .list.eval(pl.element().struct.field("code"))
            .list.unique()
            .alias("codes")
        )
        .explode("codes")
        .group_by("codes")
        .len()
        .sort("codes")
    )
    return {str(code): int(n) for code, n in codes.iter_rows()}
