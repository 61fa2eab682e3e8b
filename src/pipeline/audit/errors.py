"""Errors of the audit trail, below :mod:`pipeline.errors`' ``AuditError``.

::

    AuditError (pipeline.errors)          exit 2
    ├── KeyFormatError                    a key file or key string that does not parse
    ├── NoteError                         a signed note that does not parse or verify
    ├── VocabularyError                   an entry outside the controlled vocabulary
    └── TamperError (pipeline.errors)     exit 1
        └── LogTamperError                verification failed: ``kind`` and first bad ``seq``

:class:`TamperKind` is the stable list of failure kinds ``pipeline audit
verify`` reports; tests and reports use the values.
"""

from __future__ import annotations

from enum import StrEnum

from pipeline.errors import AuditError, TamperError

__all__ = [
    "KeyFormatError",
    "LogTamperError",
    "NoteError",
    "TamperKind",
    "VocabularyError",
]


class TamperKind(StrEnum):
    """What verification found, in the words an auditor uses."""

    MODIFIED = "modified"  # an entry's bytes no longer hash to its entry_hash / link
    DELETED = "deleted"  # one or more entries missing from the middle
    INSERTED = "inserted"  # an entry that does not belong in the chain
    REORDERED = "reordered"  # entries present but out of order
    DUPLICATED = "duplicated"  # the same entry twice
    TRUNCATED = "truncated"  # the log is shorter than a signed checkpoint
    FORKED = "forked"  # a self-consistent log whose root differs from a signed one
    BAD_SIGNATURE = "bad_signature"  # a pinned key's signature does not verify
    UNKNOWN_KEY = "unknown_key"  # a checkpoint signed by no pinned key
    BAD_CHECKPOINT = "bad_checkpoint"  # a checkpoint line that does not parse or agree
    UNSIGNED_TAIL = "unsigned_tail"  # entries after the latest signed checkpoint
    TORN_TAIL = "torn_tail"  # a last line cut short by a crash mid-write


class KeyFormatError(AuditError):
    """A signing or verifier key that cannot be read."""

    default_hint = (
        "create a key pair with `pipeline keys generate --out DIR` and pass "
        "DIR/audit.key to sign or DIR/audit.pub to verify"
    )


class NoteError(AuditError):
    """A signed note (checkpoint) that does not parse or does not verify."""

    default_hint = "verify with the public key the log's owner published (--public-key)"

    def __init__(self, message: str, *, reason: str = "bad_checkpoint") -> None:
        super().__init__(message)
        self.reason = reason


class VocabularyError(AuditError):
    """An action or status outside the controlled vocabulary, or a missing reason."""

    default_hint = (
        "use an action from pipeline.audit.vocabulary (or register_action it), "
        "and give --reason for re-runs and overrides"
    )


class LogTamperError(TamperError):
    """Verification found a break; ``kind`` says what, ``seq`` where it starts."""

    def __init__(self, kind: TamperKind, seq: int | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.seq = seq
