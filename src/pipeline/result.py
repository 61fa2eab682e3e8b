"""The run result: what ``run_pipeline`` returns and ``--json`` prints."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PipelineResult"]


class PipelineResult(BaseModel):
    """Counts, hashes and locations of one run; never a cell value."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    pipeline_id: str
    success: bool
    input_records: int = 0
    output_records: int = 0
    rejected_records: int = 0
    filtered_records: dict[str, int] = Field(default_factory=dict)
    input_hash: str | None = None
    output_hash: str | None = None
    duration_ms: int = 0
    audit_path: str
    manifest_path: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    input_path: str | None = None
    output_path: str | None = None
    output_written: bool = False
    quarantine_path: str | None = None
    quarantine_hash: str | None = None
    as_of: str | None = None
    actor: str | None = None
    mode: str | None = None
    spec_hash: str | None = None
    step_fingerprints: dict[str, str] = Field(default_factory=dict)
    quality: list[dict[str, Any]] = Field(default_factory=list)
    checkpoint: str | None = None
    validation: dict[str, Any] | None = None
    lineage_id: str | None = None

    @property
    def conserved(self) -> bool:
        """Invariant 1: every input record is output, rejected or filtered by a named step."""
        return self.input_records == (
            self.output_records + self.rejected_records + sum(self.filtered_records.values())
        )

    def to_json(self) -> str:
        """One JSON object, keys sorted, for ``--json``."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)
