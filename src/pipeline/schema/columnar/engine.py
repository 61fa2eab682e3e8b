"""Running a compiled model over a frame, Pydantic deciding whatever it cannot.

The pass over all rows is pure Polars: each field's acceptance and value
expressions (:mod:`.compiler`). Only rows some field left undecided go further:
their distinct undecided values are validated by Pydantic field by field
(:class:`pipeline.schema.fallback.FieldChecker`) and joined back. A row is
accepted iff every field accepted it, which is exactly when ``model_validate``
accepts it; models with row-level logic run on the reference engine instead.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import polars as pl
from pydantic import BaseModel

from pipeline.schema.codes import ErrorEntry
from pipeline.schema.columnar.assemble import combine
from pipeline.schema.columnar.compiler import Compiled, compile_field
from pipeline.schema.columnar.constraints import Unsupported
from pipeline.schema.fallback import Checked, FieldChecker, model_fallback_reason
from pipeline.schema.fields import FieldSpec, ModelPlan, plan_model
from pipeline.schema.quarantine import ERRORS, ROW_NUMBER, dump_errors, prepare_input
from pipeline.schema.reference import output_columns, validate_reference
from pipeline.schema.result import ValidationReport, ValidationResult
from pipeline.schema.values import to_series

__all__ = ["validate_columnar"]

_IDX = "__idx"


@dataclasses.dataclass
class _Field:
    """One field's state during a run."""

    index: int
    spec: FieldSpec
    checker: FieldChecker
    key: str | None
    compiled: Compiled | None = None
    reason: str | None = None
    absent: Checked | None = None
    results: list[Checked] = dataclasses.field(default_factory=list)

    @property
    def raw(self) -> str:
        return f"__raw{self.index}"

    @property
    def ok(self) -> str:
        return f"__ok{self.index}"

    @property
    def value(self) -> str:
        return f"__val{self.index}"

    @property
    def rid(self) -> str:
        return f"__rid{self.index}"

    @property
    def err(self) -> str:
        return f"__err{self.index}"


def _fragment(entries: list[ErrorEntry]) -> str | None:
    return dump_errors(entries)[1:-1] if entries else None


def _prepare_fields(plan: ModelPlan, columns: list[str]) -> list[_Field]:
    fields: list[_Field] = []
    config = plan.model.model_config
    for index, spec in enumerate(plan.fields):
        key = plan.column_for(spec, columns)
        state = _Field(index, spec, FieldChecker(plan.model, spec, key), key)
        if key is None:
            state.absent = state.checker.absent()
            state.reason = "column absent: Pydantic gives the default or 'missing'"
        elif state.checker.has_validators:
            state.reason = "field validator"
        else:
            try:
                state.compiled = compile_field(spec, config, pl.col(state.raw))
            except Unsupported as exc:
                state.reason = str(exc)
        fields.append(state)
    return fields


def _decide(slow: pl.DataFrame, state: _Field) -> pl.DataFrame:
    """Validate the distinct undecided values of one field with Pydantic; join back."""
    undecided = slow.filter(~pl.col(state.ok)).get_column(state.raw).unique(maintain_order=True)
    values = undecided.to_list()
    state.results = [state.checker.check(v) for v in values]
    mapping = pl.DataFrame(
        {
            state.raw: pl.Series(values, dtype=pl.String),
            state.rid: pl.Series(range(len(values)), dtype=pl.Int64),
            f"__rok{state.index}": [r[0] for r in state.results],
            state.err: pl.Series([_fragment(r[2]) for r in state.results], dtype=pl.String),
        }
    )
    joined = slow.join(mapping, on=state.raw, how="left", nulls_equal=True, maintain_order="left")
    return joined.with_columns(
        (pl.col(state.ok) | pl.col(f"__rok{state.index}").fill_null(False)).alias(state.ok)
    ).drop(f"__rok{state.index}")


def _column(state: _Field, valid: pl.DataFrame, rescued: pl.DataFrame) -> pl.Series:
    name = state.spec.name
    if state.key is None:
        assert state.absent is not None
        if state.spec.info.default_factory is not None:
            # A factory runs once per row in Pydantic; so it does here.
            values = [state.checker.absent()[1] for _ in range(valid.height)]
        else:
            values = [state.absent[1]] * valid.height
        return to_series(name, values, state.spec)
    fast_mask = valid.get_column(f"__fast{state.index}")
    py_values: list[Any] = []
    if state.rid in rescued.columns:
        # Rescued rows not accepted by the plan, in input order, as in ``valid``.
        rids = rescued.filter(~pl.col(f"__fast{state.index}")).get_column(state.rid).to_list()
        py_values = [state.results[r][1] for r in rids]
    if state.compiled is None:  # Pydantic decided every row of this field
        return to_series(name, py_values, state.spec)
    fast = valid.get_column(state.value).alias(name)
    decimal = state.compiled is not None and state.compiled.decimal_literal
    return combine(state.spec, fast, fast_mask, py_values, decimal_literal=decimal)


def _report_counts(
    fields: list[_Field], slow: pl.DataFrame, rejected_rows: int, extra_errors: list[ErrorEntry]
) -> dict[tuple[str | None, str], int]:
    counts: Counter[tuple[str | None, str]] = Counter()
    for state in fields:
        if state.absent is not None:
            for entry in state.absent[2]:
                counts[(entry["column"], entry["code"])] += rejected_rows
        elif state.rid in slow.columns:
            per_value = slow.filter(~pl.col(state.ok)).group_by(state.rid).len()
            for rid, n in per_value.iter_rows():
                for entry in state.results[rid][2]:
                    counts[(entry["column"], entry["code"])] += n
    for entry in extra_errors:
        counts[(entry["column"], entry["code"])] += rejected_rows
    return {k: n for k, n in counts.items() if n}


def validate_columnar(frame: pl.DataFrame, model: type[BaseModel]) -> ValidationResult:
    """Validate ``frame`` with the compiled plan, Pydantic deciding what it cannot."""
    plan = plan_model(model)
    reason = model_fallback_reason(plan)
    if reason is not None:
        result = validate_reference(frame, model, plan=plan)
        report = dataclasses.replace(
            result.report,
            engine="columnar",
            fallback_reasons={s.name: reason for s in plan.fields},
        )
        return dataclasses.replace(result, report=report)
    data, numbers = prepare_input(frame)
    columns = data.columns
    fields = _prepare_fields(plan, columns)
    extras = [c for c in columns if c not in plan.consumed_columns(columns)]
    extra_errors: list[ErrorEntry] = []
    if plan.extra == "forbid":
        extra_errors = [
            {"column": c, "code": "extra_column", "message": "Extra inputs are not permitted"}
            for c in extras
        ]
    # Row-independent verdicts: an absent required column or a forbidden extra.
    constant_ok = not extra_errors and all(f.absent is None or f.absent[0] for f in fields)
    present = [f for f in fields if f.key is not None]
    # An empty cell is None; readers give null already, so only columns that
    # really hold "" pay for the rewrite.
    has_empty = data.select((pl.col(c) == "").any() for c in columns).row(0) if columns else ()
    norm = data.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c)
        for c, empty in zip(columns, has_empty, strict=True)
        if empty
    )
    # One lazy query, so Polars shares the sub-expressions of acceptance and value.
    stage = (
        norm.lazy()
        .select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias(_IDX),
            *(pl.col(f.key).alias(f.raw) for f in present if f.key is not None),
        )
        .with_columns(
            *((f.compiled.accept if f.compiled else pl.lit(False)).alias(f.ok) for f in present),
            *(
                (f.compiled.value if f.compiled else pl.lit(None, dtype=pl.String)).alias(f.value)
                for f in present
            ),
        )
        .with_columns(
            pl.all_horizontal([pl.col(f.ok) for f in present] + [pl.lit(constant_ok)]).alias(
                "__all"
            ),
            *(pl.col(f.ok).alias(f"__fast{f.index}") for f in present),
        )
        .collect()
    )
    # Accepted rows need only the values; undecided rows also their text.
    value_columns = [_IDX, "__all", *(f"__fast{f.index}" for f in present),
                     *(f.value for f in present)]  # fmt: skip
    slow = stage.filter(~pl.col("__all"))
    for state in present:
        if slow.height and not slow.get_column(state.ok).all():
            slow = _decide(slow, state)
    slow = slow.with_columns(
        pl.all_horizontal([pl.col(f.ok) for f in present] + [pl.lit(constant_ok)]).alias("__all")
    )
    rescued = slow.filter(pl.col("__all"))
    # Rows Pydantic rescued rejoin the accepted rows in place: a filter keeps
    # input order without sorting wide frames.
    keep = pl.col("__all")
    if rescued.height:
        keep = keep | pl.col(_IDX).is_in(rescued.get_column(_IDX).implode())
    valid = stage.select(value_columns).filter(keep)
    rejected_stage = slow.filter(~pl.col("__all"))

    specs = {f.spec.name: f for f in fields}
    valid_idx = valid.get_column(_IDX)
    out: list[pl.Series] = []
    for name in output_columns(plan, columns):
        if name in specs:
            out.append(_column(specs[name], valid, rescued).alias(name))
        else:  # an extra column kept by extra='allow': Pydantic keeps the text
            out.append(norm.get_column(name).gather(valid_idx))
    valid_frame = pl.DataFrame(out, height=valid.height)

    fragments: list[pl.Expr] = []
    for state in fields:
        if state.absent is not None:
            fragments.append(pl.lit(_fragment(state.absent[2]), dtype=pl.String))
        elif state.err in rejected_stage.columns:
            fragments.append(pl.col(state.err))
    if extra_errors:
        fragments.append(pl.lit(_fragment(extra_errors), dtype=pl.String))
    errors_expr = (
        pl.concat_str(
            [pl.lit("["), pl.concat_str(fragments, separator=",", ignore_nulls=True), pl.lit("]")]
        )
        if fragments
        else pl.lit("[]")
    )
    reasons = rejected_stage.select(_IDX, errors_expr.alias(ERRORS))
    rejected_idx = reasons.get_column(_IDX)
    rejected = data.select(pl.all().gather(rejected_idx)).with_columns(
        numbers.gather(rejected_idx).alias(ROW_NUMBER), reasons.get_column(ERRORS)
    )
    report = ValidationReport(
        total=data.height,
        valid_count=valid_frame.height,
        rejected_count=rejected.height,
        error_counts=_report_counts(fields, slow, rejected.height, extra_errors),
        columnar_fields=tuple(f.spec.name for f in fields if f.compiled is not None),
        fallback_fields=tuple(f.spec.name for f in fields if f.compiled is None),
        engine="columnar",
        fallback_reasons={f.spec.name: f.reason for f in fields if f.reason is not None},
    )
    return ValidationResult(valid=valid_frame, rejected=rejected, report=report)
