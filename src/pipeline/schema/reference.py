"""The reference engine: ``Model.model_validate`` on every row, one at a time.

This is ARCHITECTURE.md's verdict rule written out literally; the columnar
engine is tested against it. A row is the dict ``{column: None if cell is
empty else cell}`` over every data column of the frame.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ValidationError

from pipeline.schema.codes import ErrorEntry, error_entries
from pipeline.schema.fields import ModelPlan, plan_model
from pipeline.schema.quarantine import (
    count_errors,
    dump_errors,
    prepare_input,
    rejected_frame,
)
from pipeline.schema.result import ValidationReport, ValidationResult
from pipeline.schema.values import to_series

__all__ = ["output_columns", "validate_reference"]


def output_columns(plan: ModelPlan, columns: list[str]) -> list[str]:
    """Return the accepted frame's columns: fields, extras kept by ``allow``, computed."""
    extras: list[str] = []
    if plan.extra == "allow":
        used = plan.consumed_columns(columns)
        extras = [c for c in columns if c not in used and c not in plan.output_fields]
    return [*plan.output_fields, *extras, *plan.computed_fields]


def valid_frame(plan: ModelPlan, columns: list[str], dumps: list[dict[str, Any]]) -> pl.DataFrame:
    """Build the typed accepted frame from ``model_dump()`` results."""
    specs = {s.name: s for s in plan.fields}
    series = [
        to_series(name, [d.get(name) for d in dumps], specs.get(name))
        for name in output_columns(plan, columns)
    ]
    return pl.DataFrame(series, height=len(dumps))


def validate_reference(
    frame: pl.DataFrame, model: type[BaseModel], *, plan: ModelPlan | None = None
) -> ValidationResult:
    """Validate ``frame`` row by row with Pydantic (the reference implementation)."""
    plan = plan or plan_model(model)
    data, numbers = prepare_input(frame)
    columns = data.columns
    dumps: list[dict[str, Any]] = []
    accepted: list[bool] = []
    rejected_errors: list[list[ErrorEntry]] = []
    for cells in data.iter_rows():
        row = {c: (None if v == "" else v) for c, v in zip(columns, cells, strict=True)}
        try:
            instance = model.model_validate(row)
        except ValidationError as exc:
            accepted.append(False)
            rejected_errors.append(
                error_entries(exc.errors(include_url=False, include_input=False), row)
            )
            continue
        accepted.append(True)
        dumps.append(instance.model_dump(by_alias=False))  # keyed by field name
    mask = pl.Series(accepted, dtype=pl.Boolean)
    rejected = rejected_frame(
        data, numbers, ~mask, pl.Series([dump_errors(e) for e in rejected_errors], dtype=pl.String)
    )
    report = ValidationReport(
        total=data.height,
        valid_count=len(dumps),
        rejected_count=len(rejected_errors),
        error_counts=count_errors(rejected_errors),
        columnar_fields=(),
        fallback_fields=tuple(s.name for s in plan.fields),
        engine="reference",
        fallback_reasons={s.name: "reference engine" for s in plan.fields},
    )
    return ValidationResult(
        valid=valid_frame(plan, columns, dumps), rejected=rejected, report=report
    )
