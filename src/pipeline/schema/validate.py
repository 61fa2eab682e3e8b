"""The public entry point: choose an engine and validate a frame."""

from __future__ import annotations

from typing import Final, Literal

import polars as pl
from pydantic import BaseModel

from pipeline.errors import ConfigError
from pipeline.schema.reference import validate_reference
from pipeline.schema.result import ValidationResult

__all__ = ["ENGINES", "Engine", "validate"]

Engine = Literal["columnar", "reference"]
ENGINES: Final = ("columnar", "reference")


def validate(
    frame: pl.DataFrame, model: type[BaseModel], *, engine: Engine = "columnar"
) -> ValidationResult:
    """Validate every row of the all-text ``frame`` against ``model``.

    A row is accepted iff ``model.model_validate({column: cell or None, ...})``
    succeeds; accepted rows come back typed, in input order, rejected rows with
    their original text, ``_row_number`` and ``_errors``.
    """
    if engine == "reference":
        return validate_reference(frame, model)
    if engine == "columnar":
        from pipeline.schema.columnar import validate_columnar

        return validate_columnar(frame, model)
    raise ConfigError(
        f"unknown validation engine {engine!r}",
        hint="use engine='columnar' (default) or engine='reference'",
        key="engine",
    )
