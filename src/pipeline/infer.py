"""Type inference for runs without a schema: a faithful typed copy.

A column gets a type only when *every* value in the whole input converts to
it and converts back to exactly the same text, so nothing is lost: ``007``,
``1.50`` or ``1e3`` stay text, ``42`` becomes Int64. Writing the typed frame
as CSV therefore reproduces each value's original text.
"""

from __future__ import annotations

import polars as pl

__all__ = ["infer_types"]

# Tried in order; the first type that round-trips every value of a column wins.
_CANDIDATES: tuple[tuple[pl.DataType, str], ...] = (
    (pl.Int64(), "int"),
    (pl.Float64(), "float"),
    (pl.Boolean(), "bool"),
    (pl.Date(), "date"),
)


def _convert(column: str, kind: str) -> pl.Expr:
    col = pl.col(column)
    if kind == "int":
        return col.cast(pl.Int64, strict=False)
    if kind == "float":
        return col.cast(pl.Float64, strict=False)
    if kind == "bool":
        return pl.when(col == "true").then(True).when(col == "false").then(False)
    return col.str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def _back(expr: pl.Expr, kind: str) -> pl.Expr:
    if kind == "date":
        return expr.dt.strftime("%Y-%m-%d")
    if kind == "bool":
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    return expr.cast(pl.String)


def infer_types(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Return ``frame[columns]`` with each column cast to the narrowest lossless type."""
    remaining = [c for c in columns if frame.schema[c] == pl.String]
    chosen: dict[str, str] = {}
    for _dtype, kind in _CANDIDATES:
        if not remaining:
            break
        checks = frame.select(
            # A value fits when it converts and converts back to the same text.
            (
                pl.col(c).is_null()
                | (_back(_convert(c, kind), kind) == pl.col(c)).fill_null(value=False)
            )
            .all()
            .alias(c)
            for c in remaining
        ).row(0, named=True)
        non_null = frame.select(pl.col(c).is_not_null().any().alias(c) for c in remaining).row(
            0, named=True
        )
        for column in list(remaining):
            # An all-null column stays text: there is no evidence for any type.
            if checks[column] and non_null[column]:
                chosen[column] = kind
                remaining.remove(column)
    return frame.select(
        _convert(c, chosen[c]).alias(c) if c in chosen else pl.col(c) for c in columns
    )
