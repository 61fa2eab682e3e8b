"""Batch execution: the whole dataset in memory, one stage after another.

read → validate → quality (input) → steps → quality (output) → stage writes.
Nothing becomes visible here; the runner commits the staged writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import polars as pl

from pipeline import quarantine as q
from pipeline.errors import InputError
from pipeline.execution.common import (
    Execution,
    Plan,
    Typing,
    fields_of,
    log_steps_started,
    run_steps,
    validate_frame,
)
from pipeline.execution.quality_stage import apply_quality, log_quality
from pipeline.io.base import ROW_NUMBER, ReadResult
from pipeline.steps import ColumnLineage

__all__ = ["run_batch"]


def read_source(plan: Plan, out: Execution) -> ReadResult:
    """Read the whole source as text, with audit entries around it."""
    source = plan.source
    plan.log("read", source.action, "started", details={"location": source.location})
    size = _size(source.location)
    with plan.progress.stage("read", size) as bar:
        if hasattr(source, "on_bytes"):
            source.on_bytes = bar.advance
        read = source.read(options=plan.source_options)
    out.input_hash = read.digest
    out.input_records = read.records
    out.input_bytes = read.size_bytes
    out.columns = list(read.columns)
    check_not_empty(plan, read.records)
    log_read_completed(plan, out, len(read.malformed))
    return read


def log_read_completed(plan: Plan, out: Execution, malformed: int) -> None:
    """The read stage's closing audit entry (counts, hash, size; never values)."""
    plan.log(
        "read",
        plan.source.action,
        "completed",
        record_count=out.input_records,
        input_hash=out.input_hash,
        details={
            "location": plan.source.location,
            "format": plan.source.format,
            "bytes": out.input_bytes,
            "columns": len(out.columns),
            "malformed_rows": malformed,
        },
    )


def log_validate_started(plan: Plan) -> None:
    """The validation's opening entry. Streaming validates while it reads, and logs it
    after the read's closing entry all the same, so every mode logs one sequence."""
    plan.log("validate", "validate_schema", "started", details={"engine": plan.engine})


def check_not_empty(plan: Plan, records: int) -> None:
    """A source with a header and nothing else is an error unless allowed."""
    if records == 0 and not plan.allow_empty:
        raise InputError(
            "the source holds no records (a header and nothing else)",
            dataset=plan.source.location,
            hint="check that the extract finished; pass --allow-empty if an empty "
            "delivery is expected",
        )


def run_batch(plan: Plan, out: Execution) -> Execution:
    """Run every stage on the whole dataset in memory, filling ``out`` as it goes."""
    read = read_source(plan, out)
    log_validate_started(plan)
    with plan.progress.stage("validate"):
        inferred = _infer(plan, read) if plan.model is None and read.typed_frame is None else None
        typed = inferred.frame if inferred is not None else read.typed_frame
        valid, rejected, report = validate_frame(read.frame, read.columns, plan.validator(), typed)
    out.validation = report
    out.input_fields = fields_of(valid)
    if inferred is not None:
        out.input_fields = inferred.typing.fields(out.input_fields, inferred.proven)
    rejected_parts = [rejected, q.from_malformed(read.malformed, read.columns)]
    plan.log(
        "validate",
        "validate_schema",
        "completed",
        record_count=valid.height,
        details={"engine": report.get("engine"), "rejected": rejected.height + len(read.malformed)},
    )

    frame = valid
    lineage = ColumnLineage.identity([c for c in valid.columns if c != ROW_NUMBER])
    if plan.quality is not None and plan.quality.stage == "input":
        frame = _quality(plan, frame, read, rejected_parts, out)
    # Counted before the steps run, as streaming counts them before its plan runs: a run
    # whose step fails reports the rows validation rejected in both modes (batch said 0).
    out.rejected_records = sum(part.height for part in rejected_parts)
    if plan.steps:
        log_steps_started(plan, "batch")
        with plan.progress.stage("transform"):
            frame, out.filtered = run_steps(frame, plan.steps, plan.ctx)
        for step in plan.steps:
            lineage = step.lineage(lineage)
        plan.log(
            "transform",
            "transform_steps",
            "completed",
            record_count=frame.height,
            details={"filtered_records": out.filtered},
        )
    if plan.quality is not None and plan.quality.stage == "output":
        frame = _quality(plan, frame, read, rejected_parts, out)
    out.lineage = lineage

    final = frame.drop(ROW_NUMBER) if ROW_NUMBER in frame.columns else frame
    rejected_all = q.combine(rejected_parts, read.columns)
    out.output_records = final.height
    out.rejected_records = rejected_all.height
    out.output_fields = fields_of(final)
    if inferred is not None:
        out.output_fields = inferred.typing.fields(out.output_fields, inferred.proven, lineage)
    out.validation["rejected_by_code"] = q.count_codes(rejected_all)
    plan.enter("write")
    with plan.progress.stage("write"):
        out.staged_quarantine = plan.quarantine.stage(rejected_all)
        try:
            out.staged_output = plan.sink.stage(final)
        except BaseException:
            out.staged_quarantine.abort()
            raise
    return out


class _Inferred(NamedTuple):
    frame: pl.DataFrame
    typing: Typing
    proven: pl.Schema


def _infer(plan: Plan, read: ReadResult) -> _Inferred:
    """The text typed by lossless inference (no schema), with the typing and proven types."""
    typing = Typing.of(plan, read.columns)
    inferrer = typing.inferrer(read.columns)
    inferrer.update(read.frame)
    typed = read.frame.select(inferrer.exprs(as_text=typing.as_text))
    return _Inferred(typed, typing, inferrer.schema())


def _quality(
    plan: Plan,
    frame: pl.DataFrame,
    read: ReadResult,
    rejected_parts: list[pl.DataFrame],
    out: Execution,
) -> pl.DataFrame:
    assert plan.quality is not None
    with plan.progress.stage("quality"):
        applied = apply_quality(frame.lazy(), plan.quality, plan.ctx, engine="in-memory")
        kept = applied.kept.collect(engine="in-memory")
    if applied.failures:
        rejected_parts.append(q.from_rule_failures(read.frame, applied.failures))
    out.quality = applied.evidence()
    out.quality_metrics = applied.metrics
    out.quality_failed = applied.failed_errors
    log_quality(plan, applied, out.quality)
    return kept


def _size(location: str) -> int | None:
    try:
        return Path(location).stat().st_size
    except OSError:
        return None
