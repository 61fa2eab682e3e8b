"""Turning step models into runnable steps with one signature.

A :class:`Step` maps a LazyFrame to a LazyFrame given the :class:`RunContext`;
nothing in it reads the clock or a random source. Every step keeps the hidden
``_row_number`` column so rows stay traceable to the source line, and states
whether it may remove rows (then the runner counts them under its name).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import polars.selectors as cs

from pipeline.context import RunContext
from pipeline.errors import ConfigError, SpecError
from pipeline.io.base import ROW_NUMBER
from pipeline.steps.lineage import ColumnLineage
from pipeline.steps.models import (
    CastStep,
    DedupeStep,
    DeriveStep,
    FillNullStep,
    FilterStep,
    PythonStep,
    RenameStep,
    SelectStep,
    SortStep,
    StepModel,
)
from pipeline.steps.sql import columns_read, parse_sql

__all__ = ["Step", "compile_steps", "parse_dtype"]

Apply = Callable[[pl.LazyFrame, RunContext], pl.LazyFrame]


@dataclass(frozen=True, slots=True)
class Step:
    """One runnable step."""

    name: str
    kind: str
    apply: Apply
    removes_rows: bool
    lineage: Callable[[ColumnLineage], ColumnLineage]
    fingerprint: str | None = None
    """SHA-256 of a python step's module source; None for built-in steps."""
    reference: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    function: Callable[..., Any] | None = None
    """A python step's function (for the OpenLineage sourceCode facet)."""


def parse_dtype(text: str) -> pl.DataType:
    """``Int64`` → ``pl.Int64``, ``Decimal(12,2)`` → ``pl.Decimal(12, 2)``; Datetime is UTC µs."""
    base, _, rest = text.strip().partition("(")  # checked by CastStep's validator
    base = base.strip()
    if base == "Decimal":
        numbers = [int(p) for p in rest.rstrip(") ").split(",") if p.strip()] if rest else []
        precision = numbers[0] if numbers else 38
        scale = numbers[1] if len(numbers) > 1 else 0
        return pl.Decimal(precision, scale)
    if base == "Datetime":
        return pl.Datetime("us", "UTC")
    dtype = getattr(pl, base)
    return dtype() if isinstance(dtype, type) else dtype  # type: ignore[no-any-return]


def compile_steps(models: list[StepModel], *, base_dir: Path | None = None) -> list[Step]:
    """Compile every step; SQL and python references are checked now, not mid-run."""
    steps: list[Step] = []
    names: set[str] = set()
    for index, model in enumerate(models, start=1):
        name = model.name or f"{model.kind}_{index}"
        if name in names:
            raise SpecError(
                f"two steps are named {name!r}", step=name, hint="give each step a unique name"
            )
        names.add(name)
        steps.append(_compile(model, name, base_dir))
    return steps


def _compile(model: StepModel, name: str, base_dir: Path | None) -> Step:
    if isinstance(model, FilterStep):
        return _filter(model, name)
    if isinstance(model, DeriveStep):
        return _derive(model, name)
    if isinstance(model, RenameStep):
        return _rename(model, name)
    if isinstance(model, SelectStep):
        return _select(model, name)
    if isinstance(model, CastStep):
        return _cast(model, name)
    if isinstance(model, FillNullStep):
        return _fill_null(model, name)
    if isinstance(model, DedupeStep):
        return _dedupe(model, name)
    if isinstance(model, SortStep):
        return _sort(model, name)
    return _python(model, name, base_dir)


def _filter(model: FilterStep, name: str) -> Step:
    expr = parse_sql(model.filter, step=name)
    read = columns_read(expr)
    return Step(
        name,
        "filter",
        lambda lf, _ctx: lf.filter(expr),
        True,
        lambda lin: lin.filtered_by(read, "FILTER"),
    )


def _derive(model: DeriveStep, name: str) -> Step:
    parsed: list[tuple[str, pl.Expr, list[str]]] = []
    for column, text in model.derive.items():
        _check_target(column, name)
        expr = parse_sql(text, step=name)
        parsed.append((column, expr, columns_read(expr)))

    def apply(lf: pl.LazyFrame, _ctx: RunContext) -> pl.LazyFrame:
        # One column at a time so a later derivation may read an earlier one.
        for column, expr, _read in parsed:
            lf = lf.with_columns(expr.alias(column))
        return lf

    def lineage(lin: ColumnLineage) -> ColumnLineage:
        for column, _expr, read in parsed:
            lin = lin.derive(column, read, "TRANSFORMATION")
        return lin

    return Step(name, "derive", apply, False, lineage)


def _rename(model: RenameStep, name: str) -> Step:
    for old, new in model.rename.items():
        _check_target(new, name)
        _check_target(old, name)
    mapping = dict(model.rename)
    return Step(
        name,
        "rename",
        lambda lf, _ctx: lf.rename(mapping),
        False,
        lambda lin: lin.rename(mapping),
    )


def _select(model: SelectStep, name: str) -> Step:
    columns = list(model.select)
    for column in columns:
        _check_target(column, name)
    return Step(
        name,
        "select",
        # The row numbers, where the plan carries them (a streaming CSV plan with no
        # rules or python step does not: numbering rows costs its scan a third).
        lambda lf, _ctx: lf.select(cs.by_name(ROW_NUMBER, require_all=False), *columns),
        False,
        lambda lin: lin.select(columns),
    )


def _cast(model: CastStep, name: str) -> Step:
    targets = {column: parse_dtype(dtype) for column, dtype in model.cast.items()}

    def apply(lf: pl.LazyFrame, _ctx: RunContext) -> pl.LazyFrame:
        # strict=True: a value that does not convert stops the run instead of becoming null.
        return lf.with_columns(pl.col(c).cast(t, strict=True) for c, t in targets.items())

    def lineage(lin: ColumnLineage) -> ColumnLineage:
        for column in targets:
            lin = lin.derive(column, [column], "TRANSFORMATION")
        return lin

    return Step(name, "cast", apply, False, lineage)


def _fill_null(model: FillNullStep, name: str) -> Step:
    values = dict(model.fill_null)

    def apply(lf: pl.LazyFrame, _ctx: RunContext) -> pl.LazyFrame:
        schema = lf.collect_schema()
        return lf.with_columns(
            pl.col(c).fill_null(_fill_value(name, c, schema[c], v) if c in schema else pl.lit(v))
            for c, v in values.items()
        )

    return Step(
        name, "fill_null", apply, False, lambda lin: lin.touch(list(values), "TRANSFORMATION")
    )


def _fill_value(step: str, column: str, dtype: pl.DataType, value: object) -> pl.Expr:
    """``value`` as a literal of the column's own type, or a :class:`SpecError`.

    ``fill_null(pl.lit(v))`` let Polars pick a common type: filling a Boolean column
    with 0 made it an integer column (true became 1), an Int64 one with 1.5 made it
    Float64 (found by review). A fill never changes a column's type.
    """
    fits = (
        (dtype == pl.Boolean and isinstance(value, bool))
        or (dtype.is_integer() and isinstance(value, int) and not isinstance(value, bool))
        or (
            (dtype.is_float() or dtype.is_decimal())
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        )
        or ((dtype == pl.String or dtype.is_temporal()) and isinstance(value, str))
    )
    literal = pl.lit(value).cast(dtype, strict=True)
    if fits:
        try:
            pl.select(literal).item()
        except pl.exceptions.PolarsError:
            fits = False  # out of range for the type, or text that is no date
    if not fits:
        raise SpecError(
            f"fill_null gives column {column!r} ({dtype}) the value {value!r}, which is not "
            "of that type",
            step=step,
            column=column,
            hint="give a value of the column's type, or cast the column in an earlier step",
        )
    return literal


def _dedupe(model: DedupeStep, name: str) -> Step:
    keys = list(model.dedupe.keys)
    keep = model.dedupe.keep
    return Step(
        name,
        "dedupe",
        lambda lf, _ctx: lf.unique(subset=keys, keep=keep, maintain_order=True),
        True,
        lambda lin: lin.filtered_by(keys, "GROUP_BY"),
        details={"keys": keys, "keep": keep},
    )


def _sort(model: SortStep, name: str) -> Step:
    spec = model.sort
    return Step(
        name,
        "sort",
        lambda lf, _ctx: lf.sort(
            spec.by, descending=spec.descending, nulls_last=spec.nulls_last, maintain_order=True
        ),
        False,
        lambda lin: lin.filtered_by(spec.by, "SORT"),
    )


def _python(model: PythonStep, name: str, base_dir: Path | None) -> Step:
    func, fingerprint = load_python_step(model.python, step=name, base_dir=base_dir)
    takes_ctx = len(inspect.signature(func).parameters) >= 2

    def apply(lf: pl.LazyFrame, ctx: RunContext) -> pl.LazyFrame:
        out = func(lf, ctx) if takes_ctx else func(lf)
        if not isinstance(out, pl.LazyFrame):
            raise SpecError(
                f"the python step returned {type(out).__name__}, not a LazyFrame",
                step=name,
                hint="return a polars.LazyFrame (call .lazy() on a DataFrame)",
            )
        return out

    declared = getattr(func, "column_lineage", None)

    def lineage(lin: ColumnLineage) -> ColumnLineage:
        return lin.opaque(name, declared if isinstance(declared, dict) else None)

    return Step(name, "python", apply, True, lineage, fingerprint, model.python, function=func)


def load_python_step(
    reference: str, *, step: str, base_dir: Path | None
) -> tuple[Callable[..., Any], str]:
    """Import ``module:function`` and fingerprint its module's source with SHA-256."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise SpecError(
            f"{reference!r} is not of the form module:function",
            step=step,
            hint="write it like examples.claims.steps:normalise",
        )
    for folder in (Path.cwd(), base_dir):
        if folder is not None and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import module {module_name!r} ({exc.msg})",
            step=step,
            hint="run from the folder that holds the module, or install it",
        ) from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise ConfigError(f"{module_name!r} has no function {attr!r}", step=step)
    source_file = inspect.getsourcefile(module)
    if source_file is None:
        raise ConfigError(
            f"the source of {module_name!r} cannot be found to fingerprint it", step=step
        )
    fingerprint = hashlib.sha256(Path(source_file).read_bytes()).hexdigest()
    return func, fingerprint


def _check_target(column: str, step: str) -> None:
    if column == ROW_NUMBER or column.startswith("_row_number"):
        raise SpecError(
            f"{column!r} is reserved for tracing rows to the source",
            step=step,
            hint="choose another column name",
        )
