"""The connector contract every source and sink implements.

Nothing above the I/O layer knows whether data lives in a local file, a
database table, an object store or memory: it sees a :class:`Source` that
returns a :class:`ReadResult` (all-text columns, rows the format could not
parse, a content digest) and a :class:`Sink` that stages a write and commits
it atomically (:class:`StagedWrite`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import polars as pl

from pipeline.errors import InputError

__all__ = [
    "ROW_NUMBER",
    "BatchRead",
    "ChunkedRead",
    "MalformedRow",
    "ReadResult",
    "Sink",
    "Source",
    "StagedCopy",
    "StagedWrite",
    "WriteResult",
    "check_column_names",
    "empty_text",
    "input_changed",
    "sink_optimizations",
]

ROW_NUMBER = "_row_number"
"""Column the reader adds: the 1-based data record number in the source."""

DatasetKind = Literal["file", "database", "object", "memory"]


_QUARANTINE_COLUMNS = ("_errors", "_raw")
"""The quarantine's own columns besides ``_row_number`` (pipeline.quarantine.ERRORS, RAW)."""


def check_column_names(names: Iterable[str], location: str, *, line: int | None = None) -> None:
    """Refuse a source column that a run cannot carry under its own name: one the
    quarantine reserves, or one Polars reads as a pattern (``*`` selects every
    column, ``^…$`` is a regular expression), which would select other columns."""
    for name in names:
        if not name:
            # A CSV header says so in its own words; a Parquet column or a JSON key named
            # "" was carried and written as a CSV header `""` (found by review).
            raise InputError(
                "a column has no name (an empty column name or key)",
                dataset=location,
                line=line,
                hint="give every column a name in the source",
            )
        if name.startswith(ROW_NUMBER) or name in _QUARANTINE_COLUMNS:
            reason = "is reserved for the quarantine"
        elif name == "*" or (len(name) > 1 and name.startswith("^") and name.endswith("$")):
            reason = (
                "reads as a pattern to Polars ('*' is every column, '^…$' a regular "
                "expression), not as one column"
            )
        else:
            continue
        raise InputError(
            f"column name {name!r} {reason}",
            dataset=location,
            line=line,
            column=name,
            hint="rename the column in the source",
        )


def empty_text(columns: list[str]) -> pl.DataFrame:
    """An all-text frame with no rows: ``_row_number`` (Int64) and ``columns`` (String)."""
    return pl.DataFrame(schema={ROW_NUMBER: pl.Int64, **dict.fromkeys(columns, pl.String)})


@dataclass(frozen=True, slots=True)
class MalformedRow:
    """A record the format itself could not parse into the header's columns.

    ``raw`` is the record's original text (data, kept only in the quarantine,
    never in evidence); ``message`` never contains it.
    """

    row_number: int
    line: int
    raw: str
    message: str


@dataclass(slots=True)
class ReadResult:
    """What a source hands to validation."""

    frame: pl.DataFrame
    """Every column ``pl.String`` (null = empty cell) plus ``_row_number`` (Int64)."""
    malformed: list[MalformedRow]
    digest: str
    """SHA-256 hex of the file, or a dataset digest for non-file sources."""
    columns: list[str]
    """The source's column names in order (the header)."""
    size_bytes: int | None = None
    typed_frame: pl.DataFrame | None = None
    """The frame with the format's own types (Parquet), which a no-schema run keeps."""

    @property
    def records(self) -> int:
        """Every record the source held, parsed or not."""
        return self.frame.height + len(self.malformed)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The evidence of one committed write."""

    location: str
    digest: str
    records: int
    size_bytes: int | None


class StagedWrite(ABC):
    """A write that is complete but not yet visible; ``commit`` publishes it atomically."""

    records: int
    #: Results of the queries run beside the write (``Sink.stage_lazy(beside=...)``).
    beside: Sequence[pl.DataFrame] = ()

    @abstractmethod
    def commit(self) -> WriteResult:
        """Make the staged data visible under its final name."""

    @abstractmethod
    def abort(self) -> None:
        """Discard the staged data; the previous output (or none) stays."""


class StagedCopy(ABC):
    """A staged file that a run fills with its source's own bytes (:meth:`Sink.open_copy`)."""

    handle: BinaryIO

    @abstractmethod
    def finish(self, digest: str, size: int, records: int) -> StagedWrite:
        """Flush the copy to disk; ``digest`` and ``size`` are of the bytes written."""

    @abstractmethod
    def abort(self) -> None:
        """Discard the copy."""


class Source(ABC):
    """Where a run reads from."""

    kind: DatasetKind
    location: str
    """The location as the user gave it, credentials redacted."""
    format: str

    @abstractmethod
    def read(self, *, options: dict[str, Any] | None = None) -> ReadResult:
        """Read the whole dataset as text columns, with malformed records set apart."""

    def read_batches(
        self,
        *,
        options: dict[str, Any] | None = None,
        batch_rows: int = 250_000,
        exact: bool = False,
    ) -> BatchRead:
        """Read in chunks (streaming mode). The default reads all, then slices."""
        return _SlicedRead(self.read(options=options), batch_rows)

    @property
    def action(self) -> str:
        """Audit action name for reading this source (e.g. ``read_csv``)."""
        return f"read_{self.format}"

    def version(self) -> tuple[int, ...] | None:
        """What changes when the dataset is rewritten, cheap to ask (a file's inode, size
        and modification time), or None where the source has no such mark. A run
        reads a file more than once (hash, parse, a quarantine pass) and asks
        again before it publishes, so a file rewritten meanwhile stops the run."""
        return None


class BatchRead(ABC):
    """A source read in chunks. Iterate for (text chunk, typed chunk or None) pairs;
    after iteration the digest, the malformed records and ``shape_ok`` are final.
    ``shape_ok`` False means: discard the chunks and read again with ``exact=True``."""

    columns: list[str]
    malformed: list[MalformedRow]
    digest: str
    size_bytes: int | None
    shape_ok: bool

    @abstractmethod
    def __iter__(self) -> Iterator[tuple[pl.DataFrame, pl.DataFrame | None]]:
        """Yield chunks in source order, each with ``_row_number``."""

    @property
    def records(self) -> int:
        """Records read so far (final after iteration)."""
        return self._records + len(self.malformed)

    _records: int = 0


class ChunkedRead(BatchRead):
    """Text chunks from a reader that hashes its source while reading it (CSV
    blocks, JSON Lines, SQLite): ``finish`` gives ``shape_ok``, the digest and the
    size (None where the source has no byte size) once the chunks are exhausted."""

    def __init__(
        self,
        chunks: Iterable[pl.DataFrame],
        columns: list[str],
        malformed: list[MalformedRow],
        finish: Callable[[], tuple[bool, str, int | None]],
    ) -> None:
        self.chunks = chunks
        self.columns = columns
        self.malformed = malformed
        self.finish = finish
        self.shape_ok = True
        self._records = 0

    def __iter__(self) -> Iterator[tuple[pl.DataFrame, pl.DataFrame | None]]:
        for chunk in self.chunks:
            self._records += chunk.height
            yield chunk, None
        self.shape_ok, self.digest, self.size_bytes = self.finish()


def input_changed(location: str, how: str) -> InputError:
    """The error for a source rewritten while a run read it (``how`` says how it showed)."""
    return InputError(
        f"the input changed while the run was reading it ({how})",
        dataset=location,
        hint="run again once nothing writes to the input (write it under another "
        "name and rename it when complete); nothing was written",
    )


class _SlicedRead(BatchRead):
    def __init__(self, read: ReadResult, batch_rows: int) -> None:
        self.read = read
        self.columns = list(read.columns)
        self.malformed = list(read.malformed)
        self.digest = read.digest
        self.size_bytes = read.size_bytes
        self.shape_ok = True
        self.batch_rows = batch_rows
        self._records = 0

    def __iter__(self) -> Iterator[tuple[pl.DataFrame, pl.DataFrame | None]]:
        frame, typed = self.read.frame, self.read.typed_frame
        if frame.height == 0:
            yield frame, typed
            return
        for offset in range(0, frame.height, self.batch_rows):
            self._records += min(self.batch_rows, frame.height - offset)
            yield (
                frame.slice(offset, self.batch_rows),
                None if typed is None else typed.slice(offset, self.batch_rows),
            )


def sink_optimizations(prune_columns: bool) -> pl.QueryOptFlags:
    """Polars' optimizations for a streaming output plan.

    Without column pruning, columns a plan drops at its end (``_row_number``)
    still travel with every morsel. Polars 2.1 returns the morsels of a scan out
    of order when every column left in them is computed from literal branches
    (``CASE WHEN … THEN 1 END``) and one of them is all null: a streaming run
    wrote rows in a different order from batch mode in 5 of 6 runs. A plan
    whose every output column is computed that way keeps its columns.
    """
    return pl.QueryOptFlags(projection_pushdown=prune_columns)


class Sink(ABC):
    """Where a run writes to."""

    kind: DatasetKind
    location: str
    format: str
    #: Staging writes each value as CSV text (Polars' CSV writer), so a frame typed
    #: by lossless inference and its all-text source write the same bytes.
    writes_csv_text: bool = False

    @abstractmethod
    def stage(self, frame: pl.DataFrame) -> StagedWrite:
        """Write ``frame`` somewhere invisible and durable, ready to commit."""

    def stage_lazy(
        self,
        frame: pl.LazyFrame,
        *,
        prune_columns: bool = True,
        beside: Sequence[pl.LazyFrame] = (),
    ) -> StagedWrite:
        """Stage a lazy plan (streaming mode); the default collects it, then stages it.

        ``prune_columns=False`` turns Polars' projection pushdown off for this plan
        (see :func:`sink_optimizations`). ``beside``: small queries (counts,
        proofs) run in the same Polars pass, sharing what the plans cache; their
        results are the staged write's ``beside``.
        """
        collected = pl.collect_all(
            [frame, *beside], engine="streaming", optimizations=sink_optimizations(prune_columns)
        )
        staged = self.stage(collected[0])
        staged.beside = collected[1:]
        return staged

    def open_copy(self) -> StagedCopy | None:
        """A staged file to receive a CSV source's bytes as they are read, where this sink
        writes CSV files (a plain copy, see :func:`pipeline.execution.streaming.run_plain`);
        else None."""
        return None

    @property
    def action(self) -> str:
        """Audit action name for writing this sink (e.g. ``write_parquet``)."""
        return f"write_{self.format}"
