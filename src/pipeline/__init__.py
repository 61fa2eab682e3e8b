"""regulated-data-pipelines: ETL that leaves evidence an auditor can verify.

The public API; everything else is reachable through the subpackages
(``pipeline.io``, ``pipeline.schema``, ``pipeline.audit``, ``pipeline.lineage``).

Names are imported on first use (PEP 562 ``__getattr__``): ``from pipeline import
PipelineConfig, run_pipeline`` must not pay for the quality engine or the spec
checker, which a run without quality rules never touches.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_IMPORTING = threading.RLock()

#: Subpackages reachable as attributes of ``pipeline`` once it is imported.
_SUBPACKAGES = frozenset(
    {"audit", "cli", "execution", "io", "lineage", "quality", "schema", "steps"}
)

# Where each public name lives; must match the TYPE_CHECKING imports above
# (tests/unit/test_public_api.py checks that every name resolves).
_SOURCES: dict[str, str] = {
    "AuditEntry": "pipeline.audit.entry",
    "AuditError": "pipeline.errors",
    "AuditLogger": "pipeline.audit.log",
    "ConfigError": "pipeline.errors",
    "InputError": "pipeline.errors",
    "LineageError": "pipeline.errors",
    "LineageTracker": "pipeline.lineage",
    "MalformedInputError": "pipeline.errors",
    "OutputError": "pipeline.errors",
    "PipelineConfig": "pipeline.spec",
    "PipelineError": "pipeline.errors",
    "PipelineResult": "pipeline.result",
    "PipelineSpec": "pipeline.spec",
    "QualityOutcome": "pipeline.quality",
    "RunContext": "pipeline.context",
    "RunFailedError": "pipeline.errors",
    "SpecError": "pipeline.errors",
    "TamperError": "pipeline.errors",
    "ValidationResult": "pipeline.schema",
    "VerifyReport": "pipeline.audit.verify",
    "check_spec": "pipeline.spec_check",
    "evaluate": "pipeline.quality",
    "load_model": "pipeline.schema",
    "load_spec": "pipeline.spec_loader",
    "parse_rules": "pipeline.quality",
    "run_pipeline": "pipeline.runner",
    "validate": "pipeline.schema",
    "verify_log": "pipeline.audit.verify",
}


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name is still an error

    def __getattr__(name: str) -> Any:
        """Import a public name (or a subpackage) on first access, then keep it in the module.

        One lock for every first access: two threads importing the ``pipeline.audit``
        modules at once (they import each other) got "partially initialized module"
        ImportErrors from CPython's import deadlock avoidance.
        """
        source = _SOURCES.get(name)
        if source is None and name not in _SUBPACKAGES:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        with _IMPORTING:
            if source is None:  # ``import pipeline; pipeline.audit...`` as before
                value: Any = importlib.import_module(f"{__name__}.{name}")
            else:
                value = getattr(importlib.import_module(source), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
