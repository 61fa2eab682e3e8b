"""Validating text frames against a user's Pydantic model, with Pydantic's own verdict.

``validate(frame, Model)`` splits a frame of text columns into typed accepted
rows and quarantined rows with stable reason codes (:mod:`pipeline.schema.codes`).
Two engines give the same verdict: ``"reference"`` (``model_validate`` row by
row) and ``"columnar"`` (the model compiled to Polars expressions, Pydantic
itself on whatever the compiled plan cannot decide).
"""

from __future__ import annotations

from pipeline.schema.codes import (
    CODES,
    CUSTOM,
    EXTRA_COLUMN,
    MALFORMED_ROW,
    MISSING,
    NOT_ALLOWED,
    OUT_OF_RANGE,
    PATTERN,
    TOO_LONG,
    TOO_SHORT,
    TYPE,
    ErrorEntry,
)
from pipeline.schema.model import load_model
from pipeline.schema.result import ValidationReport, ValidationResult
from pipeline.schema.validate import ENGINES, Engine, Validator, validate

__all__ = [
    "CODES",
    "CUSTOM",
    "ENGINES",
    "EXTRA_COLUMN",
    "MALFORMED_ROW",
    "MISSING",
    "NOT_ALLOWED",
    "OUT_OF_RANGE",
    "PATTERN",
    "TOO_LONG",
    "TOO_SHORT",
    "TYPE",
    "Engine",
    "ErrorEntry",
    "ValidationReport",
    "ValidationResult",
    "Validator",
    "load_model",
    "validate",
]
