"""Streaming execution: bounded memory for inputs larger than RAM.

The source is read and validated in chunks; accepted rows go to a Parquet
spill file beside the output (same filesystem, removed at the end), rejected
rows stay in memory (they are few, or the run fails its threshold anyway).
The steps then run as one lazy plan over the spill on Polars' streaming
engine and the output is written with ``sink_*``. The writers and every
conversion are the ones batch mode uses, so both modes write the same bytes.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from pipeline import quarantine as q
from pipeline.errors import InputError, OutputError, PipelineError
from pipeline.execution.batch import check_not_empty, log_read_completed, log_validate_started
from pipeline.execution.common import (
    Execution,
    Plan,
    Typing,
    counted,
    fields_of,
    large_for_memory,
    lineage_through,
    log_steps_started,
    step_error,
    validate_frame,
)
from pipeline.execution.quality_stage import QualityApplied, apply_quality, log_quality
from pipeline.infer import missing
from pipeline.io.atomic import owned_name, sweep_orphans
from pipeline.io.base import ROW_NUMBER, Sink, StagedCopy, empty_text, input_changed
from pipeline.io.csv_reader import (
    CsvCopy,
    clean_start,
    inside_separators,
    read_header,
    scan_csv_bytes,
    scan_text_csv,
    shape_holds,
)
from pipeline.io.files import FileSource, os_reason, write_failure
from pipeline.io.typed_ints import IntAccounting, field_bytes
from pipeline.steps import ColumnLineage, Step

__all__ = ["BATCH_ROWS", "plain_csv", "run_plain", "run_streaming", "sweep_spills"]

BATCH_ROWS = 250_000
#: Rows read first to predict a CSV's column types (the fused pass is planned on them).
HEAD_ROWS = 2_000


def plain_csv(plan: Plan) -> bool:
    """Whether the run only carries a comma-separated CSV file to its sink (no schema,
    steps or rules) and the file's start promises Polars' fast parse (no quote, CR
    or BOM there).

    Such a run streams in every mode: nothing in it needs the rows in memory, and
    one streaming pass proves the types beside the writer (at 10M rows to Parquet,
    5.2 s against 6.5-6.7 s in memory). To a CSV sink it writes no rows at all: a
    file that prints back as itself is copied as it is hashed (:class:`CsvCopy`).
    """
    if plan.model is not None or plan.steps or plan.quality is not None:
        return False
    source = plan.source
    if not isinstance(source, FileSource) or source.format != "csv":
        return False
    if plan.source_options not in ({}, {"separator": ","}):
        return False
    try:
        # Never open a FIFO or device to look at its start: it could block forever.
        return source.path.is_file() and clean_start(source.path)
    except OSError:
        return False  # an unreadable file: the read says so in its own words


Plain = Literal["done", "not plain", "needs the chunked reader"]


def run_plain(plan: Plan, out: Execution) -> Plain:
    """Run a :func:`plain_csv` plan, in any mode. Unless ``done``, the mode's own path
    runs next; after ``needs the chunked reader`` (ragged records: the exact reader)
    it starts over with a second ``read started`` entry, and streaming mode goes
    straight to its chunked reader (see :func:`run_streaming`)."""
    if not plain_csv(plan):
        return "not plain"
    copy = plan.sink.open_copy()
    try:
        if _run_native(plan, out, copy) is None:
            out.reset()
            return "needs the chunked reader"
        return "done"
    finally:
        if copy is not None:
            copy.abort()  # a no-op once it became the staged output


def _run_native(plan: Plan, out: Execution, copy: StagedCopy | None) -> Execution | None:
    """Read, prove and write a CSV in Polars' streaming engine alone; None when the
    file needs the chunked reader. ``copy``: the output's bytes, should the file's be
    them (its proof then runs alone first, with no output plan)."""
    source = plan.source
    if not isinstance(source, FileSource):
        return None
    try:
        size: int | None = source.path.stat().st_size
    except OSError:
        size = None  # the read says why, in its own words
    # The hashing thread reads every byte once: its progress is the read's.
    with plan.progress.stage("read", size) as bar:
        reported, source.on_bytes = source.on_bytes, bar.advance
        try:
            try:
                native = _NativeCsv.open(plan, out, copy)
            except PermissionError:
                raise InputError(  # in the words the batch reader uses
                    "the input file cannot be read (permission denied)", dataset=source.location
                ) from None
            if native is None:
                return None
            with native:
                # (native.copy: None too when the copy could never be kept)
                done = _fused(plan, out, native) if native.copy is None else None
                if done is not None:
                    return done
                validated = native.validated()
        finally:
            source.on_bytes = reported  # a later reader of the file reports to its own stage
    if validated is None:
        return None
    copied = native.copied()
    if copy is not None and copied is None:
        copy.abort()  # not the output's bytes: its disk space is free before the write
    return _transform_and_stage(plan, out, validated, copy=copied)


def run_streaming(plan: Plan, out: Execution, *, native: bool = True) -> Execution:
    """Run every stage with memory bounded by the chunk size and Polars' streaming engine.

    ``native=False``: the file is known to need the chunked reader (a plain run found
    it ragged), so it is not read natively a second time.
    """
    done = _run_native(plan, out, None) if native and plan.model is None else None
    if done is not None:
        return done
    with _spill_dir(plan) as spill_dir:
        spill = spill_dir / "accepted.parquet"
        validated = _read_validate(plan, out, spill, exact=False)
        if not validated.shape_ok:
            # The fast parser missed a ragged record: read again, record by record.
            for part in spill_dir.glob(f"{spill.stem}.*"):
                part.unlink()  # the fast read's parts: the exact read writes its own
            out.reset()
            validated = _read_validate(plan, out, spill, exact=True)
        return _transform_and_stage(plan, out, validated)


#: The name of a streaming run's spill folders, beside the output.
_SPILL_PREFIX = ".pipeline-spill-"


def _spill_base(sink: Sink) -> Path:
    """Where a streaming run spills: beside a file output, else the working directory."""
    return Path(sink.location).parent if sink.kind == "file" else Path.cwd()


def sweep_spills(sink: Sink) -> None:
    """Remove the spill folders dead runs left where this sink's run would spill.

    Every run calls it (a batch run too: only a later streaming run swept them, and
    they are the size of the input; found by review).
    """
    sweep_orphans(_spill_base(sink), _SPILL_PREFIX)


@contextlib.contextmanager
def _spill_dir(plan: Plan) -> Iterator[Path]:
    base = _spill_base(plan.sink)
    try:
        base.mkdir(parents=True, exist_ok=True)
        folder = base / owned_name(_SPILL_PREFIX)
        folder.mkdir()
    except OSError as exc:
        # In the words a batch run's write uses (it was an "unexpected PermissionError";
        # found by review).
        raise OutputError(
            f"cannot write the file ({exc.strerror or type(exc).__name__})",
            dataset=plan.sink.location,
            hint="check the output directory's permissions and free space (streaming mode "
            "spills the accepted rows there); the previous output, if any, is untouched",
        ) from exc
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: The types a validated integer column takes, narrowest first (pipeline.schema.values):
#: Int64, Int128 beyond it, text beyond that. Each holds the one before without loss,
#: and an integer's text is the same whichever printed it (Python or Polars).
_INTEGER_WIDTHS: tuple[pl.DataType, ...] = (pl.Int64(), pl.Int128(), pl.String())


def _widened(
    before: pl.Schema, chunk: pl.Schema, *, seen: set[str], present: set[str]
) -> pl.Schema | str:
    """The schema holding both without loss, as batch mode types the whole column, or
    the name of a column that differs otherwise.

    ``seen``: the columns that held a value in an earlier chunk; ``present``: those
    that hold one in this chunk. A column null throughout a chunk carries no evidence
    of its type (validation gives it the field's base type, text for a union): the
    other side's type stands (found by review: an all-null chunk turned an integer
    column into text in streaming mode only).
    """
    widths = _INTEGER_WIDTHS
    wide: dict[str, pl.DataType] = {}
    for name, dtype in before.items():
        other = chunk[name]
        if other == dtype or name not in present:
            wide[name] = dtype
        elif name not in seen:
            wide[name] = other
        elif dtype in widths and other in widths:
            wide[name] = max(dtype, other, key=widths.index)
        else:
            return name
    return pl.Schema(wide)


class _Accepted:
    """The spill of accepted rows: a Parquet file per chunk, written by Polars, read back
    in order as one frame.

    Its schema is fixed by the first chunk, and widened by a later one whose integers
    do not fit it (earlier parts are cast on reading). Polars writes the parts:
    pyarrow has no Int128, and an integer beyond Int64 ended a streaming run with an
    "unexpected ArrowInvalid" (found in session 11).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema: pl.Schema | None = None
        self.rows = 0
        #: The parts written, in order, with the schema each was written with.
        self.parts: list[tuple[Path, pl.Schema]] = []
        #: The columns that held a value in a chunk so far (the others: no evidence).
        self.seen: set[str] = set()

    def append(self, frame: pl.DataFrame) -> None:
        if frame.height == 0 and self.schema is not None:
            return
        counts = frame.null_count().row(0, named=True) if frame.height else {}
        present = {c for c, nulls in counts.items() if nulls < frame.height}
        if self.schema is None or self.rows == 0:
            # An empty first chunk fixes nothing: its all-null columns carry no evidence.
            self.schema = frame.schema
        elif frame.schema != self.schema:
            wide = _widened(self.schema, frame.schema, seen=self.seen, present=present)
            if isinstance(wide, str):
                # Never cast silently (it could round or truncate): a type that depends
                # on the values and differs between chunks stops the run with its name.
                raise PipelineError(
                    f"column {wide!r} is {self.schema.get(wide)} in earlier rows and "
                    f"{frame.schema[wide]} in later ones (a type that depends on the values)",
                    column=wide,
                    hint="run in batch mode, or give the field a fixed type in the model "
                    "(e.g. Decimal with decimal_places, int within Int64)",
                )
            # An integer beyond Int64 (or Int128): batch mode types the whole column
            # wider, so the spill does too (streaming stopped the run where batch
            # succeeded; noticed in session 10).
            self.schema = wide
            frame = frame.cast(wide)
        self.seen |= present
        if frame.height == 0:
            return
        part = self.path.with_name(f"{self.path.stem}.{len(self.parts)}{self.path.suffix}")
        with self._writing():
            frame.write_parquet(part, compression="lz4")
        self.parts.append((part, frame.schema))
        self.rows += frame.height

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A spill that cannot be written (a full disk, a file-size limit) says so."""
        try:
            yield
        except (OSError, pl.exceptions.PolarsError) as exc:
            if isinstance(exc, OSError):
                reason: str | None = exc.strerror or str(exc)
            else:
                reason = os_reason(exc)
                if reason is None:
                    raise  # not the disk: the caller names the cause
            raise OutputError(
                f"cannot write the streaming spill file ({reason})",
                dataset=str(self.path.parent),
                hint="streaming mode keeps accepted rows on disk beside the output: check "
                "free disk space, quotas and file-size limits there; nothing was written",
            ) from None

    def scan(self) -> pl.LazyFrame:
        assert self.schema is not None
        if self.rows == 0:
            return pl.DataFrame(schema=self.schema).lazy()
        # Consecutive parts of one schema are one scan; the earlier, narrower ones cast.
        groups: list[tuple[list[Path], pl.Schema]] = []
        for part, schema in self.parts:
            if groups and groups[-1][1] == schema:
                groups[-1][0].append(part)
            else:
                groups.append(([part], schema))
        scans = [
            pl.scan_parquet(paths, glob=False).cast(self.schema)
            if schema != self.schema
            else pl.scan_parquet(paths, glob=False)
            for paths, schema in groups
        ]
        return scans[0] if len(scans) == 1 else pl.concat(scans, how="vertical")


@dataclass(slots=True)
class _Validated:
    shape_ok: bool
    accepted: pl.LazyFrame | None = None
    rejected_parts: list[pl.DataFrame] = field(default_factory=list)
    #: No schema: which columns inference typed, and the types it proved.
    typing: Typing | None = None
    proven: pl.Schema | None = None
    #: The accepted plan reads a cached scan that queries beside the sink may share.
    cached: bool = False

    def fields(
        self, fields: list[tuple[str, str]], lineage: ColumnLineage | None = None
    ) -> list[tuple[str, str]]:
        """The evidence's fields: proven types for columns carried as text."""
        if self.typing is None or self.proven is None:
            return fields
        return self.typing.fields(fields, self.proven, lineage)


class _NativeCsv:
    """No schema, CSV: everything in Polars' streaming engine, no spill, no Python loop.

    The bytes are hashed (and their separators counted) on a thread; one
    streaming aggregate proves each used column's type and counts the rows for
    the shape check. That aggregate runs beside the output plan, in one pass
    over the CSV, when the file's first rows predict the types it proves
    (:func:`_fused`); otherwise, or when the prediction fails, it runs alone
    first. Falls back (``validated()`` is None) to the exact, chunked reader
    when the file needs it.
    """

    def __init__(
        self,
        plan: Plan,
        out: Execution,
        source: FileSource,
        separator: str,
        copy: StagedCopy | None,
    ) -> None:
        self.plan, self.out, self.separator = plan, out, separator
        self.path = source.path
        self.header = read_header(source.path, separator, source.location)
        self.typing = Typing.of(plan, self.header)
        self.inferrer = self.typing.inferrer(self.header)
        self._scan()
        # Row numbers name the rows rules quarantine; python steps and steps reading
        # `_row_number` see them. Otherwise nothing reads them, and numbering rows
        # slows Polars' scan (10M rows: 5.7 s against 7.2 s for bench_streaming's spec).
        self.numbered = plan.opaque or ROW_NUMBER in lineage_through(plan.steps, [ROW_NUMBER]).read
        self.quoted = False
        self.settled: bool | None = None
        # Hash the bytes on a thread while Polars parses: hashlib and Polars release the GIL.
        self._pool = ThreadPoolExecutor(max_workers=1)
        # Polars' streaming engine feeds the consumers of a shared scan through unbounded
        # buffers (polars-stream, nodes/multiplexer.rs): a sink slower than the queries
        # beside it lets the scan run ahead, and its buffer can grow to the whole parsed
        # input (an 800 MB CSV with a sink slowed to 50 ms per morsel: 1.5 GiB of RSS
        # against 0.5 GiB alone). Sharing the scan is only safe when the input would
        # fit in memory anyway; a larger one is proven in a pass of its own, and its
        # sink runs alone, with memory bounded by Polars' morsels.
        self.share_scan = not large_for_memory(source.path.stat().st_size)
        # A copy that cannot end as the output would cost a second copy of the file
        # on disk while the output is written: only one that may is attempted.
        if copy is not None and not CsvCopy.worth_trying(source.path, self.header, separator):
            copy = None
        self.copy = copy
        self._copying = CsvCopy(copy.handle) if copy is not None else None
        self._scanning = self._pool.submit(
            scan_csv_bytes, source.path, separator, source.on_bytes, copy=self._copying
        )
        #: What the first rows predict (rows present, no quote seen, their kinds), or None.
        self.expected: dict[str, str] | None = None
        #: Columns proven on their texts the first rows did not hold (see TypeInferrer.novel).
        self.novel: dict[str, pl.Expr] = {}
        #: Whether the proof parses every column (see _no_long_record).
        self.every_column = False
        #: Columns parsed straight to Int64, and the byte count proving them (see
        #: pipeline.io.typed_ints); None: every column is read as text.
        self.ints: IntAccounting | None = None
        self._novel_texts: dict[str, pl.Expr] = {}

    @classmethod
    def open(cls, plan: Plan, out: Execution, copy: StagedCopy | None) -> _NativeCsv | None:
        """Start reading ``plan.source`` natively, or None when it needs the chunked reader.

        ``copy`` receives the file's bytes as they are hashed (see :meth:`copied`).
        """
        source = plan.source
        if not isinstance(source, FileSource) or source.format != "csv":
            return None
        if set(plan.source_options) - {"separator"}:
            return None
        plan.log(
            "read",
            source.action,
            "started",
            details={"location": source.location, "mode": "streaming", "exact": False},
        )
        if source.path.stat().st_size <= 3:
            return None  # empty (or only a BOM): the exact reader says so in the usual words
        native = cls(plan, out, source, str(plan.source_options.get("separator", ",")), copy)
        try:
            if native.lazy.collect_schema().names()[1:] != native.header:
                native.close()
                return None
            # A head: the in-memory engine stops after it (the streaming one starts up slower).
            head = native.lazy.head(HEAD_ROWS).collect(engine="in-memory")
            native.inferrer.prune(head, blank_is_null=True)
            # Blank last cells already in the head: the proof parses every column in its
            # pass rather than in one of its own afterwards (see _no_long_record).
            native.every_column = bool(head.select(native.blank_last().any()).item())
            fusable = head.height > 0 and not _quoted_start(source.path, head)
        except pl.exceptions.PolarsError:
            native.close()
            return None
        except BaseException:
            native.close()  # no hashing thread outlives the run
            raise
        native.novel = native.inferrer.novel(native.header, blank_is_null=True)
        if fusable:
            native.expected = native.inferrer.kinds()
            native._read_ints()
        out.columns = list(native.header)  # the quarantine's columns, staged before settling
        return native

    def __enter__(self) -> _NativeCsv:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the hashing thread: none outlives the read (the exact path hashes anew)."""
        self._pool.shutdown(wait=True)

    def _scan(self, *, ints: list[str] | None = None) -> None:
        """(Re)plan the file's scan: every column text but ``ints``, cached for the
        queries that share its parse."""
        self.lazy = scan_text_csv(self.path, self.separator, ints=ints or ())
        self.base = self.lazy.cache()

    def _read_ints(self) -> None:
        """Parse the columns the first rows predict to be integers straight to Int64,
        when the pass parses every column anyway (the output holds them all) and
        shares its scan with the proof.

        A few-valued one too: counting its bytes is cheaper than looking its texts up.
        """
        plan, expected = self.plan, self.expected or {}
        if plan.steps or plan.quality is not None or plan.opaque or not self.share_scan:
            return
        if not clean_start(self.path):
            return  # a CRLF file would fail the count, at the cost of a pass (found by review)
        ints = [c for c in self.header if expected.get(c) == "int" and c not in self.typing.as_text]
        accounting = IntAccounting(self.header, ints)
        if accounting.columns:
            self.ints = accounting
            self._novel_texts, self.novel = (
                self.novel,
                {c: e for c, e in self.novel.items() if c not in accounting.columns},
            )
            self._scan(ints=accounting.columns)

    def read_text(self) -> bool:
        """Read every column as text again (an integer column did not prove); False
        when it was already."""
        if self.ints is None:
            return False
        self.ints = None
        self.novel = self._novel_texts  # few-valued columns are proven on their texts again
        self._scan()
        self.settled = None
        return True

    def queries(self) -> list[pl.LazyFrame]:
        """The proof: one row (the row count, the last column's blank cells, each used
        column's type aggregates), then the texts still to prove of each column in
        ``novel`` (a few rows each)."""
        ints = self.ints.columns if self.ints is not None else []
        text = [c for c in self.header if c not in ints]
        aggregates = self.inferrer.aggregates(text, blank_is_null=True, apart=self.novel)
        if self.ints is not None:
            aggregates += self.ints.aggregates()
        shape = [self.blank_last().sum().alias("\x00blank last")]
        if self.every_column:
            # Polars refuses a record longer than the header only when it parses every
            # column; a projection of some is silent (see settle).
            shape += [pl.col(c).null_count().alias(f"\x00parsed {c}") for c in self.header]
        return [
            self.base.select(pl.len().alias("\x00rows"), *shape, *aggregates),
            *(self.base.select(expr) for expr in self.novel.values()),
        ]

    def typed(self) -> _Validated:
        """The accepted rows, typed as the inferrer now says (predicted or proven)."""
        base = _blank_as_null(self.base, self.header) if self.quoted else self.base
        exprs = self.inferrer.exprs(as_text=self.typing.as_text)
        return _Validated(
            True,
            base.select(*([ROW_NUMBER] if self.numbered else []), *exprs),
            [],
            self.typing,
            self.inferrer.schema(),
            cached=self.share_scan,
        )

    def settle(self, proof: list[pl.DataFrame]) -> bool:
        """Take in the results of :meth:`queries`; False when the fast parse cannot be
        trusted (ragged records)."""
        row = proof[0].row(0, named=True)
        scan = self._scanning.result()
        rows = int(row["\x00rows"])
        inside = 0
        if scan.quotes and self.read_text():
            return False  # a quoted field is longer than its view: bytes prove nothing
        if scan.quotes:
            # Separators inside quoted values: only a file with quotes pays this extra pass.
            self.quoted = True
            inside = int(
                self.lazy.select(inside_separators(self.header, self.separator))
                .collect(engine="streaming")
                .item()
                or 0
            )
        # The record-wide parse (_no_long_record) only once the count holds, and only when
        # the proof did not parse every column already and a short record could hide.
        shaped = shape_holds(scan, self.header, rows, inside, self.separator) and (
            self.every_column or not row["\x00blank last"] or self._no_long_record()
        )
        if not shaped:
            self.settled = False
            return False
        if self.ints is not None:
            fields = field_bytes(self.path, scan.size, scan.separators, self.separator, rows)
            if fields is None or not self.ints.holds(row, field_bytes=fields):
                # Not proven by counting bytes: the texts prove (or refute) them instead.
                self.read_text()
                return False
            self.inferrer.absorb(
                {
                    f"{c}\x00{k}": v
                    for c, seen in self.ints.seen(row).items()
                    for k, v in (("seen", seen), ("int", True))
                }
            )
        self.inferrer.absorb(row)
        for column, texts in zip(self.novel, proof[1:], strict=True):
            self.inferrer.absorb_novel(column, texts.to_series())
        plan, out = self.plan, self.out
        out.input_hash, out.input_bytes, out.input_records = scan.sha256, scan.size, rows
        check_not_empty(plan, rows)
        log_read_completed(plan, out, 0)
        # Kept, not replaced: a fused pass set the quarantine's codes already (batch's
        # result had `rejected_by_code`, streaming's not; found by review).
        out.validation = {"engine": "inference", **out.validation}
        log_validate_started(plan)
        plan.log(
            "validate",
            "validate_schema",
            "completed",
            record_count=rows,
            details={"engine": "inference", "rejected": 0},
        )
        self.settled = True
        return True

    def blank_last(self) -> pl.Expr:
        """Where the last column's cell is blank: an empty last field, or a short record's
        padding (see _no_long_record)."""
        last = self.header[-1]
        if self.ints is not None and last in self.ints.columns:
            return pl.col(last).is_null()
        return missing(pl.col(last), blank_is_null=True)

    def _no_long_record(self) -> bool:
        """Parse every column once: whether Polars finds no record longer than the header.

        The separator count catches a short or a long record, but not one of each:
        their missing and extra separators cancel. A short record is padded with
        blanks, so a last column with no blank cell rules one out; with blanks (an
        optional last field, or padding), a long record must be ruled out, and only
        a parse of every column makes Polars refuse one.
        """
        try:
            self.lazy.select(pl.all().null_count()).collect(engine="streaming")
        except pl.exceptions.PolarsError:
            return False
        return True

    def copied(self) -> StagedCopy | None:
        """The copy of the file's bytes, once proven to be the output's bytes, or None."""
        if self._copying is None or not self.settled or self.quoted:
            return None
        self._scanning.result()  # the copy is written by the hashing thread
        return self.copy if self._copying.complete else None

    def held(self) -> bool:
        """Whether the proof confirmed the prediction the fused pass was planned on."""
        return not self.quoted and self.inferrer.kinds() == self.expected

    def validated(self) -> _Validated | None:
        """The accepted rows once proven (running the proof alone if it has not run)."""
        while self.settled is None:
            try:
                self.settle(pl.collect_all(self.queries(), engine="streaming"))
            except pl.exceptions.PolarsError:
                if self.read_text():
                    continue  # a column read as Int64 held another text
                return None  # the fast parse refused the file: the exact reader says why
        return self.typed() if self.settled else None


def _quoted_start(path: Path, head: pl.DataFrame) -> bool:
    """Whether the bytes of the first rows hold a quote (a quoted file is not fused)."""
    with path.open("rb") as handle:
        return b'"' in handle.read(max(1 << 16, min(int(head.estimated_size()), 1 << 24)))


def _fused(plan: Plan, out: Execution, native: _NativeCsv) -> Execution | None:
    """One pass over the CSV: the output plan, typed as the first rows predict, with the proof.

    The proof aggregate and the step counts run beside the sink over the same
    cached scan (Polars parses the file once). The staged output is kept only
    when the proof confirms every predicted type; otherwise it is discarded and
    the output plan runs again with the proven types, so the bytes are always
    those of the proven plan. Any failure in the pass is left to the two-pass
    path, which names a failing step with the proven types.
    """
    if native.expected is None or plan.opaque or not native.share_scan:
        # Rules and python steps would judge or see the predicted types (and a python
        # step would run twice if they were refuted); a large input keeps its sink alone.
        return None
    try:
        _transform_and_stage(plan, out, native.typed(), proof=native)
    except (pl.exceptions.PolarsError, PipelineError) as exc:
        # A Polars error: perhaps a column read as Int64 held another text. Our own error
        # before the proof settled (a JSON Lines output refusing NaN): the two-pass path
        # refuses it again, with the read's counts in the evidence (the failed result
        # said 0 records were read).
        if isinstance(exc, PipelineError) and native.settled is not None:
            raise
        _discard(out)
        native.read_text()
        return None
    if native.settled and native.held():
        return out
    _discard(out)
    return None


def _discard(out: Execution) -> None:
    """Abort what a fused pass staged; the run starts its output plan again."""
    for staged in (out.staged_output, out.staged_quarantine):
        if staged is not None:
            staged.abort()
    out.staged_output = out.staged_quarantine = None
    out.filtered = {}
    # Nothing of the discarded plan may reach a later failure's evidence.
    out.output_fields, out.lineage, out.rejected_records = [], None, 0
    out.validation.pop("rejected_by_code", None)


def _blank_as_null(lazy: pl.LazyFrame, header: list[str]) -> pl.LazyFrame:
    """A quoted empty field ("") is an empty cell, hence null, as in the batch reader."""
    return lazy.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in header
    )


def _read_validate(plan: Plan, out: Execution, spill: Path, *, exact: bool) -> _Validated:
    source = plan.source
    plan.log(
        "read",
        source.action,
        "started",
        details={"location": source.location, "mode": "streaming", "exact": exact},
    )
    batches = source.read_batches(options=plan.source_options, batch_rows=BATCH_ROWS, exact=exact)
    out.columns = list(batches.columns)
    accepted = _Accepted(spill)
    rejected_parts: list[pl.DataFrame] = []
    reports: list[dict[str, Any]] = []
    typing = Typing.of(plan, out.columns) if plan.model is None else None
    inferrer = typing.inferrer(out.columns) if typing is not None else None
    validator = plan.validator()
    inferred = False  # a typed source (Parquet, a table) keeps its own types
    for text, typed in batches:
        if inferrer is not None and typed is None:
            inferrer.update(text)
            accepted.append(text)
            inferred = True
            continue
        valid, rejected, report = validate_frame(text, out.columns, validator, typed)
        reports.append(report)
        accepted.append(valid)
        if rejected.height:
            rejected_parts.append(rejected)
    if not batches.shape_ok:
        return _Validated(False)
    if accepted.schema is None:
        # No chunk at all (a header and nothing else, allowed empty): the spill takes
        # the schema batch mode gives an empty frame, so both write the same bytes.
        accepted.append(validate_frame(empty_text(out.columns), out.columns, validator)[0])
    out.input_hash = batches.digest
    out.input_bytes = batches.size_bytes
    out.input_records = batches.records
    check_not_empty(plan, out.input_records)
    log_read_completed(plan, out, len(batches.malformed))
    out.validation = _merge_reports(reports, inferrer is not None)
    rejected_parts.append(q.from_malformed(batches.malformed, out.columns))
    log_validate_started(plan)
    plan.log(
        "validate",
        "validate_schema",
        "completed",
        record_count=accepted.rows,
        details={
            "engine": out.validation.get("engine"),
            "rejected": sum(p.height for p in rejected_parts),
        },
    )
    lazy = accepted.scan()
    if inferrer is None or typing is None or not inferred:
        return _Validated(True, lazy, rejected_parts)
    lazy = lazy.select(pl.col(ROW_NUMBER), *inferrer.exprs(as_text=typing.as_text))
    return _Validated(True, lazy, rejected_parts, typing, inferrer.schema())


def _transform_and_stage(
    plan: Plan,
    out: Execution,
    validated: _Validated,
    *,
    proof: _NativeCsv | None = None,
    copy: StagedCopy | None = None,
) -> Execution:
    """Run the steps and stage the outputs.

    ``proof``: run its proof beside the sink and settle it (see :func:`_fused`);
    the caller checks that it held. The transform's opening entry then follows
    the read's and validation's closing ones, as in every other run, and says
    the steps ran in the read's pass (``one_pass``).

    ``copy``: the source's bytes, already staged, are the output's (a plain copy
    whose every row was accepted): no plan runs.
    """
    assert validated.accepted is not None
    frame = validated.accepted
    rejected_parts = validated.rejected_parts
    out.input_fields = fields_of(frame)
    lineage = ColumnLineage.identity([n for n, _ in out.input_fields])
    out.input_fields = validated.fields(out.input_fields)
    if plan.quality is not None and plan.quality.stage == "input":
        frame = _quality(plan, frame, rejected_parts, out)
    plans: list[pl.LazyFrame] = [frame]
    if plan.steps:
        if proof is None:
            log_steps_started(plan, "streaming")
        for step in plan.steps:
            plans.append(step.apply(plans[-1], plan.ctx))
            lineage = step.lineage(lineage)
        frame = plans[-1]
    counting = [i for i, step in enumerate(plan.steps, start=1) if step.removes_rows]
    counters: list[_RowCounter] = []
    beside = proof.queries() if proof is not None else []
    proving = len(beside)  # the step counts follow the proof's queries
    if plan.quality is not None and plan.quality.stage == "output":
        # Rules judge the transformed rows, so step counts are taken before the sink.
        queries = [plans[0]] + [plans[i] for i in counting] if counting else []
        _count_steps(plan, queries, counting, out, None)
        frame = _quality(plan, frame, rejected_parts, out)
        counting = []
    elif (tapped := counting[:-1]) and validated.cached:
        # Not needed before the steps (the rows read minus those set aside) nor after
        # the last one (only row-preserving steps follow it: the sink's count). Over
        # a cached scan, a count beside the sink shares its parse: 0.1 s per GiB.
        beside += [plans[i].select(pl.len()) for i in tapped]
    elif tapped:
        # Count rows as they stream past the row-removing steps: no extra scan. Each
        # tap is a Python call per morsel, about 0.5 s per GiB of CSV.
        counters = [_RowCounter() for _ in tapped]
        frame = plans[0]
        for index, step in enumerate(plan.steps, start=1):
            frame = step.apply(frame, plan.ctx)
            if index in tapped:
                frame = counters[tapped.index(index)].tap(frame)
    out.lineage = lineage
    try:
        schema = frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        if proof is not None:
            raise  # maybe the predicted types: the two-pass path plans with the proven ones
        raise _planning_error(plan, plans, exc) from exc
    final = frame.drop(ROW_NUMBER) if ROW_NUMBER in schema else frame
    out.output_fields = validated.fields(fields_of(final), lineage)
    rejected_all = q.combine(rejected_parts, out.columns)
    out.rejected_records = rejected_all.height
    out.validation["rejected_by_code"] = q.count_codes(rejected_all)
    plan.enter("write")
    with plan.progress.stage("write"):
        out.staged_quarantine = plan.quarantine.stage(rejected_all)
        try:
            if copy is not None and not rejected_all.height and not beside:
                assert out.input_hash is not None and out.input_bytes is not None  # settled
                staged = copy.finish(out.input_hash, out.input_bytes, out.input_records)
            else:
                staged = plan.sink.stage_lazy(
                    final,
                    prune_columns=_passes_a_column_through(lineage, out.output_fields),
                    beside=beside,
                )
        except pl.exceptions.PolarsError as exc:
            out.staged_quarantine.abort()
            if proof is not None:
                raise  # a fused pass: the two-pass path runs again and names the cause
            disk = write_failure(exc, plan.sink.format, plan.sink.location)
            if disk is not None:  # the disk, not the plan: no step to look for
                raise disk from exc
            failing = _failing_step(plan, plans)
            if failing is not None:
                raise step_error(failing, exc) from exc
            raise PipelineError(
                f"the streaming plan failed ({type(exc).__name__})",
                hint="run again with --debug, or in batch mode",
            ) from exc
        except BaseException:
            out.staged_quarantine.abort()
            raise
        out.staged_output = staged
    counts = [int(df.item()) for df in staged.beside[proving:]]
    if proof is not None:
        if not (proof.settle(list(staged.beside[:proving])) and proof.held()):
            return out  # the caller discards what was staged
        if plan.steps:
            log_steps_started(plan, "streaming", one_pass=True)
    if counting:
        entering = out.input_records - sum(p.height for p in rejected_parts)
        lengths = [entering, *counts, *(c.rows for c in counters), staged.records]
        _count_steps(plan, [], counting, out, lengths)
    if plan.steps:
        plan.log(
            "transform",
            "transform_steps",
            "completed",
            record_count=staged.records,
            details={"filtered_records": out.filtered},
        )
    out.output_records = staged.records
    return out


def _passes_a_column_through(lineage: ColumnLineage, fields: list[tuple[str, str]]) -> bool:
    """Whether some output column is an input column passed on unchanged (or renamed).

    Such a column is never computed from literals, which is what keeps Polars'
    column pruning safe here (see :func:`pipeline.io.base.sink_optimizations`);
    without one (every column derived, or a python step that declares nothing),
    the sink keeps the plan's columns until its end.
    """
    if lineage.opaque_steps:
        return False
    columns = lineage.columns([name for name, _ in fields])
    return any(
        len(sources) == 1 and sources[0].subtype == "IDENTITY" for sources in columns.values()
    )


def _planning_error(plan: Plan, plans: list[pl.LazyFrame], exc: Exception) -> Exception:
    """A plan Polars cannot even type (a missing column, a rename onto a taken name,
    an operator on the wrong types): the first step whose schema fails, as batch
    mode names it."""
    for step, after in zip(plan.steps, plans[1:], strict=True):
        try:
            after.collect_schema()
        except pl.exceptions.PolarsError:
            return step_error(step, exc)
    return exc


def _failing_step(plan: Plan, plans: list[pl.LazyFrame]) -> Step | None:
    """Which step a failed plan broke in: run the plan step by step until one fails."""
    for step, after in zip(plan.steps, plans[1:], strict=True):
        try:
            # null_count of every column forces every expression, in bounded memory.
            after.select(pl.all().null_count()).collect(engine="streaming")
        except pl.exceptions.PolarsError:
            return step
    return None


class _RowCounter:
    """Counts the rows that stream through a point of a lazy plan (thread-safe)."""

    def __init__(self) -> None:
        self.rows = 0
        self._lock = threading.Lock()

    def _count(self, batch: pl.DataFrame) -> pl.DataFrame:
        with self._lock:
            self.rows += batch.height
        return batch

    def tap(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """``frame`` unchanged, with every row counted as it passes."""
        return frame.map_batches(self._count, streamable=True, schema=frame.collect_schema())


def _count_steps(
    plan: Plan,
    queries: list[pl.LazyFrame],
    counting: list[int],
    out: Execution,
    lengths: list[int] | None,
) -> None:
    """Rows removed by each row-removing step, from the lengths before and after it."""
    if not counting:
        return
    if lengths is None:
        try:
            lengths = [
                int(df.item())
                for df in pl.collect_all(
                    [query.select(pl.len()) for query in queries], engine="streaming"
                )
            ]
        except pl.exceptions.PolarsError as exc:
            raise step_error(plan.steps[counting[0] - 1], exc) from None
    previous = lengths[0]
    for index, length in zip(counting, lengths[1:], strict=True):
        counted(plan.steps[index - 1], previous, length, out.filtered)
        previous = length


def _quality(
    plan: Plan, frame: pl.LazyFrame, rejected_parts: list[pl.DataFrame], out: Execution
) -> pl.LazyFrame:
    assert plan.quality is not None
    applied: QualityApplied = apply_quality(frame, plan.quality, plan.ctx, engine="streaming")
    if applied.failures:
        rejected_parts.append(
            q.from_rule_failures(_original_rows(plan, applied, out), applied.failures)
        )
    out.quality = applied.evidence()
    out.quality_metrics = applied.metrics
    out.quality_failed = applied.failed_errors
    log_quality(plan, applied, out.quality)
    return applied.kept


def _original_rows(plan: Plan, applied: QualityApplied, out: Execution) -> pl.DataFrame:
    """The original text of quarantined rows: a second, filtered pass over the source.

    The pass reads as the first one did: the fast reader, and the exact one when
    its shape check fails (a ragged record stops or pads the fast parse, which
    lost the rows after it, or raised on an empty frame). It must read the
    same bytes, and find every quarantined row, or the run stops: a row judged
    but not quarantined would break record conservation.
    """
    wanted = pl.Series(sorted(applied.failures), dtype=pl.Int64)
    for exact in (False, True):
        batches = plan.source.read_batches(
            options=plan.source_options, batch_rows=BATCH_ROWS, exact=exact
        )
        parts = [
            text.filter(pl.col(ROW_NUMBER).is_in(wanted.implode())) for text, _typed in batches
        ]
        if batches.shape_ok:
            break
    if batches.digest != out.input_hash:
        raise input_changed(
            plan.source.location, "its SHA-256 differs between the run's two passes over it"
        )
    original = pl.concat(parts) if parts else pl.DataFrame({ROW_NUMBER: wanted.head(0)})
    if original.height != len(wanted):
        raise RuntimeError(
            f"{len(wanted) - original.height} quarantined row(s) were not found again in "
            "the source; nothing was written"
        )
    return original


def _merge_reports(reports: list[dict[str, Any]], inferred: bool) -> dict[str, Any]:
    if inferred or not reports:
        return {"engine": "inference"}
    merged = dict(reports[0])
    for key in ("total", "valid_count", "rejected_count"):
        merged[key] = sum(int(r.get(key, 0)) for r in reports)
    counts: dict[tuple[Any, Any], int] = {}
    for report in reports:
        for item in report.get("errors", []):
            k = (item.get("column"), item.get("code"))
            counts[k] = counts.get(k, 0) + int(item.get("count", 0))
    merged["errors"] = [
        {"column": c, "code": k, "count": n}
        for (c, k), n in sorted(counts.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))
    ]
    return merged
