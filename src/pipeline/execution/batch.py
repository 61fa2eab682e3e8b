"""Batch execution: the whole dataset in memory, one stage after another.

read → validate → quality (input) → steps → quality (output) → stage writes.
Nothing becomes visible here; the runner commits the staged writes.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline import quarantine as q
from pipeline.errors import InputError
from pipeline.execution.common import (
    Execution,
    Plan,
    fields_of,
    log_steps_started,
    run_steps,
    validate_frame,
)
from pipeline.execution.quality_stage import apply_quality, log_quality
from pipeline.infer import TypeInferrer
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
    plan.log("validate", "validate_schema", "started", details={"engine": plan.engine})
    with plan.progress.stage("validate"):
        proven = _text_copy_fields(plan, read)
        # A plain text copy is its own "typed" frame: it is written as read.
        typed = read.frame.select(read.columns) if proven is not None else read.typed_frame
        valid, rejected, report = validate_frame(read.frame, read.columns, plan.validator(), typed)
    out.validation = report
    out.input_fields = proven if proven is not None else fields_of(valid)
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
    out.output_fields = proven if proven is not None else fields_of(final)
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


def _text_copy_fields(plan: Plan, read: ReadResult) -> list[tuple[str, str]] | None:
    """The proven column types of a plain copy to CSV, or None for any other run.

    A no-schema copy of text to CSV with no steps or rules (the quickstart job)
    writes the text as read. Inference types a column only when every value
    prints back as its text (:mod:`pipeline.infer`), so the typed frame and the
    text write the same CSV bytes (a property test in tests/unit/io/test_infer.py
    holds it to that). Converting only to print the values back cost 0.25-0.6 s
    per 10M claims rows; the proof still runs, as it names each column's type in
    the result and lineage, exactly as for the typed copy.
    """
    if (
        plan.model is not None
        or plan.steps
        or plan.quality is not None
        or read.typed_frame is not None
        or not plan.sink.writes_csv_text
    ):
        return None
    inferrer = TypeInferrer(read.columns)
    inferrer.update(read.frame)
    return [(name, str(dtype)) for name, dtype in inferrer.schema().items()]


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
