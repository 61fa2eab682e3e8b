"""Custom steps for the claims example (``python:`` steps in pipeline.yaml).

A python step takes and returns a LazyFrame (optionally also the run
context); its module's source is fingerprinted into the audit log, so a
changed step is visible in the evidence.
"""

from __future__ import annotations

import polars as pl

from pipeline.context import RunContext


def normalize(frame: pl.LazyFrame, ctx: RunContext) -> pl.LazyFrame:
    """Upper-case plan codes and mark claims serviced within 30 days of the run's as_of."""
    as_of = ctx.as_of.date()
    return frame.with_columns(
        pl.col("plan_code").str.to_uppercase(),
        ((pl.lit(as_of) - pl.col("service_date")).dt.total_days() <= 30).alias("recent"),
    )


# Column lineage of this step, for the lineage store and OpenLineage events.
normalize.column_lineage = {  # type: ignore[attr-defined]
    "plan_code": ["plan_code"],
    "recent": ["service_date"],
}
