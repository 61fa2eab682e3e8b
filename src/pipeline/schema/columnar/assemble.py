"""Joining compiled values with Pydantic's values into one typed column.

Rows the compiled plan accepted carry typed Polars values; rows Pydantic decided
carry Python values. Both become one column under the dtype rule of
:mod:`pipeline.schema.values`; when Pydantic's values need a wider dtype than the
compiled one (an int beyond Int64, an aware value in a naive column) the whole
column goes through that rule, so both engines write the same frame.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl

from pipeline.schema.fields import FieldSpec
from pipeline.schema.values import decimal_scale, to_series

__all__ = ["combine"]

_MAX_DIGITS = 38


def _merge_lists(fast: list[Any], mask: list[bool], py_values: list[Any]) -> list[Any]:
    rest = iter(py_values)
    return [value if ok else next(rest) for value, ok in zip(fast, mask, strict=True)]


def _scatter(fast: pl.Series, mask: pl.Series, other: pl.Series) -> pl.Series:
    positions = (~mask).arg_true()
    return fast.scatter(positions, other) if len(other) else fast


def _combine_decimal(
    spec: FieldSpec, fast: pl.Series, mask: pl.Series, py_values: list[Any]
) -> pl.Series:
    # ``fast`` holds the accepted literals; their scale is their fraction length.
    fixed = decimal_scale(spec)
    literal_scale = 0
    if fixed is None:
        longest = fast.str.extract(r"\.([0-9]+)$").str.len_bytes().max()
        literal_scale = longest if isinstance(longest, int) else 0
    present = [v for v in py_values if v is not None]
    exact = all(isinstance(v, Decimal) and v.is_finite() for v in present)
    if exact and fixed is None:
        scale = max([int(literal_scale), *(-int(v.as_tuple().exponent) for v in present)])
    else:
        scale = fixed if fixed is not None else int(literal_scale)
    dtype = pl.Decimal(_MAX_DIGITS, scale)
    if present:
        others = to_series(fast.name, py_values, spec)
        if others.dtype != dtype:
            literals = [None if v is None else Decimal(v) for v in fast.to_list()]
            return to_series(fast.name, _merge_lists(literals, mask.to_list(), py_values), spec)
        return _scatter(fast.cast(dtype), mask, others)
    return fast.cast(dtype)


def combine(
    spec: FieldSpec | None,
    fast: pl.Series,
    mask: pl.Series,
    py_values: list[Any],
    *,
    decimal_literal: bool = False,
) -> pl.Series:
    """Return the accepted column: ``fast`` where ``mask``, else ``py_values`` in order."""
    if decimal_literal and spec is not None:
        return _combine_decimal(spec, fast, mask, py_values)
    if not py_values:
        return fast
    others = to_series(fast.name, py_values, spec)
    if bool(mask.any()) is False:
        return others
    if others.dtype == fast.dtype:
        return _scatter(fast, mask, others)
    if others.dtype == pl.Int128 and fast.dtype == pl.Int64:
        return _scatter(fast.cast(pl.Int128), mask, others)
    if others.dtype.is_(pl.Null()) or all(v is None for v in py_values):
        return _scatter(fast, mask, pl.Series(fast.name, py_values, dtype=fast.dtype))
    merged = _merge_lists(fast.to_list(), mask.to_list(), py_values)
    return to_series(fast.name, merged, spec)
