"""What a validation returns: the accepted frame, the quarantine frame and the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = ["ValidationReport", "ValidationResult"]


@dataclass(frozen=True)
class ValidationReport:
    """Counts of a validation, safe for audit entries (no cell values).

    ``error_counts`` maps ``(column, code)`` to the number of errors; ``column``
    is ``None`` for errors about the whole row. ``fallback_reasons`` says, per
    fallback field, why Pydantic validated it instead of the compiled plan.
    """

    total: int
    valid_count: int
    rejected_count: int
    error_counts: Mapping[tuple[str | None, str], int]
    columnar_fields: tuple[str, ...]
    fallback_fields: tuple[str, ...]
    engine: str
    fallback_reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> Mapping[tuple[str | None, str], int]:
        """Alias of ``error_counts``: errors per (column, code)."""
        return self.error_counts

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data with a deterministic order."""
        errors = [
            {"column": column, "code": code, "count": count}
            for (column, code), count in sorted(
                self.error_counts.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
            )
        ]
        return {
            "engine": self.engine,
            "total": self.total,
            "valid_count": self.valid_count,
            "rejected_count": self.rejected_count,
            "errors": errors,
            "columnar_fields": list(self.columnar_fields),
            "fallback_fields": list(self.fallback_fields),
            "fallback_reasons": dict(sorted(self.fallback_reasons.items())),
        }


@dataclass(frozen=True)
class ValidationResult:
    """Accepted rows (typed, input order), rejected rows (original text) and the report."""

    valid: pl.DataFrame
    rejected: pl.DataFrame
    report: ValidationReport
