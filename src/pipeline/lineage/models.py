"""The lineage vocabulary: what a run tells lineage, and what queries answer.

Plain frozen dataclasses, declared apart from the store and the emitter that
use them. They hold counts, hashes, column names and code fingerprints only:
no cell values can be expressed here, by construction.
"""

from __future__ import annotations

import hashlib
import inspect
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pipeline.lineage.naming import DatasetIdentity, display_location, identify

__all__ = [
    "ColumnSource",
    "DatasetRef",
    "LineageRecord",
    "RunLineage",
    "RunStatus",
    "SourceCode",
    "normalize_column_source",
    "normalize_quality",
    "openlineage_run_id",
]

RunStatus = Literal["running", "completed", "failed"]

# OpenLineage transformation subtypes and the type each belongs to.
_SUBTYPES = {
    "IDENTITY": "DIRECT",
    "TRANSFORMATION": "DIRECT",
    "AGGREGATION": "DIRECT",
    "FILTER": "INDIRECT",
    "SORT": "INDIRECT",
    "JOIN": "INDIRECT",
    "GROUP_BY": "INDIRECT",
    "WINDOW": "INDIRECT",
    "CONDITIONAL": "INDIRECT",
}


@dataclass(frozen=True)
class DatasetRef:
    """One dataset a run read or wrote: where, which version (hash), how much, what shape."""

    location: str
    kind: str = "file"
    hash: str | None = None
    records: int | None = None
    bytes: int | None = None
    fields: Sequence[tuple[str, str]] = ()
    table: str | None = None

    @property
    def identity(self) -> DatasetIdentity:
        """The OpenLineage namespace and name of this dataset."""
        return identify(self.location, table=self.table)

    @property
    def display(self) -> str:
        """The location as stored and shown (absolute path or credential-free URI)."""
        return display_location(self.location)


class ColumnSource(NamedTuple):
    """One input column an output column derives from, and how (OpenLineage terms)."""

    location: str
    column: str
    type: str = "DIRECT"
    subtype: str = "IDENTITY"
    masking: bool = False
    description: str | None = None


def normalize_column_source(item: ColumnSource | Sequence[Any]) -> ColumnSource:
    """Accept ``(location, column, transformation, masking)`` tuples as the runner builds them.

    ``transformation`` is an OpenLineage type (``DIRECT``/``INDIRECT``), a subtype
    (``IDENTITY``, ``TRANSFORMATION``, ``FILTER``, ``SORT``, ...), or ``TYPE/SUBTYPE``.
    """
    if isinstance(item, ColumnSource):
        return item
    location, column, *rest = item
    kind = str(rest[0]).upper() if rest else "IDENTITY"
    masking = bool(rest[1]) if len(rest) > 1 else False
    description = str(rest[2]) if len(rest) > 2 and rest[2] is not None else None
    if "/" in kind or ":" in kind:
        type_, subtype = kind.replace(":", "/").split("/", 1)
    elif kind in ("DIRECT", "INDIRECT"):
        type_, subtype = kind, ("IDENTITY" if kind == "DIRECT" else "FILTER")
    elif kind == "MASKED":
        type_, subtype, masking = "DIRECT", "TRANSFORMATION", True
    else:
        type_, subtype = _SUBTYPES.get(kind, "DIRECT"), kind
    return ColumnSource(str(location), str(column), type_, subtype, masking, description)


# Keys the runner may use for a quality outcome, mapped to OpenLineage's names.
_QUALITY_ALIASES = {
    "rule": "assertion",
    "id": "name",
    "passed": "success",
    "failed_rows": "actual",
}
_QUALITY_KEYS = ("assertion", "success", "column", "severity", "name", "description", "expected")


def normalize_quality(item: Mapping[str, Any]) -> dict[str, Any]:
    """Map one rule outcome dict to OpenLineage assertion fields (counts only, no values)."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        target = _QUALITY_ALIASES.get(key, key)
        if value is None or target in out:
            continue
        if target in _QUALITY_KEYS or target == "actual":
            out[target] = value
    if "columns" in item and "column" not in out and item["columns"]:
        out["column"] = ",".join(str(c) for c in item["columns"])
    out["assertion"] = str(out.get("assertion", out.get("name", "check")))
    out["success"] = bool(out.get("success", False))
    for key in ("column", "severity", "name", "description", "expected", "actual"):
        if key in out:
            out[key] = str(out[key])
    return out


@dataclass(frozen=True)
class SourceCode:
    """A python step's code, for the ``sourceCode``/``sourceCodeLocation`` facets."""

    step: str
    reference: str
    code: str
    path: str | None = None
    language: str = "python"

    @property
    def sha256(self) -> str:
        """Fingerprint of the code text, the same one the run manifest records."""
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()

    @classmethod
    def from_callable(cls, step: str, fn: Callable[..., Any]) -> SourceCode:
        """Capture the source of a python step function (used by the runner)."""
        reference = f"{fn.__module__}:{getattr(fn, '__qualname__', repr(fn))}"
        try:
            code = inspect.getsource(fn)
            path: str | None = inspect.getsourcefile(fn)
        except (OSError, TypeError):
            code, path = f"# source unavailable for {reference}\n", None
        return cls(step=step, reference=reference, code=code, path=path)


@dataclass(frozen=True)
class RunLineage:
    """Everything lineage needs to know about one run, given by the runner."""

    run_id: str
    job_name: str
    as_of: datetime | None = None
    inputs: Sequence[DatasetRef] = ()
    outputs: Sequence[DatasetRef] = ()
    quarantine: DatasetRef | None = None
    # out_col -> [(input_location, in_col, transformation, masking)]
    column_lineage: Mapping[str, Sequence[ColumnSource | Sequence[Any]]] = field(
        default_factory=dict
    )
    # Whole-dataset (indirect) dependencies: filter/dedupe/sort keys.
    dataset_lineage: Sequence[ColumnSource | Sequence[Any]] = ()
    quality: Sequence[Mapping[str, Any]] = ()
    quality_metrics: Mapping[str, Any] | None = None
    """``{rowCount, columnMetrics: {col: {nullCount, distinctCount}}}`` of the dataset the
    rules judged (counts only: min/max would be cell values, so they are never given)."""
    quality_stage: str = "input"
    code: Mapping[str, str] = field(default_factory=dict)
    source_code: Sequence[SourceCode] = ()
    status: RunStatus = "completed"
    error: str | None = None
    mode: str = "batch"
    input_records: int | None = None
    output_records: int | None = None
    rejected_records: int | None = None
    filtered_records: Mapping[str, int] = field(default_factory=dict)
    transformation: str | None = None

    def column_sources(self) -> dict[str, list[ColumnSource]]:
        """Return column lineage with every entry normalized to :class:`ColumnSource`."""
        return {
            out: [normalize_column_source(s) for s in sources]
            for out, sources in self.column_lineage.items()
        }


@dataclass(frozen=True)
class LineageRecord:
    """One source-to-destination step, the seed API's unit (one per single-input run)."""

    lineage_id: str
    source_type: str
    source_location: str
    source_hash: str | None
    transformation: str
    destination_type: str
    destination_location: str
    destination_hash: str | None
    input_records: int
    output_records: int
    records_filtered: int
    rejected_records: int = 0
    run_id: str | None = None
    job_name: str | None = None
    as_of: str | None = None
    code_fingerprints: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        out = asdict(self)
        out["code_fingerprints"] = dict(self.code_fingerprints)
        return out


_RUN_ID_NAMESPACE = uuid.UUID("6f1d3b0e-4c55-5c1e-9d1f-2a8b7c0e9a51")


def openlineage_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a UUID, else a stable UUIDv5 derived from it."""
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        return str(uuid.uuid5(_RUN_ID_NAMESPACE, run_id))
