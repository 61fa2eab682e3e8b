"""Compiling rules into Polars expressions for a frame of a known schema.

Each row-level rule becomes two boolean expressions without nulls — rows it
fails and rows it evaluates — and each dataset-level rule a few named
aggregates plus a ``judge`` that turns the collected values into a verdict.
The engine puts every aggregate of every rule in one ``select``, so the data
is scanned once however many rules there are.

Literals in rules (accepted values, range bounds) are coerced to the column's
type here, where the type is known; a value that cannot be is a
:class:`~pipeline.errors.ConfigError` naming the rule, not a silent mismatch.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import reduce
from math import prod
from operator import or_
from typing import Any

import polars as pl

from pipeline.errors import ConfigError
from pipeline.quality.metrics import ROW_NUMBER, missing
from pipeline.quality.results import Detail
from pipeline.quality.rules import (
    AcceptedValuesRule,
    AggregateRule,
    ExpressionRule,
    FreshnessRule,
    LengthRule,
    NotNullRule,
    PatternRule,
    RangeRule,
    ReferenceRule,
    RowCountRule,
    RowRule,
    RuleBase,
    SchemaRule,
    UniqueRule,
)

__all__ = ["Context", "DatasetCheck", "RowCheck", "compile_rule"]

Verdict = tuple[bool, dict[str, Detail]]

_FEW_VALUES = 16
"""Up to this many accepted values are compared one by one instead of looked up."""


@dataclass(frozen=True)
class Context:
    """What compiling needs besides the rule: the schema, the run time, reference data."""

    schema: pl.Schema
    as_of: datetime | None
    reference: Callable[[ReferenceRule], pl.Series]
    bounds: Callable[[Sequence[str]], list[tuple[int, int] | None]] | None = None
    """Min and max of integer-like columns (``None``: all missing), where the data is
    in memory and asking costs no re-read; ``None`` for a streaming plan."""


@dataclass(frozen=True)
class RowCheck:
    """A row-level rule as expressions: ``fails`` ⊆ ``evaluated``, both null-free."""

    rule: RowRule
    fails: pl.Expr
    evaluated: pl.Expr | None
    """``None`` means every row (``not_null``): counted with ``pl.len()``."""
    columns: tuple[str, ...]
    failed: pl.Expr | None = None
    """An aggregate counting ``fails`` more cheaply than ``fails.sum()``, where one exists."""


@dataclass(frozen=True)
class DatasetCheck:
    """A dataset-level rule: named aggregates and the function judging their values."""

    rule: RuleBase
    aggregates: dict[str, pl.Expr]
    judge: Callable[[Mapping[str, Any]], Verdict]
    columns: tuple[str, ...] = field(default_factory=tuple)


def _rule_error(
    rule: RuleBase, message: str, hint: str, *, column: str | None = None, key: str | None = None
) -> ConfigError:
    return ConfigError(
        f"quality rule {rule.id!r} ({rule.rule}): {message}", hint=hint, column=column, key=key
    )


def check_columns(rule: RuleBase, schema: pl.Schema) -> None:
    """Raise ConfigError naming the rule and the nearest column when a column is absent."""
    names = [n for n in schema.names() if n != ROW_NUMBER]
    for column in rule.columns_used():
        if column not in schema:
            near = difflib.get_close_matches(column, names, n=1, cutoff=0.5)
            guess = f"; did you mean {near[0]!r}?" if near else ""
            raise _rule_error(
                rule,
                f"the data has no column {column!r}{guess}",
                f"the columns are: {', '.join(names) or '(none)'}",
                column=column,
            )


def _coerce(rule: RuleBase, value: Any, dtype: pl.DataType, key: str) -> Any:
    """Return ``value`` as a Python value comparable with a column of ``dtype``."""
    try:
        if dtype == pl.String:
            if isinstance(value, bool):
                return "true" if value else "false"
            return value.isoformat() if isinstance(value, (date, datetime)) else str(value)
        if isinstance(dtype, pl.Datetime):
            moment = value if isinstance(value, datetime) else None
            if isinstance(value, str):
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif isinstance(value, date) and moment is None:
                moment = datetime(value.year, value.month, value.day)
            if moment is None:
                raise ValueError
            if dtype.time_zone is None:
                # A naive column holds naive times; an aware bound is taken as its UTC reading.
                return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        if dtype == pl.Date:
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
            return date.fromisoformat(str(value))
        if dtype == pl.Boolean:
            if isinstance(value, bool):
                return value
            return {"true": True, "false": False}[str(value).lower()]
        if dtype.is_numeric():
            if isinstance(value, (bool, date, datetime)):
                raise ValueError
            if isinstance(value, (int, float)):
                return value
            number = float(value)
            return int(number) if dtype.is_integer() and number.is_integer() else number
    except (ValueError, KeyError, TypeError):
        raise _rule_error(
            rule,
            f"`{key}` does not fit the column's type {dtype}",
            f"write `{key}` as a {dtype} value (dates as YYYY-MM-DD)",
            key=key,
        ) from None
    return value


def _lit(value: Any, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        # Coerced values are UTC (aware columns) or naive; match the column's zone and unit.
        zone = dtype.time_zone
        expr = pl.lit(value, dtype=pl.Datetime(dtype.time_unit, "UTC" if zone else None))
        return expr.dt.convert_time_zone(zone) if zone else expr
    return pl.lit(value)


def _judged(rule: RowRule, column: str, dtype: pl.DataType, ok: pl.Expr) -> RowCheck:
    """A null-ignoring check: present values fail where ``ok`` is false."""
    present = ~missing(column, dtype)
    return RowCheck(rule, (present & ~ok).fill_null(value=False), present, (column,))


def _as_text(column: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(column) if dtype == pl.String else pl.col(column).cast(pl.String)


def _not_null(rule: NotNullRule, ctx: Context) -> RowCheck:
    return RowCheck(rule, missing(rule.column, ctx.schema[rule.column]), None, (rule.column,))


def _unique(rule: UniqueRule, ctx: Context) -> RowCheck:
    absent = reduce(or_, (missing(c, ctx.schema[c]) for c in rule.columns))
    # Measured on 10M rows (Polars 2.1): a group size per row is about twice as fast
    # as `is_duplicated` on one column (int or string); for compound keys the struct
    # hash is as fast as any alternative. Rows with a missing key part are masked out
    # below, so how their group is counted does not matter.
    if len(rule.columns) == 1:
        duplicated = pl.len().over(rule.columns[0]) > 1
    else:
        duplicated = pl.struct(rule.columns).is_duplicated()
    packed = _packed_key(rule.columns, ctx)
    return RowCheck(
        rule,
        ~absent & duplicated,
        ~absent,
        tuple(rule.columns),
        failed=(
            _sorted_duplicate_count(packed.filter(~absent))
            if packed is not None
            else _hashed_duplicate_count(rule.columns, absent)
        ),
    )


def _sorted_duplicate_count(values: pl.Expr) -> pl.Expr:
    """The rows whose value occurs twice or more: sorted, a row equal to its
    predecessor or its successor.

    ``diff() == 0`` names the sorted column once. Comparing the column with its
    own shift named it twice inside a common subexpression, which Polars does
    not deduplicate, so the sort ran twice: 0.43 s against 0.22 s for a packed
    (member, line) key on 10M rows. ``values`` must be Int64: a difference
    wraps on overflow and is zero only between equal values, whereas Polars
    turns an unsigned difference it cannot fit into Int64 into null (so
    equal UInt64 values above 2**63 would not count as equal).
    """
    same = values.sort().diff() == 0
    return (same | same.shift(-1)).fill_null(value=False).sum()


def _hashed_duplicate_count(columns: list[str], absent: pl.Expr) -> pl.Expr:
    """How many present rows share their key with another row — without a window.

    Grouping 10M keys to size every row's group costs 0.6 s (one int column)
    to 0.9 s (two); the count alone is cheaper through the keys' hashes: sort
    them, take the hashes seen twice, and run the exact ``is_duplicated`` only
    on rows carrying one of those (0.15 s and 0.45 s). Equal keys hash equal,
    so every duplicate is a candidate and the count is exact; a hash collision
    only adds a candidate that the exact pass then clears (Polars hashes -0.0
    as 0.0, which its equality also equates; a hypothesis test holds the count
    to the quarantine mask on such keys).
    """
    key = pl.struct(columns) if len(columns) > 1 else pl.col(columns[0])
    hashed = key.hash().filter(~absent)
    ordered = hashed.sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    return key.filter(~absent).filter(hashed.is_in(repeated.implode())).is_duplicated().sum()


_PACKABLE = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.Date)


def _packed_key(columns: list[str], ctx: Context) -> pl.Expr | None:
    """A compound key of integer-like columns as one Int64, where its ranges allow.

    ``(a - min_a) * span_b + (b - min_b)`` is one-to-one while the product of
    the columns' spans fits in 63 bits, so sorting it counts duplicates exactly
    with no hashing and no exact second pass: 0.33 s against 0.77 s of CPU for
    (member, line) on 10M rows. The spans come from the data, so a compound key
    needs ``ctx.bounds`` (an in-memory frame); a streaming plan hashes it
    instead. One column needs no spans and is its own key in either mode.
    """
    if not all(ctx.schema[c] in _PACKABLE for c in columns):
        return None
    if len(columns) == 1:
        # One column is its own key: its values sort faster than their hashes
        # (0.18 s against 0.19 s on 10M ids) and need no exact second pass.
        return pl.col(columns[0]).cast(pl.Int64)
    if ctx.bounds is None:
        return None
    bounds = ctx.bounds(columns)
    if any(b is None for b in bounds):
        return pl.lit(0, dtype=pl.Int64)  # a column with no value: every row is masked out
    spans = [b[1] - b[0] + 1 for b in bounds if b is not None]
    if prod(spans) >= 2**63:
        # Checked before any expression is built: the multipliers grow with each
        # column, and two full-range columns gave a third one 2**128, which no
        # Polars literal holds (it raised instead of falling back to hashes).
        return None
    packed: pl.Expr = pl.lit(0, dtype=pl.Int64)
    stride = 1
    for column, bound in reversed(list(zip(columns, bounds, strict=True))):
        assert bound is not None
        low, high = bound
        packed = packed + (pl.col(column).cast(pl.Int64) - low) * stride
        stride *= high - low + 1
    return packed  # every multiplier and every packed value is below 2**63


def _values_series(rule: RuleBase, values: list[Any], dtype: pl.DataType, key: str) -> pl.Series:
    coerced = [_coerce(rule, v, dtype, key) for v in values]
    if isinstance(dtype, pl.Datetime):
        zone = dtype.time_zone
        series = pl.Series(coerced, dtype=pl.Datetime(dtype.time_unit, "UTC" if zone else None))
        return series.dt.convert_time_zone(zone) if zone else series
    return pl.Series(coerced, dtype=dtype, strict=False)


def _accepted(rule: AcceptedValuesRule, ctx: Context) -> RowCheck:
    dtype = ctx.schema[rule.column]
    allowed = _values_series(rule, list(rule.values), dtype, "values")
    col = pl.col(rule.column)
    plain = dtype in (pl.String, pl.Date, pl.Boolean) or dtype.is_integer()
    if plain and 0 < len(allowed) <= _FEW_VALUES and not allowed.has_nulls():
        # A few comparisons beat a set lookup: 0.02 s against 0.08 s for three
        # codes on 10M strings. Types where equality has subtleties (floats,
        # zoned times, decimals) keep `is_in`.
        ok = reduce(or_, (col == pl.lit(v, dtype=dtype) for v in allowed.to_list()))
        return _judged(rule, rule.column, dtype, ok)
    return _judged(rule, rule.column, dtype, col.is_in(allowed.implode()))


def _range(rule: RangeRule, ctx: Context) -> RowCheck:
    dtype = ctx.schema[rule.column]
    col = pl.col(rule.column)
    ok = pl.lit(value=True)
    if rule.min is not None:
        low = _lit(_coerce(rule, rule.min, dtype, "min"), dtype)
        ok = ok & (col > low if rule.strict_min else col >= low)
    if rule.max is not None:
        high = _lit(_coerce(rule, rule.max, dtype, "max"), dtype)
        ok = ok & (col < high if rule.strict_max else col <= high)
    return _judged(rule, rule.column, dtype, ok)


def _pattern(rule: PatternRule, ctx: Context) -> RowCheck:
    dtype = ctx.schema[rule.column]
    return _judged(
        rule, rule.column, dtype, _as_text(rule.column, dtype).str.contains(rule.pattern)
    )


def _length(rule: LengthRule, ctx: Context) -> RowCheck:
    dtype = ctx.schema[rule.column]
    chars = _as_text(rule.column, dtype).str.len_chars()
    ok = pl.lit(value=True)
    if rule.min is not None:
        ok = ok & (chars >= rule.min)
    if rule.max is not None:
        ok = ok & (chars <= rule.max)
    return _judged(rule, rule.column, dtype, ok)


def _reference(rule: ReferenceRule, ctx: Context) -> RowCheck:
    dtype = ctx.schema[rule.column]
    allowed = ctx.reference(rule)
    return _judged(rule, rule.column, dtype, pl.col(rule.column).is_in(allowed.implode()))


def _probe(rule: RuleBase, expr: pl.Expr, schema: pl.Schema) -> pl.DataFrame:
    """Run ``expr`` on an empty frame of ``schema``: its type and shape, before the real pass."""
    try:
        return pl.LazyFrame(schema=schema).select(expr.alias("probe")).collect(engine="in-memory")
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0]
        raise _rule_error(
            rule,
            f"the SQL expression cannot be evaluated on this data ({first})",
            "check the column names and types the expression uses",
        ) from None


def _expression(rule: ExpressionRule, ctx: Context) -> RowCheck:
    expr = pl.sql_expr(rule.expression)
    probe = _probe(rule, expr, ctx.schema)
    if probe.height != 0 or probe.schema["probe"] != pl.Boolean:
        raise _rule_error(
            rule,
            "the expression must give one true/false value per row",
            "write a row-level condition such as `amount >= 0 AND status <> 'VOID'`; "
            "use an `aggregate` rule for avg/sum/stddev",
        )
    columns = (rule.column,) if rule.column else ()
    return RowCheck(rule, (~expr).fill_null(value=False), expr.is_not_null(), columns)


def _row_count(rule: RowCountRule, ctx: Context) -> DatasetCheck:
    def judge(values: Mapping[str, Any]) -> Verdict:
        rows = int(values["rows"])
        low = rule.min is None or rows >= rule.min
        high = rule.max is None or rows <= rule.max
        return low and high, {"rows": rows}

    return DatasetCheck(rule, {"rows": pl.len()}, judge)


def _utc_times(rule: FreshnessRule, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr | None]:
    """The column as UTC instants, and (for text) an expression counting unparseable values."""
    col = pl.col(rule.column)
    zone = rule.timezone
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return col.dt.convert_time_zone("UTC"), None
        local = col
    elif dtype == pl.Date:
        local = col.cast(pl.Datetime("us"))
    elif dtype == pl.String:
        aware = pl.coalesce(
            col.str.to_datetime(f"%Y-%m-%d{sep}%H:%M:%S%.f%#z", strict=False, time_zone="UTC")
            for sep in ("T", " ")
        )
        naive = pl.coalesce(
            *(col.str.to_datetime(f"%Y-%m-%d{sep}%H:%M:%S%.f", strict=False) for sep in ("T", " ")),
            col.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        ).dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        parsed = pl.coalesce(aware, naive.dt.convert_time_zone("UTC"))
        return parsed, (col.is_not_null() & parsed.is_null()).sum()
    else:
        raise _rule_error(
            rule,
            f"the column {rule.column!r} is {dtype}, not a date or timestamp",
            "point freshness at a Date, Datetime or ISO 8601 text column",
            column=rule.column,
        )
    # DST gaps have no instant; an ambiguous hour is read as its first occurrence.
    localized = local.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    return localized.dt.convert_time_zone("UTC"), None


def _freshness(rule: FreshnessRule, ctx: Context) -> DatasetCheck:
    if ctx.as_of is None or ctx.as_of.tzinfo is None:
        raise _rule_error(
            rule,
            "a freshness rule needs the run's as_of time (timezone-aware)",
            "pass as_of=... (the CLI's --as-of, e.g. 2024-01-31T00:00:00Z)",
        )
    times, unparsed = _utc_times(rule, ctx.schema[rule.column])
    cutoff = ctx.as_of.astimezone(UTC) - rule.max_age
    # Judged inside Polars so the newest timestamp (a value) never reaches Python.
    aggregates = {
        "fresh": (times.max() >= pl.lit(cutoff, dtype=pl.Datetime("us", "UTC"))),
        "timestamps": times.is_not_null().sum(),
    }
    if unparsed is not None:
        aggregates["unparsed"] = unparsed

    def judge(values: Mapping[str, Any]) -> Verdict:
        details: dict[str, Detail] = {"timestamps": int(values["timestamps"])}
        if "unparsed" in values:
            details["unparsed"] = int(values["unparsed"])
        return bool(values["fresh"]), details

    return DatasetCheck(rule, aggregates, judge, (rule.column,))


def _aggregate(rule: AggregateRule, ctx: Context) -> DatasetCheck:
    expr = pl.sql_expr(rule.expression)
    probe = _probe(rule, expr, ctx.schema)
    if probe.height != 1 or not (
        probe.schema["probe"].is_numeric() or probe.schema["probe"] == pl.Null
    ):
        raise _rule_error(
            rule,
            "the expression must give one number for the whole dataset",
            "use an aggregate such as avg(amount), stddev(amount), sum(x), count(x)",
        )
    # Compared inside Polars: the aggregate may be a cell value (max(x)) and stays out of evidence.
    value = expr.cast(pl.Float64)
    # No value (null: an empty or all-null column), NaN and ±inf (a division by
    # zero, an overflow) fail whatever the bounds: +inf passed `min` alone before.
    finite = value.is_finite().fill_null(value=False)
    ok = finite
    if rule.min is not None:
        ok = ok & (value >= rule.min)
    if rule.max is not None:
        ok = ok & (value <= rule.max)
    aggregates = {"ok": ok.fill_null(value=False), "has_value": finite}

    def judge(values: Mapping[str, Any]) -> Verdict:
        return bool(values["ok"]), {"has_value": bool(values["has_value"])}

    return DatasetCheck(rule, aggregates, judge)


def _schema(rule: SchemaRule, ctx: Context) -> DatasetCheck:
    schema = ctx.schema
    missing_columns = [c for c in rule.required if c not in schema]
    wrong_types = sorted(
        c
        for c, name in rule.types.items()
        if c in schema and schema[c].base_type().__name__ != name
    )
    named = set(rule.required) | {ROW_NUMBER}
    unexpected = sorted(c for c in schema.names() if c not in named) if rule.exact else []
    details: dict[str, Detail] = {
        "missing_columns": missing_columns,
        "wrong_types": wrong_types,
    }
    if rule.exact:
        details["unexpected_columns"] = unexpected
    passed = not (missing_columns or wrong_types or unexpected)
    return DatasetCheck(rule, {}, lambda _values: (passed, details), tuple(rule.required))


_COMPILERS: dict[type[RuleBase], Callable[[Any, Context], RowCheck | DatasetCheck]] = {
    NotNullRule: _not_null,
    UniqueRule: _unique,
    AcceptedValuesRule: _accepted,
    RangeRule: _range,
    PatternRule: _pattern,
    LengthRule: _length,
    ReferenceRule: _reference,
    ExpressionRule: _expression,
    RowCountRule: _row_count,
    FreshnessRule: _freshness,
    AggregateRule: _aggregate,
    SchemaRule: _schema,
}


def compile_rule(rule: RuleBase, ctx: Context) -> RowCheck | DatasetCheck:
    """Return the expressions that check ``rule`` on data of ``ctx.schema``."""
    if not isinstance(rule, SchemaRule):
        check_columns(rule, ctx.schema)
    return _COMPILERS[type(rule)](rule, ctx)
