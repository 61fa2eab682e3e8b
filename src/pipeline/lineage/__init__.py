"""Lineage: where data came from, what depends on it, and OpenLineage events about it.

Runner-facing API (the contract ``pipeline.runner`` calls)::

    from pipeline.lineage import LineageTracker, RunLineage, DatasetRef, LineageEmitter

    lineage = LineageTracker()                          # in memory (the seed API)
    lineage = LineageTracker(store="out/lineage.db")    # persistent SQLite (WAL)

    # the seed API, verbatim:
    record = lineage.record(source_type=..., source_location=..., source_hash=...,
                            transformation=..., destination_type=...,
                            destination_location=..., destination_hash=...,
                            input_records=..., output_records=..., records_filtered=...,
                            run_id=None, job_name=None, as_of=None, rejected_records=0,
                            code_fingerprints=None)      # -> LineageRecord (.lineage_id)
    lineage.get_ancestors(record.lineage_id)            # -> list[LineageRecord]
    lineage.get_descendants(record.lineage_id)          # -> list[LineageRecord]
    lineage.impact_analysis(location_or_lineage_id)     # -> dict (datasets, jobs, runs)
    lineage.summary()                                   # -> dict of counts

    # one run, as the runner sees it:
    run = RunLineage(
        run_id=..., job_name=pipeline_id, as_of=datetime,
        inputs=[DatasetRef(location=..., kind="file", hash=sha256, records=n, bytes=n,
                           fields=[(name, type), ...])],
        outputs=[DatasetRef(...)], quarantine=DatasetRef(...) | None,
        column_lineage={out_col: [(input_location, in_col, "IDENTITY", False), ...]},
        dataset_lineage=[(input_location, filter_col, "FILTER", False), ...],
        quality=[{"id", "rule", "column", "severity", "passed", "failed_rows"}, ...],
        code={step_name: sha256}, source_code=[SourceCode.from_callable(step, fn)],
        status="completed" | "failed", error=None, mode="batch" | "streaming",
        input_records=..., output_records=..., rejected_records=...,
        filtered_records={step: n},
    )
    emitter = LineageEmitter.from_environment(spool_path=AUDIT_DIR / "openlineage.spool.jsonl")
    emitter.start(run)                       # -> EmitResult; never raises
    emitter.complete(run)  /  emitter.fail(run, error_message)
    # EmitResult.status is "delivered" | "spooled" | "disabled"; put
    # EmitResult.to_dict() in the audit log when it is "spooled".
    emitter.close()
    lineage.record_run(run)                  # datasets, versions, job, run, edges

    # dataset-level queries (what the CLI prints):
    lineage.ancestors(loc); lineage.descendants(loc); lineage.impact(loc); lineage.history(loc)

Modules: :mod:`~pipeline.lineage.models` (vocabulary), :mod:`~pipeline.lineage.naming`
(OpenLineage identities), :mod:`~pipeline.lineage.store` (SQLite schema, writes),
:mod:`~pipeline.lineage.queries` (reads), :mod:`~pipeline.lineage.tracker` (the API),
:mod:`~pipeline.lineage.events` (OpenLineage events), :mod:`~pipeline.lineage.openlineage`
(the emitter), :mod:`~pipeline.lineage.spool` (undelivered events),
:mod:`~pipeline.lineage.graph` (Mermaid / dot).
"""

from pipeline.lineage.models import (
    ColumnSource,
    DatasetRef,
    LineageRecord,
    RunLineage,
    SourceCode,
)
from pipeline.lineage.naming import DatasetIdentity, identify
from pipeline.lineage.openlineage import EmitResult, LineageEmitter
from pipeline.lineage.spool import FlushResult, Spool
from pipeline.lineage.store import LineageStore
from pipeline.lineage.tracker import LineageTracker

__all__ = [
    "ColumnSource",
    "DatasetIdentity",
    "DatasetRef",
    "EmitResult",
    "FlushResult",
    "LineageEmitter",
    "LineageRecord",
    "LineageStore",
    "LineageTracker",
    "RunLineage",
    "SourceCode",
    "Spool",
    "identify",
]
