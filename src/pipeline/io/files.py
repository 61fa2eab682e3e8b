"""Local file connectors: CSV, Parquet and JSON Lines.

Sources read everything as text (Parquet also keeps its typed frame for a
no-schema copy); sinks stage the file beside the target and commit it with an
atomic rename (see :mod:`pipeline.io.atomic`).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from pipeline.errors import (
    ConfigError,
    InputError,
    MalformedInputError,
    NotDurableError,
    OutputError,
)
from pipeline.hashing import FileDigest, Inspector, hash_while_writing, sha256_file
from pipeline.io.atomic import (
    check_writable_target,
    publish,
    stage_file,
    staging_path,
    write_failed,
)
from pipeline.io.base import (
    ROW_NUMBER,
    BatchRead,
    ChunkedRead,
    ReadResult,
    Sink,
    Source,
    StagedCopy,
    StagedWrite,
    WriteResult,
    check_column_names,
    sink_optimizations,
)
from pipeline.io.csv_reader import CsvBatches, count_byte, read_csv_text
from pipeline.io.jsonl_reader import JsonlBatches, read_jsonl_text

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

__all__ = ["FORMATS", "FileSink", "FileSource", "format_for_path", "os_reason", "write_failure"]

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

ProgressFn = Callable[[int], None]


def format_for_path(path: Path, declared: str | None = None) -> str:
    """Return the format named by ``declared`` or by the file extension."""
    if declared is not None:
        if declared not in set(FORMATS.values()):
            raise ConfigError(
                f"unknown format {declared!r}",
                key="format",
                hint=f"use one of {', '.join(sorted(set(FORMATS.values())))}",
            )
        return declared
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"cannot tell the format of {str(path)!r} from its extension",
            dataset=str(path),
            hint=f"use an extension among {', '.join(sorted(FORMATS))} or declare the format",
        )
    return fmt


class FileSource(Source):
    """A local CSV, Parquet or JSON Lines file."""

    kind = "file"

    def __init__(
        self, path: Path, fmt: str | None = None, *, on_bytes: ProgressFn | None = None
    ) -> None:
        self.path = path
        self.location = str(path)
        self.format = format_for_path(path, fmt)
        self.on_bytes = on_bytes

    def version(self) -> tuple[int, ...] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None  # missing or unreadable: the read says so in its own words
        # ctime too: a same-size rewrite can put the modification time back (os.utime,
        # touch -r, rsync -t), but nothing outside the kernel sets the change time.
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def read(self, *, options: dict[str, Any] | None = None) -> ReadResult:
        """Read the file; raise :class:`InputError` naming the file when it cannot be."""
        options = dict(options or {})
        self._check_exists()
        try:
            if self.format == "csv":
                return self._read_csv(options)
            if self.format == "parquet":
                return self._read_parquet()
            return self._read_jsonl()
        except PermissionError:
            raise InputError(
                "the input file cannot be read (permission denied)", dataset=self.location
            ) from None

    def read_batches(
        self,
        *,
        options: dict[str, Any] | None = None,
        batch_rows: int = 250_000,
        exact: bool = False,
    ) -> BatchRead:
        """Chunked reading for streaming mode: memory bounded by the chunk in every format."""
        options = dict(options or {})
        self._check_exists()
        if self.format == "csv":
            separator = str(options.pop("separator", ","))
            if options:
                raise ConfigError(
                    f"unknown CSV option {next(iter(options))!r}", hint="use 'separator'"
                )
            csv_batches = CsvBatches(
                self.path,
                separator=separator,
                batch_rows=batch_rows,
                exact=exact,
                on_bytes=self.on_bytes,
            )
            return ChunkedRead(
                csv_batches,
                csv_batches.header,
                csv_batches.malformed,
                lambda: (csv_batches.shape_ok, csv_batches.scan.sha256, csv_batches.scan.size),
            )
        if self.format == "parquet":
            return _ParquetBatchRead(self.path, batch_rows, self.on_bytes)
        jsonl = JsonlBatches(
            self.path, self.location, batch_rows=batch_rows, on_bytes=self.on_bytes
        )
        return ChunkedRead(
            jsonl, jsonl.columns, jsonl.malformed, lambda: (True, jsonl.sha256, jsonl.size)
        )

    def _check_exists(self) -> None:
        if not self.path.exists():
            raise InputError(
                "the input file does not exist",
                dataset=self.location,
                hint="check the path (relative paths resolve against the current directory)",
            )
        if self.path.is_dir():
            raise InputError("the input path is a directory, not a file", dataset=self.location)
        if not self.path.is_file():
            # A FIFO, socket or device (/dev/zero) would block or never end.
            raise InputError(
                "the input is not a regular file (a pipe, socket or device)",
                dataset=self.location,
                hint="copy the data into a regular file and run on that",
            )

    def _read_csv(self, options: dict[str, Any]) -> ReadResult:
        separator = str(options.pop("separator", ","))
        if options:
            raise ConfigError(f"unknown CSV option {next(iter(options))!r}", hint="use 'separator'")
        text = read_csv_text(self.path, separator=separator, on_bytes=self.on_bytes)
        frame = text.frame
        if text.scan.quotes:
            # A quoted empty field ("") is an empty cell too (ARCHITECTURE: empty is null).
            frame = frame.with_columns(
                pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
                for c in text.header
            )
        return ReadResult(
            frame=frame,
            malformed=text.malformed,
            digest=text.scan.sha256,
            columns=text.header,
            size_bytes=text.scan.size,
        )

    def _read_parquet(self) -> ReadResult:
        digest = sha256_file(self.path, on_block=self.on_bytes)
        try:
            typed = pl.read_parquet(self.path, glob=False)
        except pl.exceptions.PolarsError as exc:
            raise MalformedInputError(
                f"the file is not a readable Parquet file ({type(exc).__name__})",
                dataset=self.location,
                hint="check that the file is complete Parquet (not CSV renamed .parquet)",
            ) from None
        check_flat_columns(typed.schema, self.location)
        text = typed.with_columns(pl.all().cast(pl.String))
        text = text.with_row_index(ROW_NUMBER, offset=1).with_columns(
            pl.col(ROW_NUMBER).cast(pl.Int64)
        )
        return ReadResult(
            frame=text,
            malformed=[],
            digest=digest.sha256,
            columns=typed.columns,
            size_bytes=digest.size,
            typed_frame=typed,
        )

    def _read_jsonl(self) -> ReadResult:
        text = read_jsonl_text(self.path, self.location, self.on_bytes)
        return ReadResult(text.frame, text.malformed, text.sha256, text.columns, text.size)


def check_flat_columns(schema: pl.Schema, location: str) -> None:
    """Every column must have one text form per cell, as a run reads, validates and
    quarantines text: nested (struct, list, array), binary and duration columns do
    not (Polars casts no duration to text and writes none to CSV). Its name must be
    one a run can carry (:func:`check_column_names`)."""
    check_column_names(schema.names(), location)
    unsupported = [
        f"{name!r} ({dtype.base_type().__name__})"
        for name, dtype in schema.items()
        if dtype.is_nested() or isinstance(dtype, pl.Duration) or dtype in (pl.Binary, pl.Object)
    ]
    if unsupported:
        raise InputError(
            f"column(s) {', '.join(unsupported)} hold nested, binary or duration values, "
            "which a run cannot read as one text value per cell",
            dataset=location,
            hint="flatten nested columns (Polars: unnest, explode or json_encode), cast "
            "durations to a count of a stated unit or to ISO 8601 text, or write the "
            "file without them",
        )


class _ParquetBatchRead(BatchRead):
    def __init__(self, path: Path, batch_rows: int, on_bytes: ProgressFn | None) -> None:
        digest = sha256_file(path, on_block=on_bytes)
        self.path = path
        self.batch_rows = batch_rows
        self.digest = digest.sha256
        self.size_bytes = digest.size
        self.malformed = []
        self.shape_ok = True
        self._records = 0
        try:
            schema = pl.scan_parquet(path, glob=False).collect_schema()
        except pl.exceptions.PolarsError:
            raise MalformedInputError(
                "the file is not a readable Parquet file",
                dataset=str(path),
                hint="check that the file is complete Parquet (not CSV renamed .parquet)",
            ) from None
        check_flat_columns(schema, str(path))
        self.columns = list(schema)

    def __iter__(self) -> Iterator[tuple[pl.DataFrame, pl.DataFrame | None]]:
        offset = 1
        for typed in pl.scan_parquet(self.path, glob=False).collect_batches(
            chunk_size=self.batch_rows
        ):
            text = typed.with_columns(pl.all().cast(pl.String))
            text = text.select(
                pl.int_range(offset, offset + typed.height, dtype=pl.Int64).alias(ROW_NUMBER),
                pl.all(),
            )
            offset += typed.height
            self._records += typed.height
            yield text, typed


class _WrittenRows:
    """Counts the rows of a CSV or JSON Lines file Polars wrote, block by block.

    Fed the blocks of the pass that hashes the file, so counting costs no read
    of its own. JSON Lines: one row per LF (JSON escapes LFs in strings). CSV:
    the LFs outside quoted values, less the header's. Polars quotes every value
    holding a quote, separator or line break and doubles its quotes, so the
    parity of the quotes seen so far tells inside from outside.
    """

    def __init__(self, fmt: str) -> None:
        self.csv = fmt == "csv"
        self.newlines = 0
        self.inside = False
        self.seen = 0  # bytes of the file seen so far

    def __call__(self, block: bytes | bytearray) -> None:
        before, self.seen = self.seen, self.seen + len(block)
        if not self.csv or b'"' not in block:
            if not self.inside:
                self.newlines += count_byte(block, b"\n", before=before)
            return
        parts = block.split(b'"')
        # Parts alternate outside/inside a quoted value, starting as the last block ended.
        outside = b"".join(parts[1 if self.inside else 0 :: 2])
        self.newlines += count_byte(outside, b"\n", before=before)
        self.inside ^= (len(parts) - 1) % 2 == 1

    @property
    def rows(self) -> int:
        return max(self.newlines - 1, 0) if self.csv else self.newlines


class _StagedFile(StagedWrite):
    def __init__(self, temp: Path, target: Path, digest: FileDigest, records: int) -> None:
        self.temp = temp
        self.target = target
        self.digest = digest
        self.records = records

    def commit(self) -> WriteResult:
        result = WriteResult(str(self.target), self.digest.sha256, self.records, self.digest.size)
        try:
            publish(self.temp, self.target)
        except NotDurableError as exc:
            exc.published = result  # in place, not durable: the run's evidence says which
            raise
        return result

    def abort(self) -> None:
        self.temp.unlink(missing_ok=True)


class _StagedCopy(StagedCopy):
    """A temp file beside the target that a source copies its bytes into."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = staging_path(target)
        self.finished = False
        try:
            self.handle = self.temp.open("xb")
        except OSError as exc:
            raise write_failed(target, exc) from None

    def finish(self, digest: str, size: int, records: int) -> StagedWrite:
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            written = self.temp.stat().st_size
        except OSError as exc:
            self.abort()
            raise write_failed(self.target, exc) from None
        if written != size:  # cannot happen unless another process wrote to our temp
            self.abort()
            raise OutputError(
                f"the staged copy holds {written} bytes where {size} were written",
                dataset=str(self.target),
                hint="another process wrote to the output's temporary file; run again",
            )
        self.finished = True  # the staged write owns the temp file from here
        return _StagedFile(self.temp, self.target, FileDigest(digest, size), records)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        if not self.finished:
            self.temp.unlink(missing_ok=True)


class FileSink(Sink):
    """A local CSV, Parquet or JSON Lines file, written atomically."""

    kind = "file"

    def __init__(self, path: Path, fmt: str | None = None, *, what: str = "output") -> None:
        check_writable_target(path, what=what)
        self.path = path
        self.location = str(path)
        self.format = format_for_path(path, fmt)
        self.writes_csv_text = self.format == "csv"

    def stage_lazy(
        self,
        frame: pl.LazyFrame,
        *,
        prune_columns: bool = True,
        beside: Sequence[pl.LazyFrame] = (),
    ) -> StagedWrite:
        """Stream a plan into a fsynced temp file beside the target.

        The written row count is read from the written file, by the reader that hashes
        it as it is written. A count query in the same ``collect_all`` as the sink,
        over a scan not marked ``cache()``, made Polars hold the shared scan whole (a
        10M-row streaming run with a schema peaked at 1.5 GiB in that write, against
        0.4 GiB without it): ``beside`` queries must share a cached plan.
        """
        optimizations = sink_optimizations(prune_columns)
        results: list[pl.DataFrame] = []
        floats = _NonFinite.watch(self.format, frame.collect_schema())
        if floats is not None:
            frame = floats.tap(frame)

        def write(temp: Path) -> None:
            queries = [_lazy_sink(self.format, frame, temp), *beside]
            results.extend(
                pl.collect_all(queries, engine="streaming", optimizations=optimizations)[1:]
            )

        # A Polars error here comes from the plan (a step failing on the data), not from
        # writing: let it through so the caller can name the step.
        staged = self._stage_hashed(write, None)
        if floats is not None and floats.found:
            staged.abort()
            raise floats.error(self.location)
        staged.beside = results
        return staged

    def open_copy(self) -> StagedCopy | None:
        """A temp file beside the target for a CSV source's own bytes (CSV targets only).

        Only into an existing directory: the copy starts before the source is read, and
        a run that then fails must not leave a directory it made behind.
        """
        if self.format != "csv" or not self.path.parent.is_dir():
            return None
        return _StagedCopy(self.path)

    def stage(self, frame: pl.DataFrame) -> StagedWrite:
        """Write ``frame`` to a fsynced temp file beside the target."""
        floats = _NonFinite.watch(self.format, frame.schema)
        if floats is not None:
            floats.count(frame)
            if floats.found:
                raise floats.error(self.location)
        try:
            return self._stage_hashed(_writer(self.format, frame), frame.height)
        except pl.exceptions.PolarsError as exc:
            raise write_failure(exc, self.format, self.location) or OutputError(
                f"Polars could not write the {self.format} file ({type(exc).__name__})",
                dataset=self.location,
            ) from exc

    def _stage_hashed(self, write: Callable[[Path], None], records: int | None) -> _StagedFile:
        """Stage via ``write(temp)``, hashing the bytes while they are written.

        ``records=None``: count them in the written file (CSV, JSON Lines: in
        the hashing pass; Parquet: from its footer).
        """
        fmt = self.format
        counter = (lambda: _WrittenRows(fmt)) if records is None and fmt != "parquet" else None
        hashed: list[tuple[FileDigest, Inspector | None]] = []

        def write_and_hash(temp: Path) -> None:
            hashed.append(
                hash_while_writing(temp, lambda: write(temp), inspector=counter, flush_behind=True)
            )

        temp = stage_file(self.path, write_and_hash)
        digest, counted = hashed[0]
        if records is None:
            if isinstance(counted, _WrittenRows):
                records = counted.rows
            else:  # Parquet says in its footer
                records = int(pl.scan_parquet(temp, glob=False).select(pl.len()).collect().item())
        return _StagedFile(temp, self.path, digest, records)


def _non_finite(col: pl.Expr, dtype: PolarsDataType) -> pl.Expr | None:
    """Per row, how many NaN or infinite floats ``col`` holds, in lists, arrays and
    structs too; None when its type holds no float."""
    if dtype.is_float():
        return (~col.is_finite()).fill_null(value=False).cast(pl.Int64)
    if isinstance(dtype, pl.List | pl.Array):
        inner = _non_finite(pl.element(), dtype.inner)
        if inner is None:
            return None
        listed = col.cast(pl.List(dtype.inner)) if isinstance(dtype, pl.Array) else col
        return listed.list.eval(inner).list.sum().fill_null(0)
    if isinstance(dtype, pl.Struct):
        parts = [
            part
            for field in dtype.fields
            if (part := _non_finite(col.struct.field(field.name), field.dtype)) is not None
        ]
        return pl.sum_horizontal(parts) if parts else None
    return None


class _NonFinite:
    """Counts NaN and infinite floats bound for a JSON Lines file (JSON has none).

    Polars writes them as ``null``: a faithful copy would lose them silently (found
    by review: ``NaN``, ``inf`` and ``-inf`` became nulls). A run refuses instead.
    Floats inside a list or struct (a python step's output) count too.
    """

    def __init__(self, counters: dict[str, pl.Expr]) -> None:
        self.counters = counters
        self.found: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def watch(cls, fmt: str, schema: pl.Schema) -> _NonFinite | None:
        if fmt != "jsonl":
            return None
        counters = {
            name: counter
            for name, dtype in schema.items()
            if (counter := _non_finite(pl.col(name), dtype)) is not None
        }
        return cls(counters) if counters else None

    def count(self, batch: pl.DataFrame) -> pl.DataFrame:
        counts = batch.select(e.sum().alias(c) for c, e in self.counters.items()).row(0, named=True)
        with self._lock:
            for column, n in counts.items():
                if n:
                    self.found[column] = self.found.get(column, 0) + int(n)
        return batch

    def tap(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """``frame`` unchanged, counted as it streams to the sink (no second pass)."""
        return frame.map_batches(self.count, streamable=True, schema=frame.collect_schema())

    def error(self, location: str) -> OutputError:
        named = ", ".join(f"{column!r} ({n})" for column, n in sorted(self.found.items()))
        return OutputError(
            f"JSON has no NaN or infinity, and these columns hold some: {named}",
            dataset=location,
            hint="write CSV or Parquet, which keep them, or filter or fill them in a step; "
            "nothing was written",
        )


_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def os_reason(exc: Exception) -> str | None:
    """The OS's words for the error inside a Polars error ("... (os error 28)"), or None."""
    found = _OS_ERROR.search(str(exc))
    return None if found is None else os.strerror(int(found.group(1)))


def write_failure(exc: Exception, fmt: str, location: str) -> OutputError | None:
    """The OS error inside a Polars write error (a full disk, a file-size limit), or None.

    Polars' Parquet writer reports ENOSPC or EFBIG as a ComputeError ("underlying
    IO error: ... (os error 27)"); said as it is, the user is sent to check the
    path or the steps instead of the disk.
    """
    reason = os_reason(exc)
    if reason is None:
        return None
    return OutputError(
        f"cannot write the {fmt} file ({reason})",
        dataset=location,
        hint="check free disk space, quotas and file-size limits of the output directory; "
        "the previous output, if any, is untouched",
    )


def _writer(fmt: str, frame: pl.DataFrame) -> Callable[[Path], None]:
    if fmt == "csv":
        return lambda p: frame.write_csv(p)
    if fmt == "parquet":
        # Fixed row-group size and statistics keep the bytes identical across runs.
        return lambda p: frame.write_parquet(
            p, compression="zstd", statistics=True, row_group_size=512 * 1024
        )
    return lambda p: frame.write_ndjson(p)


def _lazy_sink(fmt: str, frame: pl.LazyFrame, path: Path) -> pl.LazyFrame:
    # The same options as the eager writers: both modes write identical bytes.
    if fmt == "csv":
        return frame.sink_csv(path, lazy=True)
    if fmt == "parquet":
        return frame.sink_parquet(
            path, compression="zstd", statistics=True, row_group_size=512 * 1024, lazy=True
        )
    return frame.sink_ndjson(path, lazy=True)
