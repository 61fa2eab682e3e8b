"""What a quality evaluation returns: per-rule results, row masks and metrics.

Everything here except :class:`~pipeline.quality.metrics.ColumnMetrics` is
evidence-safe: counts, ratios, rule ids and column names, never a cell value.
``to_dict()`` is the ``quality`` value of the run result JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipeline.quality.metrics import ColumnMetrics, metrics_facet
from pipeline.quality.rules import Severity

__all__ = ["LazyQualityOutcome", "QualityOutcome", "RowMasks", "RuleResult"]

Detail = int | bool | str | list[str]


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The verdict of one rule on one dataset.

    ``ratio`` is the share of evaluated rows that pass (1.0 when no row was
    evaluated) for row-level rules, and ``None`` for dataset-level rules
    (``row_count``, ``freshness``, ``aggregate``, ``schema``), whose
    ``failed_rows`` is 0: they judge the dataset, not rows.
    """

    id: str
    rule: str
    severity: Severity
    passed: bool
    failed_rows: int
    evaluated_rows: int
    ratio: float | None
    mostly: float | None = None
    columns: tuple[str, ...] = ()
    quarantine: bool = False
    details: dict[str, Detail] = field(default_factory=dict)
    """Counts and names only (e.g. ``missing_columns``), never values."""

    @property
    def column(self) -> str | None:
        """The single column the rule checks, if it checks exactly one."""
        return self.columns[0] if len(self.columns) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        """The run-result form: ``{id, rule, severity, failed_rows, ratio, passed}``."""
        return {
            "id": self.id,
            "rule": self.rule,
            "severity": self.severity,
            "failed_rows": self.failed_rows,
            "ratio": self.ratio,
            "passed": self.passed,
        }

    def to_evidence(self) -> dict[str, Any]:
        """The fuller form for audit details and lineage (adds columns, mostly, counts)."""
        out = self.to_dict()
        out["evaluated_rows"] = self.evaluated_rows
        if self.columns:
            out["columns"] = list(self.columns)
        if self.column is not None:
            out["column"] = self.column
        if self.mostly is not None:
            out["mostly"] = self.mostly
        if self.quarantine:
            out["quarantine"] = True
        if self.details:
            out["details"] = dict(self.details)
        return out


@dataclass(frozen=True)
class RowMasks:
    """Row-level verdicts as Polars expressions, for a plan the caller runs (streaming mode).

    ``quarantine`` is true for rows failing any rule with ``quarantine: true``;
    ``codes`` is the list of those rules' ids per row (empty when kept);
    ``failing[rule_id]`` is true where a row fails that row-level rule.
    ``unique`` masks look at the whole column (a window), so a streaming
    engine evaluates them over the whole input.
    """

    quarantine: pl.Expr
    codes: pl.Expr
    failing: dict[str, pl.Expr]
    columns: dict[str, tuple[str, ...]]
    """Rule id -> the columns it checks, to fill ``_errors`` entries."""

    def split(self, frame: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
        """Return (kept rows, quarantined rows with a ``_quality_codes`` list column)."""
        marked = frame.with_columns(
            self.quarantine.alias("_quality_quarantine"), self.codes.alias("_quality_codes")
        )
        kept = marked.filter(~pl.col("_quality_quarantine")).drop(
            "_quality_quarantine", "_quality_codes"
        )
        dropped = marked.filter(pl.col("_quality_quarantine")).drop("_quality_quarantine")
        return kept, dropped


@dataclass(frozen=True)
class LazyQualityOutcome:
    """Results and metrics from one collect, plus row masks as expressions."""

    results: list[RuleResult]
    metrics: dict[str, ColumnMetrics]
    row_count: int
    masks: RowMasks

    @property
    def passed(self) -> bool:
        """True when no error-severity rule failed (warnings do not fail a run)."""
        return not self.failed_errors

    @property
    def failed_errors(self) -> list[RuleResult]:
        """The failed error-severity rules; any of them makes a run exit 1."""
        return [r for r in self.results if r.severity == "error" and not r.passed]

    @property
    def failed_warnings(self) -> list[RuleResult]:
        """The failed warn-severity rules (reported, not fatal)."""
        return [r for r in self.results if r.severity == "warn" and not r.passed]

    def to_dict(self) -> list[dict[str, Any]]:
        """The run result's ``quality``: ``{id, rule, severity, failed_rows, ratio, passed}``."""
        return [r.to_dict() for r in self.results]

    def to_evidence(self) -> list[dict[str, Any]]:
        """Per-rule results with columns and counts, for audit details and lineage."""
        return [r.to_evidence() for r in self.results]

    def metrics_facet(self) -> dict[str, Any]:
        """OpenLineage ``dataQualityMetrics`` fields; the only place min/max (values) go."""
        return metrics_facet(self.metrics, self.row_count)


@dataclass(frozen=True)
class QualityOutcome(LazyQualityOutcome):
    """A batch evaluation: the lazy outcome plus materialized quarantine masks.

    ``quarantine`` is a boolean Series aligned with the evaluated frame;
    ``quarantine_codes`` holds, for each quarantined row in frame order (that
    is, aligned with ``frame.filter(quarantine)``), the ids of the
    quarantining rules it fails.
    """

    quarantine: pl.Series = field(default_factory=lambda: pl.Series("quarantine", [], pl.Boolean))
    quarantine_codes: pl.Series = field(
        default_factory=lambda: pl.Series("codes", [], pl.List(pl.String))
    )

    @property
    def quarantined_rows(self) -> int:
        """How many rows fail at least one quarantining rule."""
        return int(self.quarantine.sum())

    def quarantine_errors(self) -> list[list[dict[str, str | None]]]:
        """Per quarantined row the ``_errors`` entries ``{column, code, message}`` (no values)."""
        results = {r.id: r for r in self.results}
        out: list[list[dict[str, str | None]]] = []
        for codes in self.quarantine_codes.to_list():
            entries: list[dict[str, str | None]] = []
            for code in codes:
                result = results[code]
                entries.append(
                    {
                        "column": ",".join(result.columns) or None,
                        "code": code,
                        "message": f"failed the {result.rule} quality rule {code!r}",
                    }
                )
            out.append(entries)
        return out
