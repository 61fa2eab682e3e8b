"""regulated-data-pipelines: ETL that leaves evidence an auditor can verify.

The public API; everything else is reachable through the subpackages
(``pipeline.io``, ``pipeline.schema``, ``pipeline.audit``, ``pipeline.lineage``).
"""

from __future__ import annotations

from pipeline.audit.entry import AuditEntry
from pipeline.audit.log import AuditLogger
from pipeline.audit.verify import VerifyReport, verify_log
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
from pipeline.quality import QualityOutcome, evaluate, parse_rules
from pipeline.result import PipelineResult
from pipeline.runner import run_pipeline
from pipeline.schema import ValidationResult, load_model, validate
from pipeline.spec import PipelineConfig, PipelineSpec
from pipeline.spec_check import check_spec
from pipeline.spec_loader import load_spec

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
    "PipelineSpec",
    "QualityOutcome",
    "RunContext",
    "RunFailedError",
    "SpecError",
    "TamperError",
    "ValidationResult",
    "VerifyReport",
    "check_spec",
    "evaluate",
    "load_model",
    "load_spec",
    "parse_rules",
    "run_pipeline",
    "validate",
    "verify_log",
]
