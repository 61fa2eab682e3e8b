"""One audit entry: its fields, its hashes and its line in the log.

Owns the entry format. Each line of an audit log is the RFC 8785 canonical
JSON of one entry (every field present, ``null`` when absent), followed by
``\\n``. Two hashes derive from the canonical bytes ``C`` of the entry
*without* ``entry_hash``:

* ``entry_hash = hex(SHA-256(C))`` — links the chain (the next entry's
  ``prev_hash``; the first entry's ``prev_hash`` is 64 zeros);
* the Merkle leaf ``SHA-256(0x00 || C)`` (RFC 9162) — signed checkpoints
  commit to the tree of these leaves, leaf index = ``seq`` (0-based).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from pipeline.audit.canonical import canonical_bytes
from pipeline.audit.merkle import leaf_hash
from pipeline.errors import AuditError

__all__ = [
    "FIELDS",
    "GENESIS_HASH",
    "AuditEntry",
    "format_timestamp",
    "parse_timestamp",
    "split_line",
]

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64


def format_timestamp(moment: datetime) -> str:
    """UTC RFC 3339 with microseconds and ``Z``: ``2024-01-15T10:30:00.000000Z``."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """Read a timestamp written by :func:`format_timestamp` (or any RFC 3339 ``Z`` form)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An entry as written: what happened, to what, by whom, when, and its links."""

    entry_id: str
    timestamp: str
    pipeline_id: str
    stage: str
    action: str
    status: str
    record_count: int | None
    seq: int
    run_id: str | None
    actor: str | None
    reason: str | None
    details: dict[str, Any] | None
    input_hash: str | None
    output_hash: str | None
    prev_hash: str
    entry_hash: str

    @property
    def time(self) -> datetime:
        """The timestamp as an aware UTC datetime."""
        return parse_timestamp(self.timestamp)

    def body(self) -> dict[str, Any]:
        """The fields that ``entry_hash`` covers (all but ``entry_hash``)."""
        out = {name: getattr(self, name) for name in FIELDS}
        del out["entry_hash"]
        return out

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-ready."""
        return {name: getattr(self, name) for name in FIELDS}

    def canonical_body(self) -> bytes:
        """``C``: canonical bytes of the entry without ``entry_hash``."""
        return canonical_bytes(self.body())

    def leaf_hash(self) -> bytes:
        """This entry's RFC 9162 Merkle leaf hash."""
        return leaf_hash(self.canonical_body())

    def line(self) -> bytes:
        """The entry's line in the log, newline included."""
        return canonical_bytes(self.to_dict()) + b"\n"

    @classmethod
    def seal(cls, **body: Any) -> tuple[AuditEntry, bytes]:
        """Build an entry from its body, computing ``entry_hash``; also return ``C``."""
        entry, c, _ = cls.seal_with_line(**body)
        return entry, c

    @classmethod
    def seal_with_line(cls, **body: Any) -> tuple[AuditEntry, bytes, bytes]:
        """:meth:`seal`, plus the entry's line, canonicalising the body once."""
        c = canonical_bytes(body)
        digest = hashlib.sha256(c).hexdigest()
        entry = cls(**body, entry_hash=digest)
        # C is canonical, so sorted: entry_hash belongs just before entry_id.
        # Only quote-free string values follow entry_id, so its last
        # occurrence is the top-level key even if details nest one.
        at = c.rindex(_AFTER_DETAILS_KEY)
        line = c[:at] + b',"entry_hash":"' + digest.encode() + b'"' + c[at:]
        return entry, c, line + b"\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        """Rebuild an entry read from a log line (no hash checking here)."""
        if set(data) != _FIELD_SET:
            missing = sorted(_FIELD_SET - set(data))
            extra = sorted(set(data) - _FIELD_SET)
            raise AuditError(f"audit entry fields differ: missing {missing}, unexpected {extra}")
        return cls(**data)


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AuditEntry))
_FIELD_SET = frozenset(FIELDS)

_AFTER_DETAILS_KEY = b',"entry_id":"'
_HASH_KEY = b'"entry_hash":"'
_HASH_SEGMENT = len(_HASH_KEY) + 64 + 2  # key, 64 hex digits, closing quote and comma


def split_line(line: bytes) -> tuple[bytes, bytes] | None:
    """Split a canonical entry line into ``C`` and its hex ``entry_hash`` (no parsing).

    In canonical (key-sorted) form ``entry_hash`` follows ``details`` and is
    followed by ``entry_id``; only string values without raw quotes come
    after it, so its last occurrence is the top-level key. None when the line
    cannot be an entry line.
    """
    at = line.rfind(_HASH_KEY)
    if at < 0 or line[at + _HASH_SEGMENT - 2 : at + _HASH_SEGMENT] != b'",':
        return None
    digest = line[at + len(_HASH_KEY) : at + len(_HASH_KEY) + 64]
    return line[:at] + line[at + _HASH_SEGMENT :], digest
