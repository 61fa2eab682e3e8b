"""Applying dataset quality rules inside a run, in batch and streaming alike.

Rules are evaluated in one pass (:func:`pipeline.quality.evaluate_lazy`);
rows failing rules marked ``quarantine: true`` leave the data for the
quarantine, with the rule ids as their codes, so conservation holds.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import polars as pl

from pipeline.context import RunContext
from pipeline.execution.common import Plan, QualityStage
from pipeline.io.base import ROW_NUMBER

__all__ = ["QualityApplied", "apply_quality", "log_quality"]


class QualityApplied:
    """Kept rows (lazy), quarantined row numbers with their entries, and rule results."""

    def __init__(
        self,
        kept: pl.LazyFrame,
        failures: dict[int, list[dict[str, str | None]]],
        results: list[Any],
        metrics: dict[str, Any] | None = None,
    ) -> None:
        self.kept = kept
        self.failures = failures
        self.results = results
        self.metrics = metrics

    @property
    def failed_errors(self) -> list[str]:
        """Ids of failed error-severity rules."""
        return [r.id for r in self.results if not r.passed and r.severity == "error"]

    def evidence(self) -> list[dict[str, Any]]:
        """Rule results for the audit log and lineage (counts and names only)."""
        return [r.to_evidence() for r in self.results]


def apply_quality(
    frame: pl.LazyFrame,
    quality: QualityStage,
    ctx: RunContext,
    *,
    engine: Literal["in-memory", "streaming"],
) -> QualityApplied:
    """Evaluate the rules over ``frame`` and split off rows to quarantine."""
    from pipeline.quality import evaluate_lazy

    outcome = evaluate_lazy(
        frame, quality.rules, as_of=ctx.as_of, references=quality.references, engine=engine
    )
    kept, dropped = outcome.masks.split(frame)
    failures: dict[int, list[dict[str, str | None]]] = {}
    if any(getattr(rule, "quarantine", False) for rule in quality.rules):
        rows = dropped.select(ROW_NUMBER, "_quality_codes").collect(engine=engine)
        by_id = {r.id: r for r in outcome.results}
        for number, codes in rows.iter_rows():
            entries: list[dict[str, str | None]] = []
            for code in codes or []:
                result = by_id.get(code)
                columns = outcome.masks.columns.get(code, ())
                entries.append(
                    {
                        "column": columns[0] if len(columns) == 1 else None,
                        "code": code,
                        "message": f"fails quality rule {code!r}"
                        + (f" ({result.rule})" if result is not None else ""),
                    }
                )
            failures[int(number)] = entries
    return QualityApplied(kept, failures, outcome.results, _count_metrics(outcome))


def _count_metrics(outcome: Any) -> dict[str, Any]:
    """The dataQualityMetrics facet without min/max: those are cell values (invariant 5)."""
    from pipeline.quality.metrics import metrics_facet

    facet = metrics_facet(outcome.metrics, outcome.row_count)
    for column in facet["columnMetrics"].values():
        column.pop("min", None)
        column.pop("max", None)
    return facet


def log_quality(plan: Plan, applied: QualityApplied, evidence: list[dict[str, Any]]) -> None:
    """One audit entry per quality stage: rule ids, pass/fail and counts, never values."""
    assert plan.quality is not None
    plan.log(
        "quality",
        "quality_check",
        "completed",
        details={
            "stage": plan.quality.stage,
            "quarantined": len(applied.failures),
            "failed_error_rules": applied.failed_errors,
            "rules": [
                {"id": r["id"], "passed": r["passed"], "failed_rows": r["failed_rows"]}
                for r in evidence
            ],
        },
    )


def failures_json(entries: list[dict[str, str | None]]) -> str:
    """The ``_errors`` text of one quarantined row."""
    return json.dumps(entries)
