"""Run configuration: :class:`PipelineConfig` (the seed's Python API).

Plain Pydantic models that declare a run; the runner executes them. Unknown
keys are errors (``extra='forbid'``) so a typo never silently changes a run.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from pipeline.steps.models import StepModel


def _check_options(options: dict[str, Any]) -> dict[str, Any]:
    """A CSV separator is one single-byte character (Polars' and the csv module's rule).

    Found by review: "::", "é" or "" reached the readers and failed as an internal
    TypeError, or a traceback in `spec check`.
    """
    separator = options.get("separator")
    if separator is not None and not (
        isinstance(separator, str)
        and len(separator.encode("utf-8")) == 1
        and separator not in "\r\n"
    ):
        raise ValueError(
            f"separator {separator!r} must be one single-byte character other than a line "
            "break, such as ',' ';' '|' or a tab"
        )
    return options


__all__ = ["Mode", "PipelineConfig", "default_quarantine_path"]

Mode = Literal["batch", "streaming", "auto"]


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
    source_options: Annotated[dict[str, Any], AfterValidator(_check_options)] = Field(
        default_factory=dict
    )
    steps: list[Annotated[StepModel, Field(discriminator="kind")]] = Field(
        default_factory=list, description="Transform steps, in order."
    )
    quality: list[dict[str, Any]] = Field(default_factory=list, description="Quality rules.")
    quality_stage: Literal["input", "output"] = "output"
    mode: Mode = "batch"
    spec_path: Path | None = None
    spec_hash: str | None = None
    base_dir: Path | None = Field(
        default=None, description="Folder for python step and schema model imports."
    )

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
        # The output's file stem, without a URI's query (it may hold credentials).
        text = str(self.output_path)
        path = urlsplit(text).path if "://" in text else text
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem).strip("_.")
        return stem or "pipeline"

    @property
    def resolved_lineage_store(self) -> Path:
        """``lineage.db`` beside the audit log unless given."""
        return self.lineage_store or self.audit_path.with_name("lineage.db")


# -- the YAML spec, version 1 --------------------------------------------------------------------
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Section):
    """Where the run reads from."""

    uri: str
    format: str | None = None
    options: Annotated[dict[str, Any], AfterValidator(_check_options)] = Field(default_factory=dict)


class SinkSpec(_Section):
    """Where the run writes to."""

    uri: str
    format: str | None = None


class QuarantineSpec(_Section):
    """Where rejected rows go."""

    uri: str


class AuditSpec(_Section):
    """The audit log and its signing key."""

    path: str
    signing_key: str | None = None


class LineageSpec(_Section):
    """The lineage store."""

    store: str | None = None


class QualitySpec(_Section):
    """Rules and where they run (before or after the steps)."""

    stage: Literal["input", "output"] = "output"
    rules: list[dict[str, Any]] = Field(default_factory=list)


class PipelineSpec(_Section):
    """A pipeline spec file (version 1), as ARCHITECTURE.md shows it."""

    version: Literal[1]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    mode: Mode = "batch"
    source: SourceSpec
    schema_ref: str | None = Field(default=None, alias="schema")
    max_rejected_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    steps: list[Annotated[StepModel, Field(discriminator="kind")]] = Field(default_factory=list)
    sink: SinkSpec
    quarantine: QuarantineSpec | None = None
    audit: AuditSpec
    lineage: LineageSpec = Field(default_factory=LineageSpec)
    spec_path: Path | None = Field(default=None, exclude=True)
    spec_hash: str | None = Field(default=None, exclude=True)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_a_number(cls, value: Any) -> Any:
        # Lax mode took `version: true` for 1 (found by review); a Literal cannot be strict.
        if isinstance(value, bool):
            raise ValueError("the version is the number 1")
        return value

    def to_config(self, **overrides: Any) -> PipelineConfig:
        """The run configuration this spec describes; ``overrides`` win (CLI options)."""
        values: dict[str, Any] = {
            "input_path": self.source.uri,
            "input_format": self.source.format,
            "source_options": dict(self.source.options),
            "output_path": self.sink.uri,
            "output_format": self.sink.format,
            "audit_path": Path(self.audit.path),
            "signing_key": Path(self.audit.signing_key) if self.audit.signing_key else None,
            "schema": self.schema_ref,
            "quarantine_path": self.quarantine.uri if self.quarantine else None,
            "pipeline_id": self.name,
            "max_rejected_ratio": self.max_rejected_ratio,
            "lineage_store": Path(self.lineage.store) if self.lineage.store else None,
            "steps": list(self.steps),
            "quality": list(self.quality.rules),
            "quality_stage": self.quality.stage,
            "mode": self.mode,
            "spec_path": self.spec_path,
            "spec_hash": self.spec_hash,
            "base_dir": self.spec_path.parent if self.spec_path else None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return PipelineConfig(**values)
