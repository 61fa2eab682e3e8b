"""One run: prepare, execute (batch or streaming), commit, record evidence.

The runner owns the order of things and the evidence: audit entries for
every stage, the accounting check (invariant 1) before anything becomes
visible, the commit of staged outputs, lineage and OpenLineage events. A
:class:`~pipeline.errors.PipelineError` anywhere ends the run with ``failed``
entries naming the error kind; outputs are staged before any is committed,
so a failed run leaves the previous outputs as they were.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from pipeline.audit.log import AuditLogger
from pipeline.context import RunContext, format_timestamp, utc_now
from pipeline.errors import (
    AuditError,
    ConfigError,
    InternalError,
    InterruptedRunError,
    NotDurableError,
    PipelineError,
    QualityGateError,
    RejectionThresholdError,
    RunInterrupted,
)
from pipeline.execution.batch import run_batch
from pipeline.execution.common import Execution, Plan, QualityStage, large_for_memory
from pipeline.execution.streaming import run_plain, run_streaming, sweep_spills
from pipeline.interrupts import stops_held
from pipeline.io import open_sink, open_source
from pipeline.io.atomic import commit_lock
from pipeline.io.base import StagedWrite, WriteResult, input_changed
from pipeline.io.files import FORMATS
from pipeline.io.registry import redact
from pipeline.lineage import DatasetRef, LineageEmitter, LineageTracker, RunLineage, SourceCode
from pipeline.lineage.openlineage import DEFAULT_SPOOL
from pipeline.progress import ProgressReporter
from pipeline.result import PipelineResult
from pipeline.schema import load_model
from pipeline.spec import PipelineConfig, PipelineSpec
from pipeline.steps import compile_steps

__all__ = ["INTERRUPTED", "RunOutcome", "execute", "resolve_mode", "run_pipeline"]

INTERRUPTED = "the run was interrupted (SIGINT or SIGTERM) before it finished"


def run_pipeline(config: PipelineConfig | PipelineSpec) -> PipelineResult:
    """Run one pipeline and return its result; failures are in the result, not raised.

    A run that fails still returns a :class:`PipelineResult` with
    ``success=False`` and the error in ``errors``; only an audit log that
    cannot be opened at all, or that shares a path with another of the run's
    files (or whose neighbours do: its checkpoints, the OpenLineage spool),
    raises (there is nowhere safe to record the failure).
    """
    return execute(config).result


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A result together with the error that ended the run (for the CLI's --debug)."""

    result: PipelineResult
    error: PipelineError | None


def execute(config: PipelineConfig | PipelineSpec) -> RunOutcome:
    """Run like :func:`run_pipeline` and also return the error object, if any."""
    if isinstance(config, PipelineSpec):
        config = config.to_config()
    run = _Run(config)
    result = run.execute()
    return RunOutcome(result, run.error)


def resolve_mode(config: PipelineConfig) -> str:
    """``auto`` streams when the input is large against the memory available now."""
    if config.mode != "auto":
        return config.mode
    try:
        size = Path(str(config.input_path)).stat().st_size
    except OSError:
        return "batch"
    return "streaming" if large_for_memory(size) else "batch"


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
        # Before the audit log is opened: it must not be the output or the input.
        # A clash that spares the audit log is a failed run like any other (logged,
        # returned); one that involves it raises: there is nowhere safe to log it.
        clash = _path_clash(config)
        if clash is not None and clash.evidence:
            raise clash.error
        self.clash = clash.error if clash is not None else None
        self.audit = AuditLogger(
            config.audit_path, actor=config.actor, signing_key=config.signing_key
        )
        self.exec = Execution()
        self.output_hash: str | None = None
        self.quarantine_hash: str | None = None
        self.lineage_id: str | None = None
        self.error: PipelineError | None = None
        self.stage = "pipeline"
        self.mode = resolve_mode(config)
        self.fingerprints: dict[str, str] = {}
        self.source_code: list[SourceCode] = []
        self.emitter: LineageEmitter | None = None
        self.plan: Plan | None = None
        self.tracker: LineageTracker | None = None
        self._final = contextlib.ExitStack()
        self._holding = False

    def log(self, stage: str, action: str, status: str, **kwargs: Any) -> None:
        """Append an audit entry for this run (the ``AuditFn`` execution calls)."""
        self.stage = stage
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
        # Stops are held from the commit (or a failure) to the end: see pipeline.interrupts.
        with contextlib.ExitStack() as self._final:
            try:
                return self._execute()
            finally:
                if self.tracker is not None:
                    self.tracker.close()

    def _settling(self) -> None:
        """The outcome is being made final: stop requests wait for the run's end."""
        if not self._holding:
            self._final.enter_context(stops_held(final=True))
            self._holding = True

    def _execute(self) -> PipelineResult:
        try:
            # A stop during the opening entry waits for it: the run then logs its stop.
            with stops_held(final=False):
                self.log("pipeline", "run_pipeline", "started", details=self._start_details())
            if self.clash is not None:
                raise self.clash
            plan = self._prepare()
            self.plan = plan
            self._emit("start")
            version = plan.source.version()
            try:
                with plan.progress:
                    plain = run_plain(plan, self.exec)
                    if plain != "done":
                        if self.mode == "streaming":
                            run_streaming(plan, self.exec, native=plain == "not plain")
                        else:
                            run_batch(plan, self.exec)
            except Exception:
                # A file cut short or rewritten under the reader fails in the reader's
                # words (Polars: "failed to fill whole buffer", which read as a write
                # error): the changed input is the cause to report.
                _check_unchanged(plan, version)
                raise
            _check_unchanged(plan, version)
            self._check_conservation()
            self._commit()
            self._record_lineage()
        except PipelineError as error:
            return self._fail(error)
        except KeyboardInterrupt as stop:
            # SIGINT (or SIGTERM, which the CLI turns into one) before the commit: the audit
            # log says the run stopped, with nothing published, then the interrupt goes on
            # to the caller, carrying the run's result.
            raise RunInterrupted(self._fail(InterruptedRunError(INTERRUPTED))) from stop
        except Exception as exc:
            # Library exception texts can quote cell values: only the type enters evidence.
            internal = InternalError(f"unexpected {type(exc).__name__} in the {self.stage} stage")
            internal.__cause__ = exc
            return self._fail(internal)
        completed = False
        try:
            self._emit("complete")  # may log that the event was spooled
            before = self.audit.last_seq
            try:
                self.log(
                    "pipeline",
                    "run_pipeline",
                    "completed",
                    record_count=self.exec.output_records,
                    input_hash=self.exec.input_hash,
                    output_hash=self.output_hash,
                    details=self._count_details(),
                )
            finally:
                # Appended even when the checkpoint every 1,000 entries then failed.
                completed = self.audit.last_seq > before
            return self._result(success=True, errors=[])
        except AuditError as error:
            return self._unfinished_evidence(error, completed=completed)

    def _unfinished_evidence(self, error: AuditError, *, completed: bool) -> PipelineResult:
        """The output is published, but the closing entry or the checkpoint signed over it
        could not be written (a disk that filled at the end).

        The run's own result says so, with what it published: the run raised the
        audit error, and the CLI printed the result of a run that never started
        (found by review). Nothing more can be logged to a log that just failed.
        """
        if type(error) is not AuditError:
            # A tampered log (LogTamperError) keeps its own words, exit code and hint.
            self.error = error
            return self._result(success=False, errors=[error.to_dict()], sign=False)
        what = "its signed checkpoint" if completed else "its closing audit entry"
        unfinished = AuditError(
            f"the output was published, but {what} could not be written: {error.message}",
            hint="free space where the audit log lives; the log so far is intact "
            "(`pipeline audit verify` checks it)"
            + (
                " and the next signed run's checkpoint covers this run's entries"
                if completed
                else "; the log holds no closing entry for this run"
            ),
        )
        self.error = unfinished
        return self._result(success=False, errors=[unfinished.to_dict()], sign=False)

    def _start_details(self) -> dict[str, Any]:
        config = self.config
        return {
            "input": redact(str(config.input_path)),
            "output": redact(str(config.output_path)),
            "schema": _schema_name(config.schema_ref),
            "as_of": format_timestamp(self.ctx.as_of),
            "engine": config.engine,
            "mode": self.mode,
            "spec": str(config.spec_path) if config.spec_path else None,
            "spec_hash": config.spec_hash,
            "steps": [s.name or s.kind for s in config.steps],
        }

    def _prepare(self) -> Plan:
        """Open connectors and compile everything before reading a byte."""
        config = self.config
        source = open_source(config.input_path, config.input_format)
        sink = open_sink(config.output_path, config.output_format)
        # The quarantine is CSV unless its name says Parquet or JSON Lines: a
        # `q.parquet` held CSV text (found by review). The location stays as given
        # (a file:// URI is not a relative path).
        location = config.resolved_quarantine
        suffix = PurePosixPath(urlsplit(str(location)).path).suffix.lower()
        quarantine = open_sink(location, FORMATS.get(suffix, "csv"), what="quarantine")
        model = _model(config.schema_ref, config.base_dir)
        steps = compile_steps(list(config.steps), base_dir=config.base_dir)
        # Open the lineage store now, and write to it: an unusable store must fail the
        # run before any output is replaced, not after.
        self.tracker = LineageTracker(store=config.resolved_lineage_store)
        self.tracker.store.check_writable()
        # Likewise a checkpoint that could not be written after the closing entry.
        self.audit.check_checkpoints_writable()
        sweep_spills(sink)  # a killed streaming run's, the size of its input
        self.fingerprints = {s.name: s.fingerprint for s in steps if s.fingerprint}
        self.source_code = [
            SourceCode.from_callable(s.name, s.function) for s in steps if s.function is not None
        ]
        quality = None
        if config.quality:
            from pipeline.quality import parse_rules
            from pipeline.quality.engine import read_reference

            quality = QualityStage(
                parse_rules(config.quality), config.quality_stage, read_reference
            )
        return Plan(
            ctx=self.ctx,
            source=source,
            sink=sink,
            quarantine=quarantine,
            model=model,
            engine=config.engine,
            steps=steps,
            quality=quality,
            source_options=dict(config.source_options),
            allow_empty=config.allow_empty,
            progress=ProgressReporter(config.progress),
            log=self.log,
            enter=self._enter,
        )

    def _enter(self, stage: str) -> None:
        self.stage = stage

    def _publish(self, staged: StagedWrite, field: str) -> None:
        """Commit ``staged`` and record its digest in ``field`` (output or quarantine hash).

        A file that went into place but whose directory could not be flushed is
        recorded too before the error goes on: the failed entry's
        ``output_written`` / ``quarantine_written`` must say the file is there.
        """
        try:
            published = staged.commit()
        except NotDurableError as exc:
            if isinstance(exc.published, WriteResult):
                setattr(self, field, exc.published.digest)
            raise
        setattr(self, field, published.digest)

    def _check_conservation(self) -> None:
        if not self.exec.conserved():
            # A bug, not bad input: refuse to publish rather than lose rows silently.
            raise PipelineError(
                "record accounting does not balance "
                f"({self.exec.input_records} in, {self.exec.output_records} out, "
                f"{self.exec.rejected_records} rejected, "
                f"{sum(self.exec.filtered.values())} filtered)",
                hint="report this as a bug with the audit log attached; nothing was written",
            )

    def _commit(self) -> None:
        """Publish the quarantine always, the output only when the run's checks pass."""
        # From the first rename to the closing entry, a stop would leave files and
        # evidence disagreeing (a replaced output with no closing entry).
        self._settling()
        ex = self.exec
        ratio = self.config.max_rejected_ratio
        over = (
            ratio is not None
            and ex.input_records > 0
            and ex.rejected_records / ex.input_records > ratio
        )
        gate = bool(ex.quality_failed)
        staged_out, staged_q = ex.staged_output, ex.staged_quarantine
        assert self.plan is not None
        self.log(
            "write",
            self.plan.sink.action,
            "started",
            details={"location": redact(str(self.config.output_path))},
        )
        try:
            # One lock across both renames: a concurrent run of the same pipeline cannot
            # leave its quarantine beside our output.
            with commit_lock(self.config.output_path):
                if staged_q is not None:
                    pending, staged_q = staged_q, None
                    self._publish(pending, "quarantine_hash")
                if staged_out is not None and not (over or gate):
                    pending, staged_out = staged_out, None
                    self._publish(pending, "output_hash")
                if not (over or gate):
                    # Under the lock: concurrent runs to one output log their writes in
                    # the order they published, so the last entry names the file in place.
                    self._log_written()
        finally:
            for unpublished in (staged_out, staged_q):
                if unpublished is not None:
                    unpublished.abort()
        if over:
            assert ratio is not None
            observed = ex.rejected_records / ex.input_records
            raise RejectionThresholdError(
                f"{ex.rejected_records} of {ex.input_records} records ({observed:.2%}) were "
                f"rejected, more than the allowed {ratio:.2%}; the output was not written, the "
                "quarantine was",
                dataset=redact(str(self.config.input_path)),
            )
        if gate:
            raise QualityGateError(
                f"error-severity quality rule(s) failed: {', '.join(ex.quality_failed)}; the "
                "output was not written",
                dataset=redact(str(self.config.input_path)),
            )

    def _log_written(self) -> None:
        ex = self.exec
        assert self.plan is not None
        self.log(
            "write",
            self.plan.sink.action,
            "completed",
            record_count=ex.output_records,
            output_hash=self.output_hash,
            details={
                "location": redact(str(self.config.output_path)),
                "quarantine": redact(str(self.config.resolved_quarantine)),
                "quarantine_hash": self.quarantine_hash,
                "quarantine_records": ex.rejected_records,
            },
        )

    # -- lineage -------------------------------------------------------------------------------
    def _run_lineage(
        self, status: Literal["running", "completed", "failed"], error: str | None = None
    ) -> RunLineage:
        config, ex = self.config, self.exec
        column_lineage: dict[str, list[tuple[str, str, str, bool]]] = {}
        indirect: list[tuple[str, str, str, bool]] = []
        source = redact(str(config.input_path))
        if ex.lineage is not None:
            for column, sources in ex.lineage.columns([n for n, _ in ex.output_fields]).items():
                column_lineage[column] = [(source, d.source, d.subtype, d.masking) for d in sources]
            indirect = [(source, d.source, d.subtype, d.masking) for d in ex.lineage.indirect]
        return RunLineage(
            run_id=self.ctx.run_id,
            job_name=self.ctx.pipeline_id,
            as_of=self.ctx.as_of,
            inputs=[
                DatasetRef(
                    location=source,
                    kind=_kind(source),
                    hash=ex.input_hash,
                    records=ex.input_records,
                    bytes=ex.input_bytes,
                    fields=tuple(ex.input_fields),
                )
            ],
            outputs=[
                DatasetRef(
                    location=redact(str(config.output_path)),
                    kind=_kind(str(config.output_path)),
                    hash=self.output_hash,
                    records=ex.output_records if self.output_hash else None,
                    fields=tuple(ex.output_fields),
                )
            ],
            quarantine=DatasetRef(
                location=redact(str(config.resolved_quarantine)),
                kind="file",
                hash=self.quarantine_hash,
                records=ex.rejected_records,
            ),
            column_lineage=column_lineage,
            dataset_lineage=indirect,
            quality=list(ex.quality),
            quality_metrics=ex.quality_metrics,
            quality_stage=config.quality_stage,
            code=dict(self.fingerprints),
            source_code=list(self.source_code),
            status=status,
            error=error,
            mode=self.mode,
            input_records=ex.input_records,
            output_records=ex.output_records,
            rejected_records=ex.rejected_records,
            filtered_records=dict(ex.filtered),
        )

    def _emit(self, event: str, error: str | None = None) -> None:
        """OpenLineage events never block or fail a run; undelivered ones are spooled."""
        try:
            if self.emitter is None:
                spool = self.config.audit_path.with_name(DEFAULT_SPOOL)
                self.emitter = LineageEmitter.from_environment(spool_path=spool)
            run = self._run_lineage(
                "running"
                if event == "start"
                else ("completed" if event == "complete" else "failed"),
                error,
            )
            if event == "start":
                result = self.emitter.start(run)
            elif event == "complete":
                result = self.emitter.complete(run)
            else:
                result = self.emitter.fail(run, error or "failed")
        except Exception:
            self.audit_note_emit_failure(event)
            return
        if result.status == "spooled":
            self.log("lineage", "lineage_spooled", "completed", details=result.to_dict())

    def audit_note_emit_failure(self, event: str) -> None:
        """Record that an OpenLineage event could not even be built or spooled."""
        with contextlib.suppress(PipelineError):
            self.log("lineage", "lineage_emit", "failed", details={"event": event})

    def _record_lineage(self) -> None:
        self.stage = "lineage"
        assert self.tracker is not None
        self.tracker.record_run(self._run_lineage("completed"))
        self.lineage_id = self.ctx.run_id

    # -- endings -------------------------------------------------------------------------------
    def _count_details(self) -> dict[str, Any]:
        ex = self.exec
        return {
            "input_records": ex.input_records,
            "output_records": ex.output_records,
            "rejected_records": ex.rejected_records,
            "filtered_records": dict(ex.filtered),
            "quality_failed": list(ex.quality_failed),
        }

    def _fail(self, error: PipelineError) -> PipelineResult:
        self._settling()  # a second stop must not cut the failed entry short
        error.run_id = self.ctx.run_id
        for staged in (self.exec.staged_output, self.exec.staged_quarantine):
            if staged is not None:
                staged.abort()
        self._emit("fail", f"{error.code}: {error.message}")
        self.log(
            "pipeline",
            "run_pipeline",
            "failed",
            input_hash=self.exec.input_hash,
            output_hash=self.output_hash,
            details={"error": error.code, "message": error.message, "stage": self.stage}
            | self._count_details()
            # The counts above are what execution computed; these say whether any file
            # was published (a run can fail after its commit, e.g. in lineage).
            | {
                "output_written": self.output_hash is not None,
                "quarantine_written": self.quarantine_hash is not None,
            },
        )
        self.error = error
        return self._result(success=False, errors=[error.to_dict()])

    def _result(
        self, *, success: bool, errors: list[dict[str, Any]], sign: bool = True
    ) -> PipelineResult:
        """The run's result, with a checkpoint signed over its entries (``sign``: tried;
        not once the evidence itself failed, whose result would then contradict it)."""
        try:
            checkpoint = self.audit.checkpoint() if sign else None
        except PipelineError:
            if success:
                raise
            # Failing already (perhaps because the checkpoints file is unwritable): the
            # logged failure is the result; signing over it cannot hide it (found by
            # review: the run raised the signing error instead of returning it).
            checkpoint = None
        ex, config = self.exec, self.config
        return PipelineResult(
            run_id=self.ctx.run_id,
            pipeline_id=self.ctx.pipeline_id,
            success=success,
            input_records=ex.input_records,
            output_records=ex.output_records,
            rejected_records=ex.rejected_records,
            filtered_records=dict(ex.filtered),
            input_hash=ex.input_hash,
            output_hash=self.output_hash,
            duration_ms=int((time.perf_counter() - self.started) * 1000),
            audit_path=str(config.audit_path),
            errors=errors,
            input_path=redact(str(config.input_path)),
            output_path=redact(str(config.output_path)),
            output_written=self.output_hash is not None,
            quarantine_path=redact(str(config.resolved_quarantine)),
            quarantine_hash=self.quarantine_hash,
            as_of=format_timestamp(self.ctx.as_of),
            actor=self.audit.actor,
            mode=self.mode,
            spec_hash=config.spec_hash,
            step_fingerprints=dict(self.fingerprints),
            checkpoint=None if checkpoint is None else str(checkpoint),
            validation=ex.validation or None,
            quality=[
                {k: r[k] for k in ("id", "rule", "severity", "failed_rows", "ratio", "passed")}
                for r in ex.quality
            ],
            lineage_id=self.lineage_id,
        )


# -- helpers -------------------------------------------------------------------------------------


def _local(location: Path | str) -> str:
    text = str(location)
    if text.startswith("memory://") or ("://" in text and not text.startswith("file://")):
        return text
    path = text.removeprefix("file://")
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):  # a symlink loop: the reader names it later
        return str(Path(path).absolute())


#: Roles whose files the audit log writes or sits beside: a clash with one of them
#: cannot be logged.
_EVIDENCE_ROLES = frozenset({"audit log", "audit checkpoints", "lineage spool", "spool lock"})


@dataclass(frozen=True, slots=True)
class _Clash:
    error: ConfigError
    evidence: bool  # whether the audit log or a file beside it is one of the two


def _path_clash(config: PipelineConfig) -> _Clash | None:
    """Input, output, quarantine, audit log and lineage store must be five places.

    A rename onto another of them would silently replace the input or the evidence;
    an output at the OpenLineage spool's path (beside the audit log) had the run's
    events appended to it after it was hashed.
    """
    audit = config.audit_path
    spool = audit.with_name(DEFAULT_SPOOL)
    places = {
        "input": _local(config.input_path),
        "output": _local(config.output_path),
        "quarantine": _local(config.resolved_quarantine),
        "audit log": _local(audit),
        "audit checkpoints": _local(audit.with_name(audit.name + ".checkpoints")),
        "lineage store": _local(config.resolved_lineage_store),
        "lineage spool": _local(spool),
        "spool lock": _local(spool.with_name(spool.name + ".lock")),
    }
    seen: dict[str, str] = {}
    for role, place in places.items():
        if place in seen:
            error = ConfigError(
                f"the {role} and the {seen[place]} are the same file ({redact(place)})",
                key=role.replace(" ", "_"),
                hint=f"give the {role} its own path; writing one over the other "
                "would destroy data or evidence",
            )
            return _Clash(error, bool({role, seen[place]} & _EVIDENCE_ROLES))
        seen[place] = role
    return None


def _model(ref: str | type[BaseModel] | None, base_dir: Path | None) -> type[BaseModel] | None:
    if ref is None:
        return None
    return load_model(ref, base_dir=base_dir) if isinstance(ref, str) else ref


def _schema_name(ref: str | type[BaseModel] | None) -> str | None:
    if ref is None or isinstance(ref, str):
        return ref
    return f"{ref.__module__}:{ref.__qualname__}"


def _kind(location: str) -> str:
    return "memory" if location.startswith("memory://") else "file"


def _check_unchanged(plan: Plan, version: tuple[int, ...] | None) -> None:
    """Refuse to publish when the input was rewritten while the run read it.

    The input hash, the parse and (in streaming mode) the quarantine's pass
    read the file separately; if it changed in between, the recorded hash
    need not be of the bytes the output came from.
    """
    if version is not None and plan.source.version() != version:
        raise input_changed(
            plan.source.location,
            "its size, modification time or inode differ from when the run started",
        )
