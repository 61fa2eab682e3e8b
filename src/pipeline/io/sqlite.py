"""SQLite tables as sources (``sqlite:///path/to/file.db?table=NAME`` or ``…db#NAME``).

The database is opened read-only (``mode=ro``): reading never creates a file
that is not there, never takes a write lock and never changes the database.
Rows come in ``rowid`` order (primary-key order for ``WITHOUT ROWID`` tables),
so ``_row_number`` and the dataset digest are the same on every read of the
same table. Every cell is read as SQLite's own text form (``CAST(x AS TEXT)``,
NULL stays null), exactly as CSV cells are, so validation and lossless
inference treat a table and a file alike. BLOB cells are refused: their bytes
have no text form a rule could judge.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import polars as pl

from pipeline.errors import ConfigError, InputError
from pipeline.hashing import DatasetDigest, dataset_digest
from pipeline.io.base import (
    ROW_NUMBER,
    BatchRead,
    ChunkedRead,
    ReadResult,
    Source,
    check_column_names,
)

__all__ = ["SqliteSource", "parse_sqlite_uri"]

_FORM = "use sqlite:///path/to/file.db?table=NAME (or sqlite:///path/to/file.db#NAME)"


def split_sqlite_uri(location: str) -> tuple[str, str]:
    """The database path and table a ``sqlite://`` location names ("" where absent).

    The one decoding of this form, for the reader, the spec loader and lineage
    alike, so all three mean the same file. The path and the ``#NAME`` form
    are percent-decoded (a spec percent-encodes a resolved folder holding
    ``?`` or ``#``); ``?table=`` is form-decoded.
    """
    parts = urlsplit(location)
    tables = parse_qs(parts.query).get("table")
    table = unquote(parts.fragment) if parts.fragment else (tables[0] if tables else "")
    return unquote(parts.netloc + parts.path), table


def parse_sqlite_uri(location: str) -> tuple[Path, str]:
    """The database file and table a ``sqlite://`` location names; an error if either is missing."""
    raw_path, table = split_sqlite_uri(location)
    if not raw_path:
        raise ConfigError(
            f"the SQLite location {location!r} names no database file", hint=_FORM, key="uri"
        )
    if not table:
        raise ConfigError(f"the SQLite location {location!r} names no table", hint=_FORM, key="uri")
    return Path(raw_path).expanduser(), table


def _quoted(name: str) -> str:
    """An SQL identifier, quoted (a name is never spliced into SQL unquoted)."""
    return '"' + name.replace('"', '""') + '"'


class SqliteSource(Source):
    """One table of a SQLite database, read whole or in chunks, in a stable order."""

    kind = "database"
    format = "sqlite"

    def __init__(self, location: str) -> None:
        self.location = location
        self.path, self.table = parse_sqlite_uri(location)

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise InputError(
                f"SQLite database {str(self.path)!r} does not exist or is not a file",
                dataset=self.location,
                hint="check the path in the sqlite:// location (it is never created by a read)",
            )
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True)
            con.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        except sqlite3.DatabaseError as exc:
            raise InputError(
                f"{str(self.path)!r} cannot be read as a SQLite database: {exc}",
                dataset=self.location,
                hint="check that the file is a SQLite 3 database and readable",
            ) from None
        return con

    def _layout(self, con: sqlite3.Connection) -> tuple[str, list[str], list[str]]:
        """The table's stored name, its columns, and the columns that order it."""
        found = con.execute(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name = ? COLLATE NOCASE",
            (self.table,),
        ).fetchone()
        if found is None:
            names = [
                r[0]
                for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            raise InputError(
                f"SQLite database {str(self.path)!r} has no table {self.table!r}",
                dataset=self.location,
                hint=f"tables there: {', '.join(names)}" if names else "the database has no tables",
            )
        name, kind = found
        info = con.execute(f"PRAGMA table_info({_quoted(name)})").fetchall()
        columns = [row[1] for row in info]
        check_column_names(columns, self.location)
        # No rowid to order by (a view, or every alias taken by a column): all columns
        # order the rows, and rows that tie are identical.
        every = [_quoted(c) for c in columns]
        taken = {c.lower() for c in columns}
        # A column may itself be called rowid; SQLite then offers _rowid_ or oid.
        alias = next((a for a in ("rowid", "_rowid_", "oid") if a not in taken), None)
        if kind == "view" or alias is None:
            return name, columns, every
        try:
            con.execute(f"SELECT {alias} FROM {_quoted(name)} LIMIT 0")  # noqa: S608
        except sqlite3.OperationalError:
            # WITHOUT ROWID (the probe works on any SQLite version): the key orders it.
            keys = sorted((row[5], row[1]) for row in info if row[5] > 0)
            return name, columns, [_quoted(c) for _, c in keys]
        return name, columns, [alias]

    def _check_options(self, options: dict[str, Any] | None) -> None:
        if options:
            raise ConfigError(
                f"a SQLite source takes no read options (got {', '.join(sorted(options))})",
                dataset=self.location,
                hint="remove the source's options",
            )

    def _query(self, con: sqlite3.Connection) -> tuple[list[str], str]:
        """Inside the caller's read transaction: refuse BLOB cells, return the
        columns and the SELECT that reads every cell as text in a stable order."""
        name, columns, order = self._layout(con)
        table = _quoted(name)
        counts = ", ".join(f"sum(typeof({_quoted(c)}) = 'blob')" for c in columns)
        # Identifiers are quoted by _quoted; no value ever enters the SQL text.
        blobs = con.execute(f"SELECT {counts} FROM {table}").fetchone()  # noqa: S608
        for column, count in zip(columns, blobs, strict=True):
            if count:
                raise InputError(
                    f"column {column!r} of table {name!r} holds binary data (BLOB) in {count} rows",
                    dataset=self.location,
                    column=column,
                    hint="store the values as text or numbers, or read a view "
                    "that leaves the column out",
                )
        select = ", ".join(f"CAST({_quoted(c)} AS TEXT) AS {_quoted(c)}" for c in columns)
        return columns, f"SELECT {select} FROM {table} ORDER BY {', '.join(order)}"  # noqa: S608

    def _failed(self, exc: sqlite3.Error) -> InputError:
        # Never the engine's text: for undecodable text it quotes the cell.
        code = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        return InputError(
            f"reading table {self.table!r} from {str(self.path)!r} failed ({code})",
            dataset=self.location,
            hint="check the database is not damaged and its text is UTF-8",
        )

    def read(self, *, options: dict[str, Any] | None = None) -> ReadResult:
        """Read the whole table as text columns in a stable order."""
        self._check_options(options)
        con = self._connect()
        try:
            # One read transaction: the BLOB check and the read see the same rows.
            con.execute("BEGIN")
            columns, query = self._query(con)
            frame = pl.read_database(
                query, connection=con, schema_overrides=dict.fromkeys(columns, pl.String)
            )
        except sqlite3.Error as exc:
            raise self._failed(exc) from None
        finally:
            con.close()
        frame = frame.select(pl.col(c).cast(pl.String) for c in columns)
        numbered = frame.with_row_index(ROW_NUMBER, offset=1).with_columns(
            pl.col(ROW_NUMBER).cast(pl.Int64)
        )
        return ReadResult(
            frame=numbered,
            malformed=[],
            digest=dataset_digest(frame),
            columns=columns,
        )

    def read_batches(
        self,
        *,
        options: dict[str, Any] | None = None,
        batch_rows: int = 250_000,
        exact: bool = False,
    ) -> BatchRead:
        """The table in chunks of ``batch_rows`` rows, inside one read transaction:
        memory bounded by the chunk, the same rows, numbers and digest as :meth:`read`."""
        self._check_options(options)
        con = self._connect()
        try:
            con.execute("BEGIN")
            columns, query = self._query(con)
        except sqlite3.Error as exc:
            con.close()
            raise self._failed(exc) from None
        except BaseException:
            con.close()
            raise
        schema = pl.Schema(dict.fromkeys(columns, pl.String()))
        digest = DatasetDigest(schema)
        chunks = self._chunks(con, schema, query, max(1, batch_rows), digest)
        return ChunkedRead(chunks, columns, [], lambda: (True, digest.hexdigest(), None))

    def _chunks(
        self,
        con: sqlite3.Connection,
        schema: pl.Schema,
        query: str,
        batch_rows: int,
        digest: DatasetDigest,
    ) -> Iterator[pl.DataFrame]:
        offset = 1
        try:
            cursor = con.execute(query)
            while rows := cursor.fetchmany(batch_rows):
                frame = pl.DataFrame(rows, schema=schema, orient="row")
                digest.update(frame)
                numbers = pl.int_range(offset, offset + frame.height, dtype=pl.Int64, eager=True)
                offset += frame.height
                yield frame.select(numbers.alias(ROW_NUMBER), pl.all())
        except sqlite3.Error as exc:
            raise self._failed(exc) from None
        finally:
            con.close()
