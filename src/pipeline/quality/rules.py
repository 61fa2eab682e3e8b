"""The declarative quality rules: plain Pydantic models, one per rule type.

A rule says *what* must hold; :mod:`pipeline.quality.engine` decides *how* to
check it. Every model forbids unknown keys, so a typo in a spec is an error
naming the key, never a silently skipped check. ``QualityRule`` is the
discriminated union (on ``rule``) that a spec's ``quality:`` list parses into.

Semantics shared by all rules (ARCHITECTURE.md):

- *Missing* means null, or NaN in a float column. ``not_null`` fails on
  missing values; every other row-level rule ignores them (they are neither
  failures nor counted in the rule's evaluated rows).
- Row-level rules report ``failed_rows`` always and pass when
  ``passing / evaluated >= mostly`` (exactly, in decimal: 99 of 100 passes
  ``mostly: 0.99``); without ``mostly`` any failing row fails the rule. With
  no evaluated rows a row-level rule passes.
- Only row-level rules may ``quarantine: true`` or set ``mostly``.
- A ``quarantine: true`` rule moves its failing rows to the quarantine and then
  passes (the rows are handled, and still counted in ``failed_rows``); with a
  ``mostly`` threshold it also fails the run when too many rows fail.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.steps.sql import refusal

__all__ = [
    "ID_PATTERN",
    "TYPE_NAMES",
    "AcceptedValuesRule",
    "AggregateRule",
    "Bound",
    "ExpressionRule",
    "FreshnessRule",
    "LengthRule",
    "NotNullRule",
    "PatternRule",
    "QualityRule",
    "RangeRule",
    "ReferenceRule",
    "RowCountRule",
    "RowRule",
    "RuleBase",
    "SchemaRule",
    "Severity",
    "UniqueRule",
]

Severity = Literal["error", "warn"]
Bound = int | float | date | datetime | str
"""A range bound; a string is parsed for date/datetime columns (ISO 8601)."""

ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
"""Rule ids become reason codes in the quarantine and audit log: keep them plain."""

# Polars type names a `schema` rule may require (compared on the base type, so
# "Datetime" matches any unit and zone).
TYPE_NAMES: tuple[str, ...] = (
    "Boolean", "Date", "Datetime", "Decimal", "Duration", "Float32", "Float64",
    "Int8", "Int16", "Int32", "Int64", "List", "Null", "String", "Struct", "Time",
    "UInt8", "UInt16", "UInt32", "UInt64",
)  # fmt: skip


class RuleBase(BaseModel):
    """Keys every rule has: ``id``, ``rule`` and ``severity``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    row_level: ClassVar[bool] = False

    id: str = Field(pattern=ID_PATTERN, description="Stable name; the reason code of failures.")
    rule: str = Field(description="The rule type, e.g. `not_null`; each subclass fixes it.")
    severity: Severity = Field(
        default="error", description="`error` fails the run; `warn` reports."
    )

    def columns_used(self) -> tuple[str, ...]:
        """Return the data columns the rule reads (checked to exist before evaluating)."""
        return ()


class RowRule(RuleBase):
    """A rule judged row by row: it has a failing-row count, ``mostly`` and quarantine."""

    row_level: ClassVar[bool] = True

    mostly: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Pass when passing/evaluated rows >= mostly."
    )
    quarantine: bool = Field(default=False, description="Send failing rows to the quarantine.")


class _ColumnRule(RowRule):
    column: str = Field(min_length=1)

    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class NotNullRule(_ColumnRule):
    """Every value present (not null, not NaN)."""

    rule: Literal["not_null"] = "not_null"


class UniqueRule(RowRule):
    """No key occurs twice; every row of a repeated key fails.

    Rows with a missing value in any key column are ignored (SQL ``UNIQUE``
    semantics): two rows with a null key do not collide. ``column: x`` is
    shorthand for ``columns: [x]``.
    """

    rule: Literal["unique"] = "unique"
    columns: list[str] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _column_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "column" in data and "columns" not in data:
            data = dict(data)
            data["columns"] = [data.pop("column")]
        return data

    def columns_used(self) -> tuple[str, ...]:
        return tuple(self.columns)


class AcceptedValuesRule(_ColumnRule):
    """Every present value is one of ``values``."""

    rule: Literal["accepted_values"] = "accepted_values"
    values: list[str | int | float | bool | date] = Field(min_length=1)


class RangeRule(_ColumnRule):
    """Every present value lies within [min, max]; ``strict_*`` excludes the bound."""

    rule: Literal["range"] = "range"
    min: Bound | None = None
    max: Bound | None = None
    strict_min: bool = False
    strict_max: bool = False

    @model_validator(mode="after")
    def _some_bound(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("a range rule needs `min`, `max` or both")
        return self


class PatternRule(_ColumnRule):
    """Every present value contains a match of ``pattern`` (anchor with ^…$ for a full match).

    The regex dialect is Rust's ``regex`` crate (Polars): no look-around or
    back-references.
    """

    rule: Literal["pattern"] = "pattern"
    pattern: str = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            pl.select(pl.lit("").str.contains(value))
        except pl.exceptions.PolarsError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
            raise ValueError(f"the pattern is not a valid regular expression ({first})") from None
        return value


class LengthRule(_ColumnRule):
    """Every present value has between ``min`` and ``max`` characters (inclusive)."""

    rule: Literal["length"] = "length"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> LengthRule:
        if self.min is None and self.max is None:
            raise ValueError("a length rule needs `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` is greater than `max`")
        return self


class ExpressionRule(RowRule):
    """A SQL boolean per row (``pl.sql_expr``); a row fails when it is false, null passes."""

    rule: Literal["expression"] = "expression"
    expression: str = Field(min_length=1)
    column: str | None = Field(default=None, description="Column to name in reports (optional).")

    @field_validator("expression")
    @classmethod
    def _parses(cls, value: str) -> str:
        return _check_sql(value)


class ReferenceRule(_ColumnRule):
    """Every present value occurs in column ``dataset_column`` of another dataset."""

    rule: Literal["reference"] = "reference"
    dataset: str = Field(min_length=1, description="Location of the referenced dataset.")
    dataset_column: str | None = Field(default=None, description="Default: same as `column`.")

    @property
    def target_column(self) -> str:
        """The referenced column's name."""
        return self.dataset_column or self.column


class RowCountRule(RuleBase):
    """The dataset has between ``min`` and ``max`` rows (inclusive)."""

    rule: Literal["row_count"] = "row_count"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> RowCountRule:
        if self.min is None and self.max is None:
            raise ValueError("a row_count rule needs `min`, `max` or both")
        return self


class FreshnessRule(RuleBase):
    """The newest value of ``column`` is at most ``max_age`` older than the run's ``as_of``.

    Zone-aware timestamps are compared as instants; naive timestamps, dates
    (midnight at the start of the day) and ISO 8601 text without an offset are
    read in ``timezone``. No timestamp at all fails the rule.
    """

    rule: Literal["freshness"] = "freshness"
    column: str = Field(min_length=1)
    max_age: timedelta = Field(description="ISO 8601 duration (P1D, PT6H) or seconds.")
    timezone: str = Field(default="UTC", description="Zone of naive timestamps (IANA name).")

    @field_validator("max_age")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("max_age must be positive")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like UTC") from None
        return value

    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class AggregateRule(RuleBase):
    """A SQL aggregate (``avg(amount)``, ``stddev(x)``, ``sum(x)``) within [min, max].

    An aggregate with no value (empty input, all-null column) fails: there is
    nothing to compare with the bounds.
    """

    rule: Literal["aggregate"] = "aggregate"
    expression: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None

    @field_validator("expression")
    @classmethod
    def _parses(cls, value: str) -> str:
        return _check_sql(value)

    @model_validator(mode="after")
    def _some_bound(self) -> AggregateRule:
        if self.min is None and self.max is None:
            raise ValueError("an aggregate rule needs `min`, `max` or both")
        return self


class SchemaRule(RuleBase):
    """Columns are present (``columns``), have a type (``types``), and no others (``exact``)."""

    rule: Literal["schema"] = "schema"
    columns: list[str] = Field(default_factory=list)
    types: dict[str, str] = Field(default_factory=dict, description="Column -> Polars type name.")
    exact: bool = Field(default=False, description="Fail on columns not named here.")

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        lowered = {name.lower(): name for name in TYPE_NAMES}
        out: dict[str, str] = {}
        for column, name in value.items():
            canonical = lowered.get(name.lower())
            if canonical is None:
                raise ValueError(
                    f"unknown type {name!r} for column {column!r}; "
                    f"use one of {', '.join(TYPE_NAMES)}"
                )
            out[column] = canonical
        return out

    @model_validator(mode="after")
    def _something(self) -> SchemaRule:
        if not self.columns and not self.types:
            raise ValueError("a schema rule needs `columns`, `types` or both")
        return self

    @property
    def required(self) -> list[str]:
        """Every column the rule names, in order, without repeats."""
        return list(dict.fromkeys([*self.columns, *self.types]))


def _check_sql(text: str) -> str:
    """Parse (never evaluate) a SQL expression so a syntax error surfaces at load time.

    Refused first, as a step's expression is, when Polars' parse would run a
    subquery or read the clock (see :mod:`pipeline.steps.sql`)."""
    refused = refusal(text)
    if refused is not None:
        raise ValueError(f"{refused.reason} ({refused.hint})")
    try:
        pl.sql_expr(text)
    except pl.exceptions.PolarsError as exc:
        message = re.sub(r"\s+", " ", str(exc)).strip()
        raise ValueError(f"the SQL expression does not parse ({message})") from None
    return text


QualityRule = Annotated[
    NotNullRule
    | UniqueRule
    | AcceptedValuesRule
    | RangeRule
    | PatternRule
    | LengthRule
    | RowCountRule
    | FreshnessRule
    | ReferenceRule
    | ExpressionRule
    | AggregateRule
    | SchemaRule,
    Field(discriminator="rule"),
]
"""Any rule; parsed from a dict by its ``rule`` key."""
