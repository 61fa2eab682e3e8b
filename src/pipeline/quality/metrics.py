"""Per-column data quality metrics: null counts, distinct counts, min and max.

These feed OpenLineage's ``dataQualityMetrics`` facet. ``min`` and ``max``
are cell values: they belong in that facet only (a lineage consumer the
operator controls), never in audit entries, run results, reports or logs —
which is why :class:`~pipeline.quality.results.RuleResult` has no place for
them and :func:`metrics_facet` is the one function that emits them.

"Null" here means missing, as in the rules: null, or NaN in a float column.
``distinct_count`` counts distinct present values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

__all__ = ["ColumnMetrics", "metric_exprs", "metrics_facet", "missing", "read_metrics"]

ROW_NUMBER = "_row_number"
"""The reader's bookkeeping column: not data, never measured."""

_PREFIX = "__qm"


def missing(column: str, dtype: pl.DataType) -> pl.Expr:
    """True where the value is missing: null, or NaN in a float column."""
    expr = pl.col(column).is_null()
    if dtype.is_float():
        expr = expr | pl.col(column).is_nan()
    return expr


def _ordered(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or isinstance(dtype, (pl.Date, pl.Datetime))


@dataclass(frozen=True, slots=True)
class ColumnMetrics:
    """Metrics of one column; ``min``/``max`` only for numeric and date/datetime columns
    (``None`` for a date or timestamp bound outside years 1-9999, which Python cannot hold)."""

    null_count: int
    distinct_count: int
    min: int | float | date | datetime | None = None
    max: int | float | date | datetime | None = None


def metric_exprs(schema: pl.Schema) -> list[pl.Expr]:
    """Aggregate expressions for every data column, to run in the rules' single select."""
    exprs: list[pl.Expr] = []
    for i, (name, dtype) in enumerate(schema.items()):
        if name == ROW_NUMBER:
            continue
        col = pl.col(name)
        present = col.filter(~missing(name, dtype))
        exprs.append(missing(name, dtype).sum().alias(f"{_PREFIX}{i}_nulls"))
        exprs.append(present.n_unique().alias(f"{_PREFIX}{i}_distinct"))
        if _ordered(dtype):
            exprs.append(_representable(present.min(), dtype).alias(f"{_PREFIX}{i}_min"))
            exprs.append(_representable(present.max(), dtype).alias(f"{_PREFIX}{i}_max"))
    return exprs


def _representable(bound: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A date or timestamp bound, or null where Python's ``date`` cannot hold it.

    Polars keeps dates past year 9999 (a Parquet input can hold them); reading
    such a bound back into Python raised ValueError and failed the whole
    evaluation. Year 9999 itself, a common "open-ended" sentinel, is kept.
    """
    if not isinstance(dtype, (pl.Date, pl.Datetime)):
        return bound
    fits = bound.dt.year().is_between(1, 9999)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        # Python converts through UTC, whose year can differ from the local one.
        fits = fits & bound.dt.convert_time_zone("UTC").dt.year().is_between(1, 9999)
    return pl.when(fits).then(bound)


def read_metrics(schema: pl.Schema, row: dict[str, Any]) -> dict[str, ColumnMetrics]:
    """Assemble :class:`ColumnMetrics` from the collected aggregate row."""
    out: dict[str, ColumnMetrics] = {}
    for i, (name, dtype) in enumerate(schema.items()):
        if name == ROW_NUMBER:
            continue
        ordered = _ordered(dtype)
        out[name] = ColumnMetrics(
            null_count=int(row[f"{_PREFIX}{i}_nulls"] or 0),
            distinct_count=int(row[f"{_PREFIX}{i}_distinct"] or 0),
            min=row[f"{_PREFIX}{i}_min"] if ordered else None,
            max=row[f"{_PREFIX}{i}_max"] if ordered else None,
        )
    return out


def metrics_facet(metrics: dict[str, ColumnMetrics], row_count: int) -> dict[str, Any]:
    """OpenLineage ``dataQualityMetrics`` fields (``rowCount``, ``columnMetrics``).

    The facet's ``min``/``max`` are numbers, so they are given for numeric
    columns only; date bounds stay in :class:`ColumnMetrics`.
    """
    columns: dict[str, Any] = {}
    for name, m in metrics.items():
        entry: dict[str, Any] = {"nullCount": m.null_count, "distinctCount": m.distinct_count}
        for key, value in (("min", m.min), ("max", m.max)):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                entry[key] = float(value)
        columns[name] = entry
    return {"rowCount": row_count, "columnMetrics": columns}
