"""The persistent lineage store: one SQLite file, its schema, migrations and writes.

Tables (schema version in ``PRAGMA user_version``; see :data:`MIGRATIONS`)::

    datasets          (namespace, name) unique: OpenLineage identity, kind, location
    jobs              (namespace, name) unique: a pipeline
    runs              one execution of a job: status, as_of, counts, code fingerprints
    dataset_versions  (dataset, content hash) unique: records, bytes, schema, as_of
    run_io            run x dataset version x role (input | output | quarantine)
    edges             dataset -> dataset through a job (last run that drew it)
    column_lineage    per run: output column <- input column, OpenLineage type/subtype

Concurrency: WAL journal, ``busy_timeout``, and every write in one
``BEGIN IMMEDIATE`` transaction, so several processes recording runs into one
store serialize their writes while readers never block and never see half a
run. ``synchronous=FULL`` because this file is audit evidence. Reads live in
:mod:`pipeline.lineage.queries`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import LineageError
from pipeline.lineage.models import DatasetRef, RunLineage, normalize_column_source

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "LineageStore", "job_namespace"]

# Each entry upgrades the schema by one version; never edit a shipped entry,
# append a new one (stores in the field are migrated forward on open).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE datasets (
            id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,
            kind TEXT NOT NULL, location TEXT NOT NULL, UNIQUE (namespace, name))""",
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,
            UNIQUE (namespace, name))""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE,
            job_id INTEGER NOT NULL REFERENCES jobs(id), status TEXT NOT NULL,
            as_of TEXT, recorded_at TEXT NOT NULL, transformation TEXT,
            input_records INTEGER, output_records INTEGER, rejected_records INTEGER,
            filtered_records TEXT NOT NULL DEFAULT '{}', code TEXT NOT NULL DEFAULT '{}',
            quality TEXT NOT NULL DEFAULT '[]', error TEXT)""",
        "CREATE INDEX runs_job ON runs (job_id)",
        """CREATE TABLE dataset_versions (
            id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            hash TEXT, records INTEGER, bytes INTEGER, fields TEXT NOT NULL DEFAULT '[]',
            as_of TEXT, first_run INTEGER REFERENCES runs(id), UNIQUE (dataset_id, hash))""",
        """CREATE TABLE run_io (
            run INTEGER NOT NULL REFERENCES runs(id),
            version INTEGER NOT NULL REFERENCES dataset_versions(id),
            role TEXT NOT NULL CHECK (role IN ('input', 'output', 'quarantine')),
            PRIMARY KEY (run, version, role)) WITHOUT ROWID""",
        "CREATE INDEX run_io_version ON run_io (version, role, run)",
        """CREATE TABLE edges (
            src INTEGER NOT NULL REFERENCES datasets(id),
            dst INTEGER NOT NULL REFERENCES datasets(id),
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            last_run INTEGER REFERENCES runs(id),
            PRIMARY KEY (src, dst, job_id)) WITHOUT ROWID""",
        # The recursive queries walk edges both ways: (src -> dst) uses the
        # primary key, (dst -> src) needs this index.
        "CREATE INDEX edges_dst ON edges (dst, src)",
        """CREATE TABLE column_lineage (
            run INTEGER NOT NULL REFERENCES runs(id),
            out_dataset INTEGER NOT NULL REFERENCES datasets(id), out_column TEXT,
            in_dataset INTEGER NOT NULL REFERENCES datasets(id), in_column TEXT NOT NULL,
            type TEXT NOT NULL, subtype TEXT, masking INTEGER NOT NULL DEFAULT 0,
            description TEXT)""",
        "CREATE INDEX column_lineage_run ON column_lineage (run)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_BUSY_TIMEOUT_MS = 30_000


def job_namespace() -> str:
    """Return the OpenLineage job namespace (``OPENLINEAGE_NAMESPACE``, as integrations use)."""
    import os

    return os.environ.get("OPENLINEAGE_NAMESPACE", "").strip() or "regulated-data-pipelines"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LineageStore:
    """A lineage database (a file, or ``":memory:"``) with schema migrated on open."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so the
            # write lock is taken up front instead of on a later upgrade (which
            # can fail with SQLITE_BUSY without waiting).
            self.conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
            self.conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise LineageError(
                f"cannot open lineage store {self.path}: {exc}", dataset=self.path
            ) from exc

    def close(self) -> None:
        """Close the connection (the file stays consistent whenever this is skipped)."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one immediate transaction, mapping SQLite errors to LineageError."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LineageError(f"lineage store {self.path} is not writable: {exc}") from exc
            try:
                yield self.conn
            except BaseException:
                self._rollback()
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise LineageError(f"cannot commit to lineage store {self.path}: {exc}") from exc

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk): "no transaction is active"
        # then replaced the real error in the message (found by review).
        with suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    def check_writable(self) -> None:
        """Write to the store and roll back: a read-only or locked store fails now.

        A run calls this before it publishes anything (found by review: the output
        was replaced, then the store refused the run). Opening a read-only store
        succeeds, and so does ``BEGIN IMMEDIATE``: only a write tells.
        """
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
                    self.conn.execute(f"PRAGMA user_version = {version}")
                finally:
                    self._rollback()
            except sqlite3.Error as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                raise LineageError(
                    f"lineage store {self.path} is not writable: {exc}",
                    dataset=self.path,
                    hint="another process holds the store's write lock; wait for it to end, "
                    "or give this run its own --lineage-store"
                    if locked
                    else "make the store file and its folder writable, or give another "
                    "--lineage-store; nothing was published",
                ) from exc

    def _migrate(self) -> None:
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise LineageError(
                f"lineage store {self.path} has schema version {version}, newer than this "
                f"package understands ({SCHEMA_VERSION})",
                hint="upgrade regulated-data-pipelines, or use a different --lineage-store",
            )
        if version == SCHEMA_VERSION:
            return
        with self.transaction() as conn:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writes -------------------------------------------------------------------

    def record_run(self, run: RunLineage) -> int:
        """Persist a run with its datasets, versions, edges and column lineage; return its row id.

        Idempotent per ``run_id``: recording the same run again (say, START then
        COMPLETE) updates its status and counts and adds nothing twice.
        """
        try:
            with self.transaction() as conn:
                return self._write_run(conn, run)
        except sqlite3.Error as exc:
            raise LineageError(
                f"cannot record run in lineage store {self.path}: {exc}", run_id=run.run_id
            ) from exc

    def _write_run(self, conn: sqlite3.Connection, run: RunLineage) -> int:
        job = conn.execute(
            "INSERT INTO jobs (namespace, name) VALUES (?, ?) ON CONFLICT DO UPDATE "
            "SET name = excluded.name RETURNING id",
            (job_namespace(), run.job_name),
        ).fetchone()[0]
        as_of = _iso(run.as_of)
        row = conn.execute(
            """INSERT INTO runs (run_id, job_id, status, as_of, recorded_at, transformation,
                   input_records, output_records, rejected_records, filtered_records, code,
                   quality, error)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (run_id) DO UPDATE SET status = excluded.status,
                   input_records = coalesce(excluded.input_records, input_records),
                   output_records = coalesce(excluded.output_records, output_records),
                   rejected_records = coalesce(excluded.rejected_records, rejected_records),
                   filtered_records = excluded.filtered_records, code = excluded.code,
                   quality = excluded.quality, error = excluded.error
               RETURNING id""",
            (
                run.run_id, job, run.status, as_of, _now(), run.transformation,
                run.input_records, run.output_records, run.rejected_records,
                json.dumps(dict(run.filtered_records), sort_keys=True),
                json.dumps(dict(run.code), sort_keys=True),
                json.dumps([dict(q) for q in run.quality], sort_keys=True, default=str),
                run.error,
            ),
        ).fetchone()[0]  # fmt: skip
        roles: list[tuple[DatasetRef, str]] = [(d, "input") for d in run.inputs]
        roles += [(d, "output") for d in run.outputs]
        if run.quarantine is not None:
            roles.append((run.quarantine, "quarantine"))
        ids: dict[str, int] = {}
        sources: list[int] = []
        targets: list[int] = []
        for ref, role in roles:
            dataset_id = self._dataset(conn, ref)
            ids[ref.location] = dataset_id
            version = self._version(conn, dataset_id, ref, as_of, row)
            conn.execute(
                "INSERT OR IGNORE INTO run_io (run, version, role) VALUES (?, ?, ?)",
                (row, version, role),
            )
            (sources if role == "input" else targets).append(dataset_id)
        conn.executemany(
            "INSERT INTO edges (src, dst, job_id, last_run) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET last_run = excluded.last_run",
            [(s, t, job, row) for s in sources for t in targets if s != t],
        )
        self._write_columns(conn, run, row, ids)
        return int(row)

    def _dataset(self, conn: sqlite3.Connection, ref: DatasetRef) -> int:
        ident = ref.identity
        return int(
            conn.execute(
                "INSERT INTO datasets (namespace, name, kind, location) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET kind = excluded.kind RETURNING id",
                (ident.namespace, ident.name, ref.kind, ref.display),
            ).fetchone()[0]
        )

    def _version(
        self, conn: sqlite3.Connection, dataset: int, ref: DatasetRef, as_of: str | None, run: int
    ) -> int:
        fields = json.dumps([list(f) for f in ref.fields])
        # An empty hash means "unknown", like None: it must not merge versions.
        digest = ref.hash or None
        if digest is not None:
            found = conn.execute(
                "SELECT id FROM dataset_versions WHERE dataset_id = ? AND hash = ?",
                (dataset, digest),
            ).fetchone()
            if found is not None:
                # Fill in what an earlier sighting did not know (records, bytes, schema).
                conn.execute(
                    "UPDATE dataset_versions SET records = coalesce(records, ?), "
                    "bytes = coalesce(bytes, ?), fields = CASE WHEN fields = '[]' THEN ? "
                    "ELSE fields END WHERE id = ?",
                    (ref.records, ref.bytes, fields, found[0]),
                )
                return int(found[0])
        return int(
            conn.execute(
                "INSERT INTO dataset_versions (dataset_id, hash, records, bytes, fields, as_of, "
                "first_run) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (dataset, digest, ref.records, ref.bytes, fields, as_of, run),
            ).fetchone()[0]
        )

    def _write_columns(
        self, conn: sqlite3.Connection, run: RunLineage, row: int, ids: dict[str, int]
    ) -> None:
        conn.execute("DELETE FROM column_lineage WHERE run = ?", (row,))
        out_ids = [ids[d.location] for d in run.outputs]
        rows: list[tuple[object, ...]] = []
        for out_column, sources in run.column_sources().items():
            for src in sources:
                in_id = ids.get(src.location) or self._dataset(conn, DatasetRef(src.location))
                rows += [
                    (row, o, out_column, in_id, src.column, src.type, src.subtype,
                     int(src.masking), src.description)
                    for o in out_ids
                ]  # fmt: skip
        for src in (normalize_column_source(s) for s in run.dataset_lineage):
            in_id = ids.get(src.location) or self._dataset(conn, DatasetRef(src.location))
            rows += [
                (row, o, None, in_id, src.column, src.type, src.subtype, int(src.masking),
                 src.description)
                for o in out_ids
            ]  # fmt: skip
        conn.executemany(
            "INSERT INTO column_lineage (run, out_dataset, out_column, in_dataset, in_column, "
            "type, subtype, masking, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
