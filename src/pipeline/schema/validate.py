"""The public entry points: choose an engine and validate a frame, or a stream of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

import polars as pl
from pydantic import BaseModel

from pipeline.errors import ConfigError
from pipeline.schema.reference import validate_reference
from pipeline.schema.result import ValidationResult

if TYPE_CHECKING:
    from pipeline.schema.columnar import ColumnarValidator

__all__ = ["ENGINES", "Engine", "Validator", "validate"]

Engine = Literal["columnar", "reference"]
ENGINES: Final = ("columnar", "reference")


class Validator:
    """``model`` prepared once for validating many frames (the batches of a stream).

    ``Validator(Model).validate(frame)`` gives exactly what
    ``validate(frame, Model)`` gives; preparing the model (compiling its fields,
    building Pydantic's per-field validators) and Pydantic's verdicts on
    undecided values are reused across frames, so small batches stay cheap.
    """

    def __init__(self, model: type[BaseModel], *, engine: Engine = "columnar") -> None:
        if engine not in ENGINES:
            raise ConfigError(
                f"unknown validation engine {engine!r}",
                hint="use engine='columnar' (default) or engine='reference'",
                key="engine",
            )
        self.model = model
        self.engine: Engine = engine
        self._columnar: ColumnarValidator | None = None
        if engine == "columnar":
            from pipeline.schema.columnar import ColumnarValidator

            self._columnar = ColumnarValidator(model)

    def validate(self, frame: pl.DataFrame) -> ValidationResult:
        """Validate every row of the all-text ``frame`` (see :func:`validate`)."""
        if self._columnar is None:
            return validate_reference(frame, self.model)
        return self._columnar.validate(frame)


def validate(
    frame: pl.DataFrame, model: type[BaseModel], *, engine: Engine = "columnar"
) -> ValidationResult:
    """Validate every row of the all-text ``frame`` against ``model``.

    A row is accepted iff ``model.model_validate({column: cell or None, ...})``
    succeeds; accepted rows come back typed, in input order, rejected rows with
    their original text, ``_row_number`` and ``_errors``.
    """
    return Validator(model, engine=engine).validate(frame)
