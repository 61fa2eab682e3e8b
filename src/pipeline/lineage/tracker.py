"""LineageTracker: the seed's lineage API, over an in-memory or persistent store.

``LineageTracker()`` keeps lineage in an in-memory SQLite database;
``LineageTracker(store="out/lineage.db")`` in a file that survives the process
and is shared by every run (and every pipeline) that names it. Both go through
the same :class:`~pipeline.lineage.store.LineageStore`, so the seed's
``record`` / ``get_ancestors`` / ``summary`` and the runner's ``record_run``
see one graph.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import LineageError
from pipeline.lineage import queries
from pipeline.lineage.models import DatasetRef, LineageRecord, RunLineage
from pipeline.lineage.store import LineageStore

__all__ = ["LineageTracker"]


class LineageTracker:
    """Records lineage and answers where data came from and what depends on it."""

    def __init__(self, store: str | Path | LineageStore | None = None) -> None:
        if isinstance(store, LineageStore):
            self.store = store
        else:
            self.store = LineageStore(":memory:" if store is None else store)

    def close(self) -> None:
        """Close the underlying store."""
        self.store.close()

    def __enter__(self) -> LineageTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the seed API -------------------------------------------------------------

    def record(
        self,
        source_type: str,
        source_location: str,
        source_hash: str | None,
        transformation: str,
        destination_type: str,
        destination_location: str,
        destination_hash: str | None,
        input_records: int,
        output_records: int,
        records_filtered: int = 0,
        *,
        run_id: str | None = None,
        job_name: str | None = None,
        as_of: datetime | None = None,
        rejected_records: int = 0,
        code_fingerprints: Mapping[str, str] | None = None,
        source_fields: list[tuple[str, str]] | None = None,
        destination_fields: list[tuple[str, str]] | None = None,
    ) -> LineageRecord:
        """Record one source-to-destination step; return it with its ``lineage_id``."""
        lineage_id = run_id or str(uuid.uuid4())
        run = RunLineage(
            run_id=lineage_id,
            job_name=job_name or transformation,
            as_of=as_of,
            inputs=[
                DatasetRef(
                    source_location, kind=source_type, hash=source_hash, records=input_records,
                    fields=source_fields or (),
                )
            ],
            outputs=[
                DatasetRef(
                    destination_location, kind=destination_type, hash=destination_hash,
                    records=output_records, fields=destination_fields or (),
                )
            ],
            code=dict(code_fingerprints or {}),
            input_records=input_records,
            output_records=output_records,
            rejected_records=rejected_records,
            filtered_records={transformation: records_filtered} if records_filtered else {},
            transformation=transformation,
        )  # fmt: skip
        self.store.record_run(run)
        # Echo the caller's own values (the store keeps locations resolved).
        return LineageRecord(
            lineage_id=lineage_id, source_type=source_type, source_location=source_location,
            source_hash=source_hash, transformation=transformation,
            destination_type=destination_type, destination_location=destination_location,
            destination_hash=destination_hash, input_records=input_records,
            output_records=output_records, records_filtered=records_filtered,
            rejected_records=rejected_records, run_id=lineage_id, job_name=run.job_name,
            as_of=None if as_of is None else as_of.isoformat(),
            code_fingerprints=dict(code_fingerprints or {}),
        )  # fmt: skip

    def get_record(self, lineage_id: str) -> LineageRecord:
        """Return the record with this id (raise LineageError if there is none)."""
        details = queries.run_details(self.store.conn, [lineage_id])
        if not details:
            raise LineageError("no lineage record with this id", run_id=lineage_id)
        return _as_record(details[0])

    @property
    def records(self) -> list[LineageRecord]:
        """Every record, in the order recorded."""
        ids = [r[0] for r in self.store.conn.execute("SELECT run_id FROM runs ORDER BY id")]
        return [_as_record(d) for d in queries.run_details(self.store.conn, ids)]

    def get_ancestors(self, lineage_id: str) -> list[LineageRecord]:
        """Records upstream of this one, transitively and across runs, nearest first."""
        ids = queries.run_ancestry(self.store.conn, lineage_id, "up")
        return self._records(ids)

    def get_descendants(self, lineage_id: str) -> list[LineageRecord]:
        """Records downstream of this one, transitively and across runs, nearest first."""
        ids = queries.run_ancestry(self.store.conn, lineage_id, "down")
        return self._records(ids)

    def impact_analysis(self, location_or_id: str) -> dict[str, Any]:
        """Downstream datasets, jobs and runs of a dataset (location) or of a record's output.

        Returns ``{"dataset", "datasets", "jobs", "edges", "runs",
        "affected_locations"}``; ``affected_locations`` lists the downstream
        dataset locations, nearest first.
        """
        location = location_or_id
        found = self.store.conn.execute(
            "SELECT 1 FROM runs WHERE run_id = ?", (location_or_id,)
        ).fetchone()
        if found is not None:
            location = self.get_record(location_or_id).destination_location
        result = queries.lineage_walk(self.store.conn, location, "down")
        result["affected_locations"] = [d["location"] for d in result["datasets"]]
        return result

    def summary(self) -> dict[str, Any]:
        """Counts of records, datasets, jobs, versions, edges and records moved."""
        return queries.summary(self.store.conn)

    def _records(self, ids: list[str]) -> list[LineageRecord]:
        by_id = {d["run_id"]: d for d in queries.run_details(self.store.conn, ids)}
        return [_as_record(by_id[i]) for i in ids]

    # -- the runner API and dataset-level queries --------------------------------

    def record_run(self, run: RunLineage) -> None:
        """Persist one run (datasets, versions, job, edges, column lineage); idempotent."""
        self.store.record_run(run)

    def ancestors(self, location: str) -> dict[str, Any]:
        """Everything upstream of a dataset, with the runs and hashes that produced it."""
        return queries.lineage_walk(self.store.conn, location, "up")

    def descendants(self, location: str) -> dict[str, Any]:
        """Everything downstream of a dataset, with the runs that produced it."""
        return queries.lineage_walk(self.store.conn, location, "down")

    def impact(self, location: str) -> dict[str, Any]:
        """Downstream datasets and jobs of a dataset, with the runs that produced them."""
        return self.impact_analysis(location)

    def history(self, location: str) -> dict[str, Any]:
        """Every version of a dataset (content hash, records, as_of, runs), oldest first."""
        return queries.history(self.store.conn, location)


def _as_record(run: dict[str, Any]) -> LineageRecord:
    source = run["inputs"][0] if run["inputs"] else {}
    outputs = [o for o in run["outputs"] if not o.get("quarantine")] or run["outputs"]
    dest = outputs[0] if outputs else {}
    return LineageRecord(
        lineage_id=run["run_id"],
        source_type=_kind(source),
        source_location=source.get("location", ""),
        source_hash=source.get("hash"),
        transformation=run["transformation"] or run["job"],
        destination_type=_kind(dest),
        destination_location=dest.get("location", ""),
        destination_hash=dest.get("hash"),
        input_records=run["input_records"] or 0,
        output_records=run["output_records"] or 0,
        records_filtered=sum(run["filtered_records"].values()),
        rejected_records=run["rejected_records"] or 0,
        run_id=run["run_id"],
        job_name=run["job"],
        as_of=run["as_of"],
        code_fingerprints=run["code"],
    )


def _kind(entry: dict[str, Any]) -> str:
    return str(entry.get("kind", "file"))
