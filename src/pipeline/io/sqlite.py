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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import polars as pl

from pipeline.errors import ConfigError, InputError
from pipeline.hashing import dataset_digest
from pipeline.io.base import ROW_NUMBER, ReadResult, Source

__all__ = ["SqliteSource", "parse_sqlite_uri"]

_FORM = "use sqlite:///path/to/file.db?table=NAME (or sqlite:///path/to/file.db#NAME)"


def parse_sqlite_uri(location: str) -> tuple[Path, str]:
    """Return the database file and table a ``sqlite://`` location names."""
    parts = urlsplit(location)
    raw_path = parts.netloc + parts.path
    tables = parse_qs(parts.query).get("table")
    table = parts.fragment or (tables[0] if tables else "")
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
    """One table of a SQLite database, read whole and in a stable order."""

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

    def _columns(self, con: sqlite3.Connection) -> tuple[list[str], list[str]]:
        """The table's columns, and its ordering columns (rowid or the primary key)."""
        found = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?",
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
        info = con.execute(f"PRAGMA table_info({_quoted(self.table)})").fetchall()
        columns = [row[1] for row in info]
        sql = (found[1] or "").upper()
        if "WITHOUT ROWID" in sql:
            keys = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5] > 0]
            return columns, keys
        if found[1] is None or sql.startswith("CREATE VIEW"):
            # A view has no rowid: every column orders it (ties are identical rows).
            return columns, columns
        return columns, ["rowid"]

    def read(self, *, options: dict[str, Any] | None = None) -> ReadResult:
        """Read the whole table as text columns in a stable order."""
        if options:
            raise ConfigError(
                f"a SQLite source takes no read options (got {', '.join(sorted(options))})",
                dataset=self.location,
                hint="remove the source's options",
            )
        con = self._connect()
        try:
            columns, order = self._columns(con)
            table = _quoted(self.table)
            if columns:
                counts = ", ".join(f"sum(typeof({_quoted(c)}) = 'blob')" for c in columns)
                # Identifiers are quoted by _quoted; no value ever enters the SQL text.
                blobs = con.execute(f"SELECT {counts} FROM {table}").fetchone()  # noqa: S608
                for name, count in zip(columns, blobs, strict=True):
                    if count:
                        raise InputError(
                            f"column {name!r} of table {self.table!r} holds binary data "
                            f"(BLOB) in {count} rows",
                            dataset=self.location,
                            column=name,
                            hint="store the values as text or numbers, or read a view "
                            "that leaves the column out",
                        )
            select = ", ".join(f"CAST({_quoted(c)} AS TEXT) AS {_quoted(c)}" for c in columns)
            by = ", ".join(c if c == "rowid" else _quoted(c) for c in order)
            frame = pl.read_database(
                f"SELECT {select} FROM {table} ORDER BY {by}",  # noqa: S608 - as above
                connection=con,
                schema_overrides=dict.fromkeys(columns, pl.String),
            )
        except sqlite3.Error as exc:
            raise InputError(
                f"reading table {self.table!r} from {str(self.path)!r} failed: {exc}",
                dataset=self.location,
                hint="check the database is not corrupt and the table is readable",
            ) from None
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
