"""Compiling one model field into Polars expressions over its text column.

Each field compiles to an *acceptance* expression and a *value* expression. The
acceptance is deliberately narrow: it is true only for text whose Pydantic
result is certain — a canonical literal (``-12``, ``2024-01-05``, ``PAID``) that
meets every constraint — and the value is then exactly Pydantic's. Everything
else (padding, ``1_000``, ``5.0`` for an int, ``2024-01-01T00:00:00`` for a
date, failures of any kind) is *undecided* and goes to Pydantic itself in
:mod:`pipeline.schema.fallback`, so rejections and their messages are always
Pydantic's own. Anything the compiler cannot reproduce raises
:class:`Unsupported` and the whole field falls back.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

import polars as pl
from pydantic import TypeAdapter, ValidationError

from pipeline.schema.columnar.constraints import Unsupported, collect_constraints
from pipeline.schema.fields import FieldSpec
from pipeline.schema.values import decimal_scale

__all__ = ["Compiled", "compile_field"]

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_DATE = r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
# Hours, minutes and seconds in range: Polars would roll 24:00 or :60 over.
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_BOOL_CANDIDATES: Final = (
    "true", "false", "True", "False", "TRUE", "FALSE", "1", "0",
    "yes", "no", "on", "off", "t", "f", "y", "n",
)  # fmt: skip


def _pydantic_bool_tokens() -> dict[str, bool]:
    # Ask Pydantic which spellings it reads as booleans rather than hard-code them.
    adapter: TypeAdapter[bool] = TypeAdapter(bool)
    tokens: dict[str, bool] = {}
    for text in _BOOL_CANDIDATES:
        try:
            tokens[text] = adapter.validate_python(text)
        except ValidationError:
            continue
    return tokens


_BOOL_TOKENS: Final = _pydantic_bool_tokens()


@dataclass(frozen=True)
class Compiled:
    """A field's compiled plan: where it is certain, and the value there.

    ``value`` is computed for every row without a condition (cheaper than
    masking it); it is Pydantic's value only where ``accept`` holds, and the
    engine never reads it elsewhere.
    """

    accept: pl.Expr
    value: pl.Expr
    dtype: pl.DataType


_Built = tuple[pl.Expr, pl.Expr, pl.DataType]


def _regex_ok(pattern: str) -> None:
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern, strict=True)
    except Exception as exc:  # Polars raises its own ComputeError for bad regex
        raise Unsupported("pattern not supported by the Rust regex engine") from exc


def _str(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    strip = bool(c.pop("strip_whitespace", False))
    lower = bool(c.pop("to_lower", False))
    upper = bool(c.pop("to_upper", False))
    c.pop("strict", None)  # strict str accepts str input unchanged
    if lower and upper:
        raise Unsupported("both to_lower and to_upper")
    ok = pl.lit(True)
    if strip:
        # Pydantic strips Unicode White_Space (Rust trim); certain only when none is there.
        ok = ok & ~raw.str.contains(r"^\s|\s$")
    if lower or upper:
        ok = ok & raw.str.contains(r"^[\x00-\x7F]*$")
    if "min_length" in c:
        ok = ok & (raw.str.len_chars() >= int(c.pop("min_length")))
    if "max_length" in c:
        ok = ok & (raw.str.len_chars() <= int(c.pop("max_length")))
    if "pattern" in c:
        pattern = c.pop("pattern")
        if not isinstance(pattern, str):
            raise Unsupported("compiled pattern object")
        _regex_ok(pattern)
        ok = ok & raw.str.contains(pattern)
    value = raw.str.to_lowercase() if lower else raw.str.to_uppercase() if upper else raw
    return ok, value, pl.String()


def _int_bound(op: str, bound: Any) -> int:
    if isinstance(bound, bool) or not isinstance(bound, int | float | Decimal | Fraction):
        raise Unsupported(f"{op} bound of type {type(bound).__name__}")
    if isinstance(bound, int):
        return bound
    if not math.isfinite(bound):
        raise Unsupported(f"non-finite {op} bound")
    # An int compared with a fractional bound: the equivalent integer bound.
    return math.ceil(bound) if op in ("ge", "lt") else math.floor(bound)


def _compare(value: pl.Expr, op: str, bound: Any) -> pl.Expr:
    ops: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
        "gt": lambda v, b: v > b,
        "ge": lambda v, b: v >= b,
        "lt": lambda v, b: v < b,
        "le": lambda v, b: v <= b,
    }
    return ops[op](value, bound if isinstance(bound, pl.Expr) else pl.lit(bound))


def _int(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    ok = raw.str.contains(r"^(0|-?[1-9][0-9]{0,17})$")
    value = raw.cast(pl.Int64, strict=False)
    c.pop("allow_inf_nan", None)
    for op in ("gt", "ge", "lt", "le"):
        if op in c:
            bound = _int_bound(op, c.pop(op))
            if bound < _I64_MIN or bound > _I64_MAX:
                # Beyond Int64 every 18-digit value is on one side of it.
                always = (bound < 0) == (op in ("gt", "ge"))
                ok = ok & pl.lit(always)
            else:
                ok = ok & _compare(value, op, bound)
    if "multiple_of" in c:
        step = c.pop("multiple_of")
        if isinstance(step, bool) or not isinstance(step, int) or not 0 < abs(step) <= _I64_MAX:
            raise Unsupported("multiple_of that is not a positive Int64")
        ok = ok & ((value % step) == 0)
    return ok, value, pl.Int64()


def _float(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    # At most 15 significant digits: every correct parser (Polars, Python)
    # rounds such a literal to the same double.
    ok = raw.str.contains(r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?$") & (raw.str.len_bytes() <= 17)
    value = raw.cast(pl.Float64, strict=False)
    c.pop("allow_inf_nan", None)  # the literal above is always finite
    for op in ("gt", "ge", "lt", "le"):
        if op in c:
            bound = c.pop(op)
            exact_int = isinstance(bound, int) and abs(bound) <= 2**53
            if isinstance(bound, bool) or not (
                exact_int or (isinstance(bound, float) and math.isfinite(bound))
            ):
                raise Unsupported(f"{op} bound {type(bound).__name__} on float")
            ok = ok & _compare(value, op, float(bound))
    if "multiple_of" in c:
        raise Unsupported("multiple_of on float")
    return ok, value, pl.Float64()


def _decimal(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    places = c.pop("decimal_places", None)
    digits = c.pop("max_digits", None)
    if c.pop("allow_inf_nan", False) is True and (places is not None or digits is not None):
        raise Unsupported("allow_inf_nan with digit limits")
    scale = decimal_scale(spec)
    if scale > 38:
        raise Unsupported("decimal_places beyond 38")
    # Accepted literals fit the column's Decimal(38, scale) exactly: at most
    # ``scale`` fraction digits and 38 - scale whole digits.
    whole = min(19, 38 - scale) if digits is None else min(19, 38 - scale, digits - (places or 0))
    frac = min(19, scale)
    if whole < 1 or frac < 0:
        raise Unsupported("digit limits leave no whole digits")
    frac_part = rf"(\.[0-9]{{1,{frac}}})?" if frac > 0 else ""
    ok = raw.str.contains(rf"^-?(0|[1-9][0-9]{{0,{whole - 1}}}){frac_part}$")
    value = raw.cast(pl.Decimal(38, scale), strict=False)
    if digits is not None and whole + frac > digits:
        # Raw digit count (the literal is digits, a sign and a dot), ignoring a
        # lone leading zero: never below Pydantic's count.
        counted = (
            raw.str.len_bytes().cast(pl.Int64)
            - raw.str.starts_with("-").cast(pl.Int64)
            - raw.str.contains(".", literal=True).cast(pl.Int64)
            - raw.str.contains(r"^-?0(\.|$)").cast(pl.Int64)
        )
        ok = ok & (counted <= digits)
    for op in ("gt", "ge", "lt", "le"):
        if op in c:
            bound = c.pop(op)
            if isinstance(bound, bool) or not isinstance(bound, int | Decimal):
                raise Unsupported(f"{op} bound {type(bound).__name__} on Decimal")
            if not Decimal(bound).is_finite():
                raise Unsupported("non-finite bound")
            bound_scale = max(0, -int(Decimal(bound).as_tuple().exponent))
            if bound_scale > 19 or abs(Decimal(bound)) >= Decimal(10) ** 19:
                raise Unsupported("Decimal bound beyond 19 digits")
            # From its plain digits: a Decimal literal would make Polars import numpy
            # (60 ms, a tenth of validating 1M rows); the cast of digits is exact.
            literal = pl.lit(format(Decimal(bound), "f")).cast(pl.Decimal(38, bound_scale))
            ok = ok & _compare(value, op, literal)
    if "multiple_of" in c:
        raise Unsupported("multiple_of on Decimal")
    return ok, value, pl.Decimal(38, scale)


def _bool(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    ok = raw.is_in(list(_BOOL_TOKENS))
    value = raw.replace_strict(_BOOL_TOKENS, default=None, return_dtype=pl.Boolean)
    return ok, value, pl.Boolean()


def _date_bounds(c: dict[str, Any], value: pl.Expr, ok: pl.Expr) -> pl.Expr:
    for op in ("gt", "ge", "lt", "le"):
        if op in c:
            bound = c.pop(op)
            if type(bound) is not dt.date:
                raise Unsupported(f"{op} bound {type(bound).__name__} on date")
            ok = ok & _compare(value, op, bound)
    return ok


def _date(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    # No cache: parsing is cheaper than hashing each text (same values either way).
    value = raw.str.to_date("%Y-%m-%d", strict=False, cache=False)
    ok = raw.str.contains(f"^{_DATE}$") & value.is_not_null()
    return _date_bounds(c, value, ok), value, pl.Date()


def _datetime(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    if spec.tz_mode == "aware":
        text = raw.str.replace("Z", "+00:00", literal=True).str.replace(" ", "T", literal=True)
        value = text.str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False, cache=False
        )
        ok = raw.str.contains(f"^{_DATE}[T ]{_TIME}{_OFFSET}$") & value.is_not_null()
        return ok, value, pl.Datetime("us", "UTC")
    # Plain and naive datetimes: only naive text is certain here; aware text
    # goes to Pydantic (a plain ``datetime`` column may then mix both).
    text = raw.str.replace(" ", "T", literal=True)
    value = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False, cache=False)
    ok = raw.str.contains(f"^{_DATE}[T ]{_TIME}$") & value.is_not_null()
    return ok, value, pl.Datetime("us")


def _time(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    value = raw.str.to_time("%H:%M:%S%.f", strict=False, cache=False)
    ok = raw.str.contains(f"^{_TIME}$") & value.is_not_null()
    return ok, value, pl.Time()


def _uuid(spec: FieldSpec, c: dict[str, Any], raw: pl.Expr) -> _Built:
    return raw.str.contains(_UUID), raw, pl.String()


def _choices(values: list[Any], raw: pl.Expr, config: Mapping[str, Any]) -> _Built:
    if not values or not all(type(v) is str for v in values):
        raise Unsupported("choices that are not all plain strings")
    if any(config.get(k) for k in ("str_strip_whitespace", "str_to_lower", "str_to_upper")):
        raise Unsupported("string transforms in the model config")
    return raw.is_in(values), raw, pl.String()


def _enum_values(base: type[enum.Enum]) -> list[Any]:
    for klass in base.__mro__:
        if klass in (enum.Enum, enum.StrEnum, str, object):
            break
        if "_missing_" in vars(klass):
            raise Unsupported("enum with a _missing_ hook")
    return [member.value for member in base]


_BUILDERS: Final[dict[str, Callable[[FieldSpec, dict[str, Any], pl.Expr], _Built]]] = {
    "str": _str,
    "int": _int,
    "float": _float,
    "decimal": _decimal,
    "bool": _bool,
    "date": _date,
    "datetime": _datetime,
    "time": _time,
    "uuid": _uuid,
}


def compile_field(spec: FieldSpec, config: Mapping[str, Any], raw: pl.Expr) -> Compiled:
    """Compile ``spec`` over the column ``raw`` (its text, null for an empty cell).

    A cell holding "" (an empty cell a reader did not make null) is never accepted.
    """
    constraints = collect_constraints(spec, config)
    if constraints.get("strict") and spec.kind != "str":
        raise Unsupported("strict mode")
    if spec.kind == "enum":
        ok, value, dtype = _choices(_enum_values(spec.base), raw, config)
    elif spec.kind == "literal":
        ok, value, dtype = _choices(list(typing.get_args(spec.base)), raw, config)
    elif spec.kind in _BUILDERS:
        ok, value, dtype = _BUILDERS[spec.kind](spec, constraints, raw)
    else:
        raise Unsupported(f"type {getattr(spec.base, '__name__', repr(spec.base))}")
    constraints.pop("strict", None)
    if constraints and spec.kind not in ("enum", "literal"):
        raise Unsupported("constraint " + ", ".join(sorted(constraints)))
    if spec.kind in ("enum", "literal") and set(constraints) - {"strict"}:
        raise Unsupported("constraint on a choice field")
    # Null-safe without a when/then: a failed cast makes ``ok`` null, not true,
    # and a null (empty) cell is decided by nullability alone.
    ok = ok.fill_null(False)
    accept = (raw.is_null() | ok) if spec.nullable else (raw.is_not_null() & ok)
    name = raw.meta.output_name()
    if pl.DataFrame({name: [""]}, schema={name: pl.String}).select(accept).item():
        # An empty cell is None to Pydantic: never accept "" as text.
        accept = accept & (raw.str.len_bytes() != 0).fill_null(True)
    return Compiled(accept=accept, value=value, dtype=dtype)
