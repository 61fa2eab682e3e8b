"""Signed checkpoints: the C2SP ``tlog-checkpoint`` body, signed as a C2SP note.

A checkpoint commits to the first ``size`` entries of a log::

    <origin>\\n<size>\\n<base64 Merkle root>\\ntime <RFC 3339 UTC>\\n

(the C2SP mandatory lines plus one extension line, so the signing time is
signed too; C2SP clients ignore extension lines they do not know), signed
with the log's Ed25519 key (:mod:`pipeline.audit.note`). They are appended
to ``AUDIT.checkpoints``, one JSON object a line::

    {"key_id":"c74f20a3","key_name":"…","note":"<signed note>","origin":"…",
     "root":"<hex>","size":N,"timestamp":"…Z"}

Only ``note`` is trusted (after its signature checks against a pinned key);
the other fields are a readable copy and must agree with it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.audit.canonical import canonical_bytes
from pipeline.audit.errors import NoteError
from pipeline.audit.note import Signer, Verifier, open_note, parse_signatures, sign_note

__all__ = [
    "Checkpoint",
    "checkpoints_path",
    "iter_checkpoint_lines",
    "parse_checkpoint_body",
]


def checkpoints_path(log_path: str | Path) -> Path:
    """Where a log's checkpoints live: ``AUDIT.checkpoints`` beside it."""
    p = Path(log_path)
    return p.with_name(p.name + ".checkpoints")


_TIME_PREFIX = "time "


def format_checkpoint_body(origin: str, size: int, root: bytes, timestamp: str = "") -> str:
    """The C2SP tlog-checkpoint text (what gets signed)."""
    if not origin or "\n" in origin or "\n" in timestamp:
        raise NoteError("checkpoint origin and time must be single non-empty lines")
    time_line = f"{_TIME_PREFIX}{timestamp}\n" if timestamp else ""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n{time_line}"


def checkpoint_time(text: str) -> str:
    """The signed ``time`` extension line's value ("" when absent)."""
    for line in text.split("\n")[3:]:
        if line.startswith(_TIME_PREFIX):
            return line[len(_TIME_PREFIX) :]
    return ""


def parse_checkpoint_body(text: str) -> tuple[str, int, bytes]:
    """Origin, size and root of a checkpoint text (extension lines are not read here)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("checkpoint text needs origin, size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise NoteError("checkpoint origin or size line is malformed")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("checkpoint root is not base64") from exc
    if len(root) != 32:
        raise NoteError("checkpoint root is not a SHA-256 hash")
    return origin, int(size_text), root


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "the log named ``origin`` had ``size`` entries with ``root``"."""

    origin: str
    size: int
    root: bytes
    timestamp: str
    key_name: str
    key_id: str
    note: str

    @classmethod
    def sign(
        cls, origin: str, size: int, root: bytes, timestamp: str, signer: Signer
    ) -> Checkpoint:
        """Sign a new checkpoint."""
        note = sign_note(format_checkpoint_body(origin, size, root, timestamp), [signer])
        return cls(origin, size, root, timestamp, signer.name, f"{signer.key_id:08x}", note)

    def __str__(self) -> str:
        """The signed note exactly as signed (what ``--checkpoint CP`` files hold)."""
        return self.note

    def to_record(self) -> dict[str, Any]:
        """The JSON object stored in ``AUDIT.checkpoints``."""
        return {
            "key_id": self.key_id,
            "key_name": self.key_name,
            "note": self.note,
            "origin": self.origin,
            "root": self.root.hex(),
            "size": self.size,
            "timestamp": self.timestamp,
        }

    def to_line(self) -> bytes:
        """One line of ``AUDIT.checkpoints``."""
        return canonical_bytes(self.to_record()) + b"\n"

    @classmethod
    def from_note(cls, note: str, verifiers: Iterable[Verifier] | None = None) -> Checkpoint:
        """Read a bare signed note (``--checkpoint CP``); check it when ``verifiers`` given."""
        if verifiers is not None:
            text, signed_by = open_note(note, verifiers)
            name, kid = signed_by[0].name, signed_by[0].key_id
        else:
            text, sigs = parse_signatures(note)
            name, kid = sigs[0].name, sigs[0].key_id
        origin, size, root = parse_checkpoint_body(text)
        return cls(origin, size, root, checkpoint_time(text), name, f"{kid:08x}", note)

    @classmethod
    def from_record(cls, record: Any, verifiers: Iterable[Verifier] | None = None) -> Checkpoint:
        """Read one ``AUDIT.checkpoints`` object; its readable fields must match the note."""
        if not isinstance(record, dict) or not isinstance(record.get("note"), str):
            raise NoteError("checkpoint record has no signed note")
        cp = cls.from_note(record["note"], verifiers)
        if (
            record.get("origin") != cp.origin
            or record.get("size") != cp.size
            or record.get("root") != cp.root.hex()
            or record.get("timestamp") != cp.timestamp
            or set(record) != _RECORD_KEYS
        ):
            raise NoteError("checkpoint record fields disagree with its signed note")
        if record.get("key_name") != cp.key_name or record.get("key_id") != cp.key_id:
            raise NoteError("checkpoint record names another key than its signature")
        return cp


_RECORD_KEYS = frozenset({"key_id", "key_name", "note", "origin", "root", "size", "timestamp"})


def iter_checkpoint_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes without newline, complete?) for each line of a checkpoints file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    lines = data.split(b"\n")
    last = lines.pop()  # b"" when the file ends with a newline
    for number, line in enumerate(lines, start=1):
        yield number, line, True
    if last:
        yield len(lines) + 1, last, False


def load_record(line: bytes) -> Any:
    """Parse one checkpoints line as JSON (NoteError if it is not)."""
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NoteError("checkpoint line is not JSON") from exc
