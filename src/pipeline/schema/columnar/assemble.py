"""Joining compiled values with Pydantic's values into one typed column.

Rows the compiled plan accepted carry typed Polars values; the other accepted
rows carry the Python values Pydantic gave. Both become one column under the
dtype rule of :mod:`pipeline.schema.values`: the field's own dtype, unless
Pydantic's values do not fit it (an int beyond Int64, an aware value in a
naive column), when the whole column goes through that rule, so both engines
write the same frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from pipeline.schema.fields import FieldSpec
from pipeline.schema.values import to_series

__all__ = ["combine"]


def _merge_lists(fast: list[Any], positions: list[int], py_values: list[Any]) -> list[Any]:
    merged = list(fast)
    for position, value in zip(positions, py_values, strict=True):
        merged[position] = value
    return merged


def combine(
    spec: FieldSpec,
    fast: pl.Series,
    positions: pl.Series,
    py_values: list[Any],
    exact: Callable[[], list[Any]] | None = None,
) -> pl.Series:
    """Return ``fast`` with ``py_values`` put at ``positions`` (ascending, distinct).

    ``exact`` gives ``fast`` as Pydantic's own Python values where the typed
    column lost something the text rule needs (a Decimal's exponent).
    """
    if not py_values:
        return fast
    others = to_series(fast.name, py_values, spec)
    if len(py_values) == len(fast):  # every row came from Pydantic
        return others
    if others.dtype == fast.dtype:
        return fast.scatter(positions, others)
    if others.dtype == pl.Int128 and fast.dtype == pl.Int64:
        return fast.cast(pl.Int128).scatter(positions, others)
    if all(v is None for v in py_values):
        return fast.scatter(positions, pl.Series(fast.name, py_values, dtype=fast.dtype))
    # The values need another dtype (text): the rule runs over the whole column.
    merged = _merge_lists(
        fast.to_list() if exact is None else exact(), positions.to_list(), py_values
    )
    return to_series(fast.name, merged, spec)
