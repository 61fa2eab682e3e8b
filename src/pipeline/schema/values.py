"""Turning the values Pydantic produced into typed Polars columns.

One rule for both engines, so the accepted frame has the same dtypes whichever
engine ran. The dtype is a function of the field alone (:func:`base_dtype`), so
every slice or chunk of a frame gets the same one: Int64, Float64, Boolean,
Date, Time, String, ``Datetime("us")`` (``"UTC"`` for aware fields) and
``Decimal(38, s)`` with ``s`` the field's ``decimal_places``, else
``min(max_digits, 19)``, else 19 — never the scale of the values seen.

Only values that do not fit that dtype exactly change it, and then only for the
column of the frame that holds them; never a rounded or shifted value:

* an int beyond Int64 makes the column Int128 (String beyond Int128);
* a plain ``datetime`` column holding both naive and aware values, a Decimal
  that is not finite or does not fit ``Decimal(38, s)``, or mixed value types
  make the column String holding Python's own text for each value.
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

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_I64 = 2**63
_I128 = 2**127
_MAX_DECIMAL_DIGITS = 38
_DEFAULT_SCALE = 19


def plain_value(value: Any) -> Any:
    """Return the dumped value as written: enums by value, UUIDs as text."""
    while isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _limit(spec: FieldSpec, name: str) -> int | None:
    found = [getattr(m, name, None) for m in spec.metadata]
    fixed = [p for p in found if isinstance(p, int) and not isinstance(p, bool)]
    return min(fixed) if fixed else None


def decimal_scale(spec: FieldSpec) -> int:
    """Return the scale of a Decimal field's column, fixed by the field alone.

    ``decimal_places`` when given; else ``min(max_digits, 19)``, which holds
    every value of at most ``max_digits`` digits; else 19 (up to 19 whole and 19
    fraction digits). Never the data's own scale, so any slice agrees.
    """
    places = _limit(spec, "decimal_places")
    if places is not None:
        return max(places, 0)
    digits = _limit(spec, "max_digits")
    return _DEFAULT_SCALE if digits is None else max(0, min(digits, _DEFAULT_SCALE))


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
        scale = decimal_scale(spec)
        return (
            pl.Decimal(_MAX_DECIMAL_DIGITS, scale) if scale <= _MAX_DECIMAL_DIGITS else pl.String()
        )
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
        # The UTC instant as microseconds since the epoch, by subtraction: an aware
        # value near the calendar's ends (9999-12-31T23:59:59-05:00, a common
        # "open-ended" sentinel) is an instant past year 9999 in UTC, which
        # ``astimezone`` cannot hold (OverflowError) but Polars' Datetime can.
        micros = [None if v is None else (v - _EPOCH) // _MICROSECOND for v in values]
        return pl.Series(name, micros, dtype=pl.Int64()).cast(pl.Datetime("us", "UTC"))
    if not any(aware):
        tz = "UTC" if spec is not None and spec.tz_mode == "aware" else None
        return pl.Series(name, values, dtype=pl.Datetime("us", tz))
    return _as_text(name, values)


def _decimals(name: str, values: Sequence[Any], spec: FieldSpec | None) -> pl.Series:
    present = [v for v in values if v is not None]
    if any(not v.is_finite() for v in present):
        return _as_text(name, values)
    if spec is not None:
        scale = decimal_scale(spec)
    else:  # no field (never for model fields): the values' own scale
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
    # Through their plain digits, exactly: a Series of Decimal objects makes Polars
    # import numpy (40 ms on a run's first such column).
    digits = [None if v is None else format(v, "f") for v in values]
    return pl.Series(name, digits, dtype=pl.String).cast(pl.Decimal(_MAX_DECIMAL_DIGITS, scale))


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
