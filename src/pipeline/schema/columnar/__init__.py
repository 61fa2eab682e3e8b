"""The columnar engine: a Pydantic model compiled to Polars expressions."""

from __future__ import annotations

from pipeline.schema.columnar.engine import ColumnarValidator, validate_columnar

__all__ = ["ColumnarValidator", "validate_columnar"]
