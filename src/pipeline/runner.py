"""One run: read → validate → write, with accounting, audit and lineage.

The runner owns the order of stages and the record accounting (invariant 1);
connectors, the schema engine, the audit log and the lineage tracker do the
work. Every stage writes a ``started``/``completed`` pair to the audit log; a
:class:`~pipeline.errors.PipelineError` anywhere ends the run with a
``failed`` entry naming the error kind, and nothing half-written becomes
visible because all outputs are staged before any is committed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from pipeline.audit.log import AuditLogger
from pipeline.context import RunContext, format_timestamp, utc_now
from pipeline.errors import AuditError, InputError, InternalError, PipelineError, RejectionThresholdError
from pipeline.infer import infer_types
from pipeline.io import ROW_NUMBER, MalformedRow, ReadResult, StagedWrite, open_sink, open_source
from pipeline.io.registry import redact
from pipeline.lineage import LineageTracker
from pipeline.progress import ProgressReporter
from pipeline.result import PipelineResult
from pipeline.schema import load_model, validate
from pipeline.spec import PipelineConfig

__all__ = ["QUARANTINE_ERRORS", "QUARANTINE_RAW", "RunOutcome", "execute", "run_pipeline"]

QUARANTINE_ERRORS = "_errors"
QUARANTINE_RAW = "_raw"


@dataclass(slots=True)
class _Counts:
    input_records: int = 0
    output_records: int = 0
    rejected_records: int = 0
    filtered: dict[str, int] = field(default_factory=dict)

    def conserved(self) -> bool:
        return self.input_records == (
            self.output_records + self.rejected_records + sum(self.filtered.values())
        )


def run_pipeline(config: PipelineConfig) -> PipelineResult:
    """Run one pipeline and return its result; failures are in the result, not raised.

    A run that fails still returns a :class:`PipelineResult` with
    ``success=False`` and the error in ``errors``; only an audit log that
    cannot be opened at all raises (there is nowhere to record the failure).
    """
    return _Run(config).execute()


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A result together with the error that ended the run (for the CLI's --debug)."""

    result: PipelineResult
    error: PipelineError | None


def execute(config: PipelineConfig) -> RunOutcome:
    """Run like :func:`run_pipeline` and also return the error object, if any."""
    run = _Run(config)
    result = run.execute()
    return RunOutcome(result, run.error)


class _Run:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.started = time.perf_counter()
        self.ctx = RunContext(
            pipeline_id=config.resolved_pipeline_id,
            as_of=config.as_of or utc_now(),
            actor=config.actor,
            reason=config.reason,
        )
        _ensure_parent(config.audit_path)
        self.audit = AuditLogger(
            config.audit_path, actor=config.actor, signing_key=config.signing_key
        )
        self.counts = _Counts()
        self.input_hash: str | None = None
        self.output_hash: str | None = None
        self.quarantine_hash: str | None = None
        self.validation: dict[str, Any] | None = None
        self.lineage_id: str | None = None
        self.progress = ProgressReporter(config.progress)
        self.stage_action: str | None = None
        self.error: PipelineError | None = None

    # -- audit helpers -------------------------------------------------------------------------
    def _log(self, stage: str, action: str, status: str, **kwargs: Any) -> None:
        self.audit.log(
            self.ctx.pipeline_id,
            stage,
            action,
            status,
            run_id=self.ctx.run_id,
            reason=self.ctx.reason,
            **kwargs,
        )

    # -- the run -------------------------------------------------------------------------------
    def execute(self) -> PipelineResult:
        config = self.config
        self._log(
            "pipeline",
            "run_pipeline",
            "started",
            details={
                "input": redact(str(config.input_path)),
                "output": redact(str(config.output_path)),
                "schema": _schema_name(config.schema_ref),
                "as_of": format_timestamp(self.ctx.as_of),
                "engine": config.engine,
            },
        )
        stage = "pipeline"
        try:
            # Open every connector first: a bad output path fails before any reading.
            self.source = open_source(config.input_path, config.input_format)
            self.sink = open_sink(config.output_path, config.output_format)
            self.quarantine = open_sink(config.resolved_quarantine, "csv")
            stage = "read"
            with self.progress:
                read = self._read()
                stage = "validate"
                valid, rejected = self._validate(read)
                stage = "write"
                self._write(valid, rejected)
            stage = "lineage"
            self._record_lineage()
        except PipelineError as error:
            return self._fail(stage, error)
        except Exception as exc:
            # Library exception texts can quote cell values: only the type enters evidence.
            internal = InternalError(f"unexpected {type(exc).__name__} in the {stage} stage")
            internal.__cause__ = exc
            return self._fail(stage, internal)
        self._log(
            "pipeline",
            "run_pipeline",
            "completed",
            record_count=self.counts.output_records,
            input_hash=self.input_hash,
            output_hash=self.output_hash,
            details=self._count_details(),
        )
        return self._result(success=True, errors=[])

    def _read(self) -> ReadResult:
        source = self.source
        self.stage_action = source.action
        self._log("read", source.action, "started", details={"location": source.location})
        size = _size_of(self.config.input_path)
        with self.progress.stage("read", size) as bar:
            if hasattr(source, "on_bytes"):
                source.on_bytes = bar.advance
            read = source.read()
        self.input_hash = read.digest
        self.counts.input_records = read.records
        if read.records == 0 and not self.config.allow_empty:
            raise InputError(
                "the source holds no records (a header and nothing else)",
                dataset=source.location,
                hint="check that the extract finished; pass --allow-empty if an empty "
                "delivery is expected",
            )
        self._log(
            "read",
            source.action,
            "completed",
            record_count=read.records,
            input_hash=read.digest,
            details={
                "location": source.location,
                "format": source.format,
                "bytes": read.size_bytes,
                "columns": len(read.columns),
                "malformed_rows": len(read.malformed),
            },
        )
        return read

    def _validate(self, read: ReadResult) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Split records into valid (typed) and rejected (original text, with reasons)."""
        schema_ref = self.config.schema_ref
        self.stage_action = "validate_schema"
        malformed = _malformed_frame(read.malformed, read.columns)
        with self.progress.stage("validate"):
            if schema_ref is None:
                if read.typed_frame is not None:
                    valid = read.typed_frame
                else:
                    valid = infer_types(read.frame, read.columns)
                rejected_schema = _empty_rejected(read.columns)
                report: dict[str, Any] = {"schema": None, "engine": "inference"}
            else:
                model = load_model(schema_ref) if isinstance(schema_ref, str) else schema_ref
                result = validate(read.frame, model, engine=self.config.engine)
                valid = result.valid
                rejected_schema = result.rejected
                report = _report_dict(result.report)
                report["schema"] = _schema_name(schema_ref)
        rejected = _combine_rejected(rejected_schema, malformed, read.columns)
        self.counts.rejected_records = rejected.height
        self.counts.output_records = valid.height
        report["rejected_by_code"] = _codes(rejected)
        self.validation = report
        if not self.counts.conserved():
            # A bug, not bad input: refuse to publish rather than lose rows silently.
            raise PipelineError(
                "record accounting does not balance "
                f"({self.counts.input_records} in, {self.counts.output_records} out, "
                f"{self.counts.rejected_records} rejected)",
                hint="report this as a bug with the audit log attached; nothing was written",
            )
        self._log(
            "validate",
            "validate_schema",
            "completed",
            record_count=valid.height,
            details={
                "schema": report.get("schema"),
                "engine": report.get("engine"),
                "rejected": rejected.height,
                "rejected_by_code": report["rejected_by_code"],
            },
        )
        return valid, rejected

    def _write(self, valid: pl.DataFrame, rejected: pl.DataFrame) -> None:
        config = self.config
        sink, quarantine = self.sink, self.quarantine
        ratio = config.max_rejected_ratio
        over = (
            ratio is not None
            and self.counts.input_records > 0
            and self.counts.rejected_records / self.counts.input_records > ratio
        )
        self.stage_action = sink.action
        self._log("write", sink.action, "started", details={"location": sink.location})
        staged: list[StagedWrite] = []
        try:
            with self.progress.stage("write"):
                staged_q = quarantine.stage(rejected)
                staged.append(staged_q)
                staged_out = None if over else sink.stage(valid)
                if staged_out is not None:
                    staged.append(staged_out)
            # Both files are complete on disk; only now do they become visible.
            q_result = staged_q.commit()
            staged.remove(staged_q)
            self.quarantine_hash = q_result.digest
            if staged_out is not None:
                out_result = staged_out.commit()
                staged.remove(staged_out)
                self.output_hash = out_result.digest
        finally:
            for pending in staged:
                pending.abort()
        if over:
            assert ratio is not None
            observed = self.counts.rejected_records / self.counts.input_records
            raise RejectionThresholdError(
                f"{self.counts.rejected_records} of {self.counts.input_records} records "
                f"({observed:.2%}) were rejected, more than the allowed {ratio:.2%}; "
                "the output was not written, the quarantine was",
                dataset=str(config.input_path),
            )
        self._log(
            "write",
            sink.action,
            "completed",
            record_count=self.counts.output_records,
            output_hash=self.output_hash,
            details={
                "location": sink.location,
                "format": sink.format,
                "quarantine": quarantine.location,
                "quarantine_hash": self.quarantine_hash,
                "quarantine_records": self.counts.rejected_records,
            },
        )

    def _record_lineage(self) -> None:
        config = self.config
        self.stage_action = None
        with LineageTracker(store=config.resolved_lineage_store) as tracker:
            record = tracker.record(
                source_type=_kind(config.input_path),
                source_location=redact(str(config.input_path)),
                source_hash=self.input_hash or "",
                transformation=self.ctx.pipeline_id,
                destination_type=_kind(config.output_path),
                destination_location=redact(str(config.output_path)),
                destination_hash=self.output_hash or "",
                input_records=self.counts.input_records,
                output_records=self.counts.output_records,
                records_filtered=sum(self.counts.filtered.values()),
            )
        self.lineage_id = record.lineage_id

    # -- endings -------------------------------------------------------------------------------
    def _count_details(self) -> dict[str, Any]:
        return {
            "input_records": self.counts.input_records,
            "output_records": self.counts.output_records,
            "rejected_records": self.counts.rejected_records,
            "filtered_records": dict(self.counts.filtered),
        }

    def _fail(self, stage: str, error: PipelineError) -> PipelineResult:
        error.run_id = self.ctx.run_id
        if self.stage_action is not None:
            self._log(
                stage,
                self.stage_action,
                "failed",
                details={"error": error.code, "message": error.message},
            )
        self._log(
            "pipeline",
            "run_pipeline",
            "failed",
            input_hash=self.input_hash,
            output_hash=self.output_hash,
            details={"error": error.code, "stage": stage} | self._count_details(),
        )
        result = self._result(success=False, errors=[error.to_dict()])
        self.error = error
        return result

    def _result(self, *, success: bool, errors: list[dict[str, Any]]) -> PipelineResult:
        checkpoint = self.audit.checkpoint()
        return PipelineResult(
            run_id=self.ctx.run_id,
            pipeline_id=self.ctx.pipeline_id,
            success=success,
            input_records=self.counts.input_records,
            output_records=self.counts.output_records if self.output_hash else 0,
            rejected_records=self.counts.rejected_records,
            filtered_records=dict(self.counts.filtered),
            input_hash=self.input_hash,
            output_hash=self.output_hash,
            duration_ms=int((time.perf_counter() - self.started) * 1000),
            audit_path=str(self.config.audit_path),
            errors=errors,
            input_path=redact(str(self.config.input_path)),
            output_path=redact(str(self.config.output_path)),
            quarantine_path=redact(str(self.config.resolved_quarantine)),
            quarantine_hash=self.quarantine_hash,
            as_of=format_timestamp(self.ctx.as_of),
            actor=self.audit.actor,
            checkpoint=None if checkpoint is None else str(checkpoint),
            validation=self.validation,
            lineage_id=self.lineage_id,
        )


# -- helpers -------------------------------------------------------------------------------------
def _ensure_parent(path: Path) -> None:
    """Create the audit log's directory, as the quickstart expects for ``out/``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditError(
            f"cannot create the audit log's directory ({exc.strerror or exc})",
            dataset=str(path),
        ) from None


def _schema_name(ref: str | type[BaseModel] | None) -> str | None:
    if ref is None or isinstance(ref, str):
        return ref
    return f"{ref.__module__}:{ref.__qualname__}"


def _size_of(location: Path | str) -> int | None:
    try:
        return Path(str(location)).stat().st_size
    except OSError:
        return None


def _kind(location: Path | str) -> str:
    text = str(location)
    return "memory" if text.startswith("memory://") else "file"


def _report_dict(report: Any) -> dict[str, Any]:
    if hasattr(report, "model_dump"):
        return dict(report.model_dump(mode="json"))
    if hasattr(report, "to_dict"):
        return dict(report.to_dict())
    from dataclasses import asdict, is_dataclass

    if is_dataclass(report) and not isinstance(report, type):
        return json.loads(json.dumps(asdict(report), default=str))  # type: ignore[no-any-return]
    return {}


def _empty_rejected(columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {ROW_NUMBER: pl.Series([], dtype=pl.Int64)}
        | {c: pl.Series([], dtype=pl.String) for c in columns}
        | {QUARANTINE_ERRORS: pl.Series([], dtype=pl.String)}
    )


def _malformed_frame(rows: list[MalformedRow], columns: list[str]) -> pl.DataFrame:
    errors = [
        json.dumps([{"column": None, "code": "malformed_row", "message": r.message}]) for r in rows
    ]
    return pl.DataFrame(
        {ROW_NUMBER: pl.Series([r.row_number for r in rows], dtype=pl.Int64)}
        | {c: pl.Series([None] * len(rows), dtype=pl.String) for c in columns}
        | {
            QUARANTINE_ERRORS: pl.Series(errors, dtype=pl.String),
            QUARANTINE_RAW: pl.Series([r.raw for r in rows], dtype=pl.String),
        }
    )


def _combine_rejected(
    schema_rejected: pl.DataFrame, malformed: pl.DataFrame, columns: list[str]
) -> pl.DataFrame:
    """One quarantine frame: ``_row_number``, source columns as text, ``_errors``, ``_raw``."""
    order = [ROW_NUMBER, *columns, QUARANTINE_ERRORS, QUARANTINE_RAW]
    parts = []
    for part in (schema_rejected, malformed):
        filled = part.with_columns(
            pl.lit(None, dtype=pl.String).alias(c)
            for c in order
            if c not in part.columns
        )
        parts.append(
            filled.select(
                pl.col(ROW_NUMBER).cast(pl.Int64),
                *(pl.col(c).cast(pl.String) for c in order[1:]),
            )
        )
    return pl.concat(parts).sort(ROW_NUMBER)


def _codes(rejected: pl.DataFrame) -> dict[str, int]:
    """Count rejected rows per error code (a row with two codes counts under both)."""
    counts: dict[str, int] = {}
    for payload in rejected.get_column(QUARANTINE_ERRORS).to_list():
        codes = {item.get("code", "unknown") for item in json.loads(payload or "[]")}
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))
