"""The declarative step models of a spec's ``steps:`` list.

Each list item is a one-key mapping naming the step kind (``filter``,
``derive``, …) with an optional ``name``; :func:`parse_step` turns it into
one of the models below. Models declare; :mod:`pipeline.steps.compile`
turns them into runnable steps.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "STEP_KINDS",
    "CastStep",
    "DedupeStep",
    "DeriveStep",
    "FillNullStep",
    "FilterStep",
    "PythonStep",
    "RenameStep",
    "SelectStep",
    "SortStep",
    "StepModel",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)

DTYPE_NAMES = (
    "String",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Float32",
    "Float64",
    "Boolean",
    "Date",
    "Datetime",
    "Time",
    "Decimal",
)


class _Step(BaseModel):
    model_config = _STRICT
    name: str | None = Field(default=None, description="Step name in counts and evidence.")


class FilterStep(_Step):
    """Keep rows where a SQL boolean expression is true; removed rows are counted."""

    kind: Literal["filter"] = "filter"
    filter: str


class DeriveStep(_Step):
    """Add or replace columns from SQL expressions, in the order written."""

    kind: Literal["derive"] = "derive"
    derive: dict[str, str]


class RenameStep(_Step):
    """Rename columns (old: new)."""

    kind: Literal["rename"] = "rename"
    rename: dict[str, str]


class SelectStep(_Step):
    """Keep these columns, in this order."""

    kind: Literal["select"] = "select"
    select: list[str]


class CastStep(_Step):
    """Convert columns to types (``Int64``, ``Float64``, ``Decimal(12,2)``, ``Date`` …)."""

    kind: Literal["cast"] = "cast"
    cast: dict[str, str]

    @field_validator("cast")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        for column, dtype in value.items():
            found = _DTYPE.fullmatch(dtype.strip())
            base = found.group("base") if found else dtype.split("(", 1)[0].strip()
            if base not in DTYPE_NAMES:
                raise ValueError(
                    f"unknown type {dtype!r} for column {column!r}; "
                    f"use one of {', '.join(DTYPE_NAMES)}"
                )
            problem = _dtype_problem(found)
            if problem is not None:
                raise ValueError(f"type {dtype!r} for column {column!r}: {problem}")
        return value


# `Decimal(abc)` and `Decimal(-1)` reached Polars and ended in a traceback, and
# `Int64(x)` passed as Int64 (found by review): the whole text is checked here.
_DTYPE = re.compile(r"(?P<base>[A-Za-z0-9]+)\s*(?:\((?P<args>[^()]*)\))?")


def _dtype_problem(found: re.Match[str] | None) -> str | None:
    """What is wrong with a type's arguments (only ``Decimal(precision[, scale])`` has any)."""
    if found is None:
        return "write a type name, or Decimal(precision, scale)"
    args = found.group("args")
    if args is None:
        return None
    if found.group("base") != "Decimal":
        return f"{found.group('base')} takes no arguments"
    parts = [p.strip() for p in args.split(",")]
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        return "write Decimal(precision) or Decimal(precision, scale), whole numbers"
    precision, scale = int(parts[0]), int(parts[1]) if len(parts) == 2 else 0
    if not 1 <= precision <= 38 or scale > precision:
        return "the precision is 1 to 38 and the scale at most the precision"
    return None


class FillNullStep(_Step):
    """Replace nulls in columns with literal values."""

    kind: Literal["fill_null"] = "fill_null"
    fill_null: dict[str, str | int | float | bool]


class DedupeSpec(BaseModel):
    """Keys identifying duplicates, and which occurrence survives."""

    model_config = _STRICT
    keys: list[str] = Field(min_length=1)
    keep: Literal["first", "last"] = "first"


class DedupeStep(_Step):
    """Drop rows whose keys occurred before (``first``) or occur later (``last``); counted."""

    kind: Literal["dedupe"] = "dedupe"
    dedupe: DedupeSpec

    @field_validator("dedupe", mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        """``dedupe: [a, b]`` means ``dedupe: {keys: [a, b]}``."""
        return {"keys": value} if isinstance(value, list) else value


class SortSpec(BaseModel):
    """Sort keys and direction; the sort is stable so ties keep input order."""

    model_config = _STRICT
    by: list[str] = Field(min_length=1)
    descending: bool = False
    nulls_last: bool = False


class SortStep(_Step):
    """Order rows by columns (stable)."""

    kind: Literal["sort"] = "sort"
    sort: SortSpec

    @field_validator("sort", mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        """``sort: [a, b]`` (or ``sort: a``) means ``sort: {by: [a, b]}``."""
        if isinstance(value, str):
            return {"by": [value]}
        return {"by": value} if isinstance(value, list) else value


class PythonStep(_Step):
    """A ``module:function`` taking and returning a LazyFrame; its source is fingerprinted."""

    kind: Literal["python"] = "python"
    python: str


StepModel = (
    FilterStep
    | DeriveStep
    | RenameStep
    | SelectStep
    | CastStep
    | FillNullStep
    | DedupeStep
    | SortStep
    | PythonStep
)

STEP_KINDS: dict[str, type[_Step]] = {
    "filter": FilterStep,
    "derive": DeriveStep,
    "rename": RenameStep,
    "select": SelectStep,
    "cast": CastStep,
    "fill_null": FillNullStep,
    "dedupe": DedupeStep,
    "sort": SortStep,
    "python": PythonStep,
}


def normalise_step(item: Any) -> dict[str, Any]:
    """Add the ``kind`` tag the step union is discriminated on."""
    if not isinstance(item, dict):
        return {"kind": None}
    data = dict(item)
    kinds = [k for k in data if k in STEP_KINDS]
    if len(kinds) == 1:
        data["kind"] = kinds[0]
    return data
