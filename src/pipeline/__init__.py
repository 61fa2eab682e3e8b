"""regulated-data-pipelines: ETL that leaves evidence an auditor can verify.

The public API; everything else is reachable through the subpackages
(``pipeline.io``, ``pipeline.schema``, ``pipeline.audit``, ``pipeline.lineage``).
"""

from __future__ import annotations

from pipeline.audit.entry import AuditEntry
from pipeline.audit.log import AuditLogger
from pipeline.context import RunContext
from pipeline.errors import (
    AuditError,
    ConfigError,
    InputError,
    LineageError,
    MalformedInputError,
    OutputError,
    PipelineError,
    RunFailedError,
    SpecError,
    TamperError,
)
from pipeline.lineage import LineageTracker
from pipeline.result import PipelineResult
from pipeline.runner import run_pipeline
from pipeline.schema import ValidationResult, load_model, validate
from pipeline.spec import PipelineConfig

__version__ = "0.1.0"

__all__ = [
    "AuditEntry",
    "AuditError",
    "AuditLogger",
    "ConfigError",
    "InputError",
    "LineageError",
    "LineageTracker",
    "MalformedInputError",
    "OutputError",
    "PipelineConfig",
    "PipelineError",
    "PipelineResult",
    "RunContext",
    "RunFailedError",
    "SpecError",
    "TamperError",
    "ValidationResult",
    "load_model",
    "run_pipeline",
    "validate",
]
