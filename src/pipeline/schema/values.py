"""Turning the values Pydantic produced into typed Polars columns.

One rule for both engines, so the accepted frame has the same dtypes whichever
engine ran. The dtype follows the field's type; where a column's values do not
fit that dtype exactly (an int beyond Int64, a ``datetime`` column mixing naive
and aware values, a Decimal beyond 38 digits) the column is written as String
holding Python's own text for each value, never a rounded or shifted value.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import Any

import polars as pl

from pipeline.schema.fields import FieldSpec

__all__ = ["base_dtype", "decimal_scale", "plain_value", "to_series"]

_I64 = 2**63
_I128 = 2**127
_MAX_DECIMAL_DIGITS = 38


def plain_value(value: Any) -> Any:
    """Return the dumped value as written: enums by value, UUIDs as text."""
    while isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def decimal_scale(spec: FieldSpec) -> int | None:
    """Return the Decimal scale the model fixes (``decimal_places``), if any."""
    places = [getattr(m, "decimal_places", None) for m in spec.metadata]
    fixed = [p for p in places if isinstance(p, int)]
    return min(fixed) if fixed else None


def base_dtype(spec: FieldSpec | None) -> pl.DataType:
    """Return the dtype a column of ``spec`` has when its values fit it."""
    if spec is None:
        return pl.String()
    simple: dict[str, pl.DataType] = {
        "str": pl.String(),
        "int": pl.Int64(),
        "float": pl.Float64(),
        "bool": pl.Boolean(),
        "date": pl.Date(),
        "time": pl.Time(),
        "uuid": pl.String(),
    }
    if spec.kind in simple:
        return simple[spec.kind]
    if spec.kind == "decimal":
        return pl.Decimal(_MAX_DECIMAL_DIGITS, decimal_scale(spec) or 0)
    if spec.kind == "datetime":
        return pl.Datetime("us", "UTC" if spec.tz_mode == "aware" else None)
    return pl.String()


def _as_text(name: str, values: Sequence[Any]) -> pl.Series:
    return pl.Series(
        name,
        [
            None if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
            for v in values
        ],
        dtype=pl.String(),
    )


def _datetimes(name: str, values: Sequence[Any], spec: FieldSpec | None) -> pl.Series:
    present = [v for v in values if v is not None]
    aware = [v.tzinfo is not None and v.utcoffset() is not None for v in present]
    if present and all(aware):
        utc = [None if v is None else v.astimezone(dt.UTC).replace(tzinfo=None) for v in values]
        return pl.Series(name, utc, dtype=pl.Datetime("us")).dt.replace_time_zone("UTC")
    if not any(aware):
        tz = "UTC" if spec is not None and spec.tz_mode == "aware" else None
        return pl.Series(name, values, dtype=pl.Datetime("us", tz))
    return _as_text(name, values)


def _decimals(name: str, values: Sequence[Any], spec: FieldSpec | None) -> pl.Series:
    present = [v for v in values if v is not None]
    if any(not v.is_finite() for v in present):
        return _as_text(name, values)
    fixed = decimal_scale(spec) if spec is not None else None
    scale = fixed
    if scale is None:
        scale = max([0, *(-int(v.as_tuple().exponent) for v in present)])
    if scale > _MAX_DECIMAL_DIGITS:
        return _as_text(name, values)
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (_MAX_DECIMAL_DIGITS - scale)
    # Exact only when no value needs more places or digits than the column has.
    with localcontext() as context:
        context.prec = 2 * _MAX_DECIMAL_DIGITS + 2
        if any(abs(v) >= limit or v.quantize(quantum) != v for v in present):
            return _as_text(name, values)
    return pl.Series(name, values, dtype=pl.Decimal(_MAX_DECIMAL_DIGITS, scale))


def to_series(name: str, values: Sequence[Any], spec: FieldSpec | None) -> pl.Series:
    """Build the accepted-frame column ``name`` from dumped Python values."""
    values = [plain_value(v) for v in values]
    present = [v for v in values if v is not None]
    if not present:
        return pl.Series(name, values, dtype=base_dtype(spec))
    if all(isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Boolean())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if all(-_I64 <= v < _I64 for v in present):
            return pl.Series(name, values, dtype=pl.Int64())
        if all(-_I128 <= v < _I128 for v in present):
            return pl.Series(name, values, dtype=pl.Int128())
        return _as_text(name, values)
    if all(isinstance(v, float) for v in present):
        return pl.Series(name, values, dtype=pl.Float64())
    if all(isinstance(v, str) for v in present):
        return pl.Series(name, values, dtype=pl.String())
    if all(isinstance(v, Decimal) for v in present):
        return _decimals(name, values, spec)
    if all(isinstance(v, dt.datetime) for v in present):
        return _datetimes(name, values, spec)
    if all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in present):
        return pl.Series(name, values, dtype=pl.Date())
    if all(isinstance(v, dt.time) and v.tzinfo is None for v in present):
        return pl.Series(name, values, dtype=pl.Time())
    return _as_text(name, values)
