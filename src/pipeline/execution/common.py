"""What batch and streaming execution share: the plan, the outcome, validation
of one frame, quality rules and step counting.

Both modes call these same functions on the same kind of data (a frame, or a
chunk of one), which is what makes their output bytes identical.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from pipeline.context import RunContext
from pipeline.errors import PipelineError, SpecError
from pipeline.infer import TypeInferrer, infer_types
from pipeline.io.base import ROW_NUMBER, Sink, Source, StagedWrite
from pipeline.progress import ProgressReporter
from pipeline.schema import Engine, Validator
from pipeline.steps import ColumnLineage, Step

__all__ = [
    "AuditFn",
    "Execution",
    "Plan",
    "QualityStage",
    "Typing",
    "attach_row_numbers",
    "large_for_memory",
    "run_steps",
    "validate_frame",
]

AuditFn = Callable[..., None]


def large_for_memory(size: int) -> bool:
    """Whether an input of ``size`` bytes is large against the memory available now:
    read whole, its text columns, validation and output copies take several times
    its size."""
    return size * 4 > available_memory()


def available_memory() -> int:
    """Bytes a process can take now without swapping or being killed: Linux's
    ``MemAvailable``, which counts the page cache the kernel would give back, within
    the room a cgroup (v2) memory limit leaves. The free pages alone
    (``SC_AVPHYS_PAGES``) shrink as files are read: after reading a 5 GiB file,
    15 GiB of 22 looked free, and the same run chose another path. Where none of this
    can be read (macOS has no ``SC_AVPHYS_PAGES``), 0: every choice made on it then
    takes the path whose memory is bounded."""
    available = _meminfo_available()
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return 0
    room = _cgroup_room()
    return available if room is None else min(available, room)


def _meminfo_available() -> int | None:
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass  # not Linux, or an old kernel
    return None


def _cgroup_room() -> int | None:
    """What the memory limits of this process's cgroup and its ancestors still allow
    (the tightest), or None without a limit.

    Usage counts the page cache too, so the room is underestimated: a choice made on
    it errs towards the path whose memory is bounded.
    """
    try:
        own = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    rooms: list[int] = []
    for line in own:  # "0::/a/b" (v2), "4:memory:/a/b" (v1)
        number, controllers, group = [*line.split(":", 2), "", ""][:3]
        if number == "0" and not controllers:
            base, files = Path("/sys/fs/cgroup"), ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory")
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        # The group and each ancestor (a systemd slice may hold the limit); a container
        # sees its own group as the hierarchy's root, which is among them.
        folder = base / group.lstrip("/")
        for level in (folder, *folder.parents):
            if not level.is_relative_to(base):
                break
            try:
                limit = (level / files[0]).read_text(encoding="ascii").strip()
                used = int((level / files[1]).read_text(encoding="ascii").strip())
            except (OSError, ValueError):
                continue
            if limit != "max" and int(limit) < 1 << 60:  # v1 writes "no limit" as ~2**63
                rooms.append(max(int(limit) - used, 0))
    return min(rooms) if rooms else None


@dataclass(slots=True)
class QualityStage:
    """Parsed rules and where they run."""

    rules: list[Any]
    stage: str  # "input" | "output"
    references: Callable[[str], pl.DataFrame]


@dataclass(slots=True)
class Plan:
    """Everything execution needs; built by the runner from the config."""

    ctx: RunContext
    source: Source
    sink: Sink
    quarantine: Sink
    model: type[BaseModel] | None
    engine: Engine
    steps: list[Step]
    quality: QualityStage | None
    source_options: dict[str, Any]
    allow_empty: bool
    progress: ProgressReporter
    log: AuditFn
    #: Names the stage now running, for a failure's ``stage`` (staging the outputs
    #: writes every byte before the "write" entry is logged at commit).
    enter: Callable[[str], None]

    @property
    def opaque(self) -> bool:
        """Rules or python steps: code that may read any column, its type or row numbers."""
        return self.quality is not None or any(step.kind == "python" for step in self.steps)

    def validator(self) -> Validator | None:
        """The model prepared once, for every batch of the run (None: no schema)."""
        return Validator(self.model, engine=self.engine) if self.model is not None else None


@dataclass(slots=True)
class Execution:
    """What execution produced, staged but not yet visible."""

    input_records: int = 0
    input_hash: str | None = None
    input_bytes: int | None = None
    columns: list[str] = field(default_factory=list)
    output_records: int = 0
    rejected_records: int = 0
    filtered: dict[str, int] = field(default_factory=dict)
    staged_output: StagedWrite | None = None
    staged_quarantine: StagedWrite | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    quality: list[dict[str, Any]] = field(default_factory=list)
    quality_failed: list[str] = field(default_factory=list)
    quality_metrics: dict[str, Any] | None = None
    output_fields: list[tuple[str, str]] = field(default_factory=list)
    input_fields: list[tuple[str, str]] = field(default_factory=list)
    lineage: ColumnLineage | None = None

    def reset(self) -> None:
        """Forget everything (the streaming reader starts over on its exact path)."""
        fresh = Execution()
        for name in self.__slots__:
            setattr(self, name, getattr(fresh, name))

    def conserved(self) -> bool:
        """Invariant 1."""
        return self.input_records == (
            self.output_records + self.rejected_records + sum(self.filtered.values())
        )


def attach_row_numbers(
    valid: pl.DataFrame, text: pl.DataFrame, rejected: pl.DataFrame
) -> pl.DataFrame:
    """Give accepted rows (input order, no row numbers) the ``_row_number`` they were read with."""
    numbers = text.get_column(ROW_NUMBER)
    if rejected.height:
        numbers = numbers.filter(~numbers.is_in(rejected.get_column(ROW_NUMBER).implode()))
    if numbers.len() != valid.height:
        raise PipelineError(
            f"validation returned {valid.height} accepted rows for {numbers.len()} row numbers",
            hint="report this as a bug; nothing was written",
        )
    return valid.select(pl.Series(ROW_NUMBER, numbers, dtype=pl.Int64), pl.all())


def validate_frame(
    text: pl.DataFrame,
    columns: list[str],
    validator: Validator | None,
    typed: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Split an all-text frame into accepted rows (typed, with row numbers) and rejected rows.

    Without a validator (no schema) the rows are typed by lossless inference.
    """
    if validator is None:
        body = typed if typed is not None else infer_types(text, columns)
        valid = body.select(pl.Series(ROW_NUMBER, text.get_column(ROW_NUMBER)), *columns)
        empty = text.clear().with_columns(pl.lit(None, dtype=pl.String).alias("_errors"))
        return valid, empty, {"engine": "inference"}
    result = validator.validate(text)
    valid = attach_row_numbers(result.valid, text, result.rejected)
    return valid, result.rejected, result.report.to_dict()


def log_steps_started(plan: Plan, mode: str, *, one_pass: bool = False) -> None:
    """The transform stage's opening entry: step names and python-step fingerprints.

    ``one_pass``: the steps ran in the same pass over the source as the read
    (logged once that pass is proven, after the read's closing entry).
    """
    details: dict[str, Any] = {
        "steps": [s.name for s in plan.steps],
        "mode": mode,
        "fingerprints": {s.name: s.fingerprint for s in plan.steps if s.fingerprint},
    }
    if one_pass:
        details["one_pass"] = True
    plan.log("transform", "transform_steps", "started", details=details)


def run_steps(
    frame: pl.DataFrame, steps: list[Step], ctx: RunContext
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Apply steps one by one (batch mode), counting the rows each removes."""
    filtered: dict[str, int] = {}
    for step in steps:
        before = frame.height
        try:
            planned = step.apply(frame.lazy(), ctx)
            if before == 0 and step.kind != "python":
                # No rows (an allowed-empty delivery): nothing to evaluate, as in a
                # streaming plan, which never evaluates an expression on no rows. The
                # step must still type: its schema is resolved, and the frame takes it.
                # (A python step still runs: it may add rows, which is refused.)
                frame = pl.DataFrame(schema=planned.collect_schema())
            else:
                frame = planned.collect(engine="in-memory")
        except PipelineError:
            raise
        except pl.exceptions.PolarsError as exc:
            raise step_error(step, exc) from None
        counted(step, before, frame.height, filtered)
    return frame, filtered


def counted(step: Step, before: int, after: int, filtered: dict[str, int]) -> None:
    """Record rows removed by ``step``; a step that adds rows breaks conservation."""
    if after > before:
        raise SpecError(
            f"the step turned {before} rows into {after}; steps may remove rows, never add them",
            step=step.name,
            hint="steps that explode or join rows are not supported",
        )
    if step.removes_rows and (after < before or step.kind in ("filter", "dedupe")):
        filtered[step.name] = before - after
    elif after < before:
        raise SpecError(f"the {step.kind} step removed rows", step=step.name)


def step_error(step: Step, exc: Exception) -> PipelineError:
    """A step failure as one paragraph naming the step (the engine's text can quote values)."""
    kind = type(exc).__name__
    first = str(exc).splitlines()[0] if str(exc) else kind
    if isinstance(exc, pl.exceptions.ColumnNotFoundError):
        return SpecError(
            f"a column the step reads does not exist ({first})",
            step=step.name,
            hint="check column names after the previous steps with `pipeline spec check`",
        )
    if isinstance(exc, pl.exceptions.InvalidOperationError | pl.exceptions.ComputeError):
        return PipelineError(
            f"the step failed on the data ({kind}); for a cast, some values do not convert",
            step=step.name,
            hint="run `pipeline spec check SPEC.yaml`, and inspect the column's values",
        )
    return PipelineError(f"the step failed ({kind})", step=step.name)


@dataclass(frozen=True, slots=True)
class Typing:
    """Which columns a run without a schema types by inference, and which stay as read.

    ``proven``: the columns whose type inference proves over the whole input,
    those a step reads and those that reach the output. A column the run neither
    reads nor writes cannot change a byte it produces: it is read as text and
    recorded as String (proving it would parse every value of a column nobody
    uses, about a third of a streaming run's time when a select drops half).

    ``as_text``: proven columns the plan carries as read. They reach a CSV output
    unchanged (passed through or renamed) and no step reads them; a proven type
    prints back as exactly its text, so the bytes are the same either way, and
    the proven type still goes into the evidence (:meth:`fields`).
    """

    proven: frozenset[str]
    as_text: frozenset[str]

    @classmethod
    def of(cls, plan: Plan, columns: list[str]) -> Typing:
        """The typing a plan's steps, rules and sink call for."""
        if plan.opaque:
            # Rules and python code may read any column: type them all, carry none as text.
            return cls(frozenset(columns), frozenset())
        lineage = lineage_through(plan.steps, columns)
        as_text: set[str] = set()
        if plan.sink.writes_csv_text:
            read = set(lineage.read)
            as_text = {s for s in _passed_through(lineage).values() if s not in read}
        return cls(proven_columns(lineage, columns), frozenset(as_text))

    def inferrer(self, columns: list[str]) -> TypeInferrer:
        """An inferrer of ``columns`` that proves the types of the proven ones only."""
        return TypeInferrer(columns, infer=self.proven)

    def fields(
        self,
        fields: list[tuple[str, str]],
        proven: pl.Schema,
        lineage: ColumnLineage | None = None,
    ) -> list[tuple[str, str]]:
        """``fields`` with each column carried as text given its proven type.

        ``lineage``: the fields are a plan's output (a column may have been renamed);
        without it they are the input's.
        """
        if not self.as_text:
            return fields
        sources = _passed_through(lineage) if lineage is not None else {n: n for n, _ in fields}
        return [
            (name, str(proven[sources[name]]) if sources.get(name) in self.as_text else dtype)
            for name, dtype in fields
        ]


def proven_columns(lineage: ColumnLineage, columns: list[str]) -> frozenset[str]:
    """The columns inference proves: those a step reads and those reaching the output."""
    read = set(lineage.read)
    written = {d.source for sources in lineage.direct.values() for d in sources}
    return frozenset(c for c in columns if c in read or c in written)


def lineage_through(steps: list[Step], columns: list[str]) -> ColumnLineage:
    """The column lineage of ``columns`` after ``steps``."""
    lineage = ColumnLineage.identity(columns)
    for step in steps:
        lineage = step.lineage(lineage)
    return lineage


def _passed_through(lineage: ColumnLineage) -> dict[str, str]:
    """Output column → the source column it is, unchanged (possibly renamed)."""
    return {
        column: sources[0].source
        for column, sources in lineage.direct.items()
        if len(sources) == 1 and sources[0].subtype == "IDENTITY"
    }


def fields_of(frame: pl.DataFrame | pl.LazyFrame) -> list[tuple[str, str]]:
    """Column names and types, for lineage facets (no values)."""
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    return [(name, str(dtype)) for name, dtype in schema.items() if name != ROW_NUMBER]
