"""Dataset quality rules: declare them (:mod:`.rules`), evaluate them in one pass (:mod:`.engine`).

Schema validation judges one row at a time; these rules judge the dataset —
uniqueness across rows, completeness ratios, row counts, freshness,
references into other datasets, SQL expressions and aggregates. Results hold
counts, ratios, rule ids and column names only; per-column min/max live in
``metrics`` and go to OpenLineage's ``dataQualityMetrics`` facet alone.

    rules = parse_rules([{"id": "member_present", "rule": "not_null", "column": "member_id"}])
    outcome = evaluate(frame, rules, as_of=as_of, references=resolver)
    outcome.failed_errors   # any -> the run exits 1
"""

from __future__ import annotations

from pipeline.quality.engine import Resolver, evaluate, evaluate_lazy, passes, read_reference
from pipeline.quality.metrics import ColumnMetrics
from pipeline.quality.parse import RULE_TYPES, QualitySection, Stage, parse_quality, parse_rules
from pipeline.quality.results import LazyQualityOutcome, QualityOutcome, RowMasks, RuleResult
from pipeline.quality.rules import (
    AcceptedValuesRule,
    AggregateRule,
    ExpressionRule,
    FreshnessRule,
    LengthRule,
    NotNullRule,
    PatternRule,
    QualityRule,
    RangeRule,
    ReferenceRule,
    RowCountRule,
    RowRule,
    RuleBase,
    SchemaRule,
    Severity,
    UniqueRule,
)

__all__ = [
    "RULE_TYPES",
    "AcceptedValuesRule",
    "AggregateRule",
    "ColumnMetrics",
    "ExpressionRule",
    "FreshnessRule",
    "LazyQualityOutcome",
    "LengthRule",
    "NotNullRule",
    "PatternRule",
    "QualityOutcome",
    "QualityRule",
    "QualitySection",
    "RangeRule",
    "ReferenceRule",
    "Resolver",
    "RowCountRule",
    "RowMasks",
    "RowRule",
    "RuleBase",
    "RuleResult",
    "SchemaRule",
    "Severity",
    "Stage",
    "UniqueRule",
    "evaluate",
    "evaluate_lazy",
    "parse_quality",
    "parse_rules",
    "passes",
    "read_reference",
]
