"""The one exception tree of the package.

Every error a user can cause or meet derives from :class:`PipelineError` and
carries a ``hint`` naming the next action, plus optional context (``dataset``,
``line``, ``column``, ``key``, ``step``, ``run_id``). The CLI prints
``str(error)`` (one paragraph) and maps the class to an exit code; nothing
here ever holds a cell value, password or key::

    PipelineError                     exit 2 unless noted
    ├── ConfigError                   bad options, unknown keys, bad module:attr
    │   └── SpecError                 a spec file that does not load or check
    ├── MissingExtraError             an optional connector's extra is not installed
    ├── InputError                    a source that cannot be read as declared
    │   └── MalformedInputError       bytes the format itself cannot parse
    ├── OutputError                   a sink or quarantine that cannot be written
    ├── AuditError                    the audit log cannot be written or read
    │   └── TamperError               verification found a break   (exit 1)
    ├── LineageError                  the lineage store cannot be used
    ├── InternalError                 a bug: an unexpected exception inside a run
    └── RunFailedError                a run that completed its checks and failed (exit 1)
        ├── RejectionThresholdError   too many rows rejected
        └── QualityGateError          an error-severity quality rule failed
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.redaction import redact_uri

if TYPE_CHECKING:
    from pipeline.result import PipelineResult

__all__ = [
    "AuditError",
    "ConfigError",
    "InputError",
    "InternalError",
    "InterruptedRunError",
    "LineageError",
    "MalformedInputError",
    "MissingExtraError",
    "NotDurableError",
    "OutputError",
    "PipelineError",
    "QualityGateError",
    "RejectionThresholdError",
    "RunFailedError",
    "RunInterrupted",
    "SpecError",
    "TamperError",
    "error_for_code",
]


class PipelineError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code: int = 2
    default_hint: str = "run again with --debug for the full traceback"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        dataset: str | None = None,
        line: int | None = None,
        column: str | None = None,
        key: str | None = None,
        step: str | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.dataset = dataset
        self.line = line
        self.column = column
        self.key = key
        self.step = step
        self.run_id = run_id

    @property
    def code(self) -> str:
        """Stable machine name of the error kind, used in audit entries and JSON."""
        return type(self).__name__

    def where(self) -> str:
        """Return the 'file:line, column X' prefix, empty when nothing is known."""
        parts: list[str] = []
        if self.dataset is not None:
            parts.append(self.dataset if self.line is None else f"{self.dataset}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.key is not None:
            parts.append(f"key {self.key!r}")
        if self.step is not None:
            parts.append(f"step {self.step!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        head = f"{where}: {self.message}" if where else self.message
        # Redacted as printed: a location may carry a credential or a ${VAR} value.
        return redact_uri(f"{head}. Hint: {self.hint}." if self.hint else head)

    def to_dict(self) -> dict[str, Any]:
        """Return the error as JSON-ready data (no cell values by construction; credentials
        and ``${VAR}`` values masked)."""
        out: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        for name in ("dataset", "line", "column", "key", "step", "run_id"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return {k: redact_uri(v) if isinstance(v, str) else v for k, v in out.items()}


class ConfigError(PipelineError):
    """Options or configuration that cannot work (unknown key, bad reference)."""

    default_hint = "check the option or key against `pipeline --help` and the README"


class SpecError(ConfigError):
    """A pipeline spec file that does not load or does not check."""

    default_hint = "fix the spec and check it with `pipeline spec check SPEC.yaml`"


class MissingExtraError(ConfigError):
    """An optional dependency is needed; the hint names the extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional package {module!r}, which is not installed",
            hint=f"install it with `pip install 'regulated-data-pipelines[{extra}]'`",
        )
        self.extra = extra


class InputError(PipelineError):
    """A source that does not exist or cannot be read as declared."""

    default_hint = "check that the input exists, is readable and has the declared format"


class MalformedInputError(InputError):
    """Bytes that the declared format itself cannot parse (no row boundary to quarantine)."""

    default_hint = (
        "fix or re-export the file at the line named (UTF-8, one header line, "
        "quotes closed), then run again"
    )


class OutputError(PipelineError):
    """A sink or quarantine location that cannot be written."""

    default_hint = "choose an output path in a writable directory that is not itself a directory"


class NotDurableError(OutputError):
    """A file was renamed into place, but flushing its directory entry failed.

    The file is visible now (its digest is in ``published``); a power cut could
    still undo the rename, so the run fails instead of claiming durability.
    """

    default_hint = (
        "the file is in place but its directory could not be flushed to disk; check the "
        "disk's health, then run again to rewrite it durably"
    )

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: The WriteResult of the file that was published (set by the sink's commit).
        self.published: Any = None


class AuditError(PipelineError):
    """The audit log cannot be written or parsed."""

    default_hint = "check that the audit path is a writable file in an existing directory"


class TamperError(AuditError):
    """Verification found a modified, missing, reordered or unsigned part of the log."""

    exit_code = 1
    default_hint = "run `pipeline audit verify AUDIT --json` to see where the chain breaks"


class LineageError(PipelineError):
    """The lineage store cannot be opened, written or queried."""

    default_hint = "check the lineage store path (--lineage-store) is a writable SQLite file"


class InternalError(PipelineError):
    """An unexpected exception inside a run; its text is withheld from evidence."""

    default_hint = "run again with --debug for the traceback and report it; nothing was written"


class InterruptedRunError(PipelineError):
    """A run stopped by SIGINT (Ctrl-C) or, from the CLI, SIGTERM before it finished."""

    exit_code = 130  # the shell's code for a run ended by SIGINT
    default_hint = "nothing the run had staged was published; run it again"


class RunInterrupted(KeyboardInterrupt):
    """The KeyboardInterrupt a stopped run raises, with the result it logged.

    Still a KeyboardInterrupt (Ctrl-C ends the caller too); ``result`` is the
    :class:`~pipeline.result.PipelineResult` of the failure the audit log holds.
    """

    def __init__(self, result: PipelineResult) -> None:
        super().__init__(result.errors[0]["message"] if result.errors else "interrupted")
        self.result = result


def error_for_code(code: str) -> type[PipelineError]:
    """Return the error class named ``code`` (as in ``PipelineError.code``)."""
    found = globals().get(code)
    if isinstance(found, type) and issubclass(found, PipelineError):
        return found
    return PipelineError


class RunFailedError(PipelineError):
    """A run that read its input and completed its checks, and the checks failed."""

    exit_code = 1
    default_hint = "see the quarantine file and the audit log for the counts per rule"


class RejectionThresholdError(RunFailedError):
    """More rows were rejected than the configured maximum ratio allows."""

    default_hint = (
        "inspect the quarantine file for the reasons, fix the source or raise "
        "--max-rejected-ratio with an approved reason"
    )


class QualityGateError(RunFailedError):
    """An error-severity dataset quality rule failed."""

    default_hint = "see the quality results in the run result and the audit log"
