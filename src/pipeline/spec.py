"""Run configuration: :class:`PipelineConfig` (the seed's Python API).

Plain Pydantic models that declare a run; the runner executes them. Unknown
keys are errors (``extra='forbid'``) so a typo never silently changes a run.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["PipelineConfig", "default_quarantine_path"]


def default_quarantine_path(output: str | Path) -> Path:
    """``OUTPUT-STEM.rejected.csv`` beside the output (ARCHITECTURE.md)."""
    path = Path(str(output))
    return path.with_name(f"{path.stem}.rejected.csv")


class PipelineConfig(BaseModel):
    """Everything one run needs; the seed's three paths plus optional controls."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    input_path: Path | str = Field(description="Source: a path or URI.")
    output_path: Path | str = Field(description="Sink: a path or URI; written atomically.")
    audit_path: Path = Field(description="Append-only audit log (JSON Lines).")
    schema_ref: str | type[BaseModel] | None = Field(
        default=None,
        alias="schema",
        description="Pydantic model validating each row, as `module:Model` or the class.",
    )
    quarantine_path: Path | str | None = Field(
        default=None, description="Rejected rows; default OUTPUT-STEM.rejected.csv."
    )
    pipeline_id: str | None = Field(default=None, description="Job name; default the output stem.")
    actor: str | None = Field(default=None, description="Who runs it; default the OS user.")
    reason: str | None = Field(default=None, description="Why it runs (re-runs, overrides).")
    as_of: datetime | None = Field(default=None, description="Pinned run time (UTC).")
    max_rejected_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    allow_empty: bool = Field(default=False, description="Accept a source with no records.")
    signing_key: Path | None = Field(default=None, description="Ed25519 key for checkpoints.")
    lineage_store: Path | None = Field(default=None, description="Lineage SQLite store.")
    input_format: str | None = None
    output_format: str | None = None
    engine: Literal["columnar", "reference"] = "columnar"
    progress: bool = Field(default=False, description="Show a Rich progress display on stderr.")

    @field_validator("as_of")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("as_of must carry a time zone, e.g. 2024-01-31T00:00:00Z")
        return value

    @property
    def resolved_quarantine(self) -> Path | str:
        """Where rejected rows go."""
        if self.quarantine_path is not None:
            return self.quarantine_path
        return default_quarantine_path(self.output_path)

    @property
    def resolved_pipeline_id(self) -> str:
        """The job name used in audit and lineage."""
        if self.pipeline_id:
            return self.pipeline_id
        return Path(str(self.output_path)).stem or "pipeline"

    @property
    def resolved_lineage_store(self) -> Path:
        """``lineage.db`` beside the audit log unless given."""
        return self.lineage_store or self.audit_path.with_name("lineage.db")
