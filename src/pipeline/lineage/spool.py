"""The spool: OpenLineage events the transport could not deliver, kept for a later flush.

A JSON Lines file, one ``{"spooled_at", "reason", "event"}`` object a line,
appended whole under an exclusive ``flock`` and fsynced, so concurrent runs
never interleave lines and a crash never loses an accepted event.

Flushing never holds the spool lock while it talks to the network: it
atomically renames the spool to ``<spool>.<id>.flushing`` (new failures go to a
fresh spool meanwhile), holds a lock on that file while sending, stops at the
first failure to keep START before COMPLETE, and puts what is left back at the
head of the spool. A flush that crashed leaves its ``.flushing`` file unlocked;
the next flush adopts it, so nothing is lost. Delivery is therefore
at-least-once: consumers may see an event twice, never zero times.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = ["FlushResult", "Spool"]


@dataclass
class FlushResult:
    """What a flush did: events delivered, events still spooled, the first error."""

    delivered: int = 0
    remaining: int = 0
    errors: list[str] = field(default_factory=list)
    send_failed: bool = False  # a send failed: the events after it wait for the next flush

    @property
    def ok(self) -> bool:
        """Whether the spool is now empty."""
        return self.remaining == 0

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return {"delivered": self.delivered, "remaining": self.remaining, "errors": self.errors}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_lines(handle: IO[bytes], lines: list[bytes]) -> None:
    handle.writelines(lines)
    handle.flush()
    os.fsync(handle.fileno())


class Spool:
    """An append-only file of undelivered events, with an at-least-once flush."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = self.path.with_name(self.path.name + ".lock")

    def append(self, event: dict[str, Any], reason: str) -> None:
        """Add one event (already serialized to JSON-ready data) with why it was spooled."""
        entry = {
            "spooled_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "reason": reason,
            "event": event,
        }
        line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
        with _locked(self._lock), self.path.open("ab") as handle:
            # A line cut short by a crash is ended first, so this one stays whole (glued
            # to it, both would be lost to the parse).
            _write_lines(handle, [b"\n", line] if _torn_tail(self.path) else [line])

    def pending(self) -> list[dict[str, Any]]:
        """Return every spooled entry (including any a crashed flush left), oldest first;
        a line cut short by a crash is not an entry (a flush sets it apart)."""
        entries: list[dict[str, Any]] = []
        for path in [*sorted(self._flushing_files()), self.path]:
            if path.exists():
                entries += [e for x in path.read_bytes().splitlines() if (e := _entry(x))]
        return entries

    @property
    def damaged_path(self) -> Path:
        """Where a flush keeps lines that are not whole entries (never deleted)."""
        return self.path.with_name(self.path.name + ".damaged")

    def __len__(self) -> int:
        return len(self.pending())

    def _flushing_files(self) -> list[Path]:
        return list(self.path.parent.glob(f"{self.path.name}.*.flushing"))

    def flush(self, send: Callable[[dict[str, Any]], str | None]) -> FlushResult:
        """Re-send spooled events in order with ``send`` (returns an error text or None)."""
        result = FlushResult()
        with _locked(self._lock):
            if self.path.exists() and self.path.stat().st_size:
                # Time-ordered names: batches (and crash leftovers) flush oldest first.
                stamp = f"{time.time_ns():020d}{uuid.uuid4().hex[:8]}"
                self.path.rename(self.path.with_name(f"{self.path.name}.{stamp}.flushing"))
        for batch in sorted(self._flushing_files()):
            self._flush_file(batch, send, result)
        result.remaining = len(self.pending())
        return result

    def _flush_file(
        self, batch: Path, send: Callable[[dict[str, Any]], str | None], result: FlushResult
    ) -> None:
        try:
            handle = batch.open("rb")
        except FileNotFoundError:  # another flush finished it first
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another flush owns this batch right now
                return
            if not batch.exists():
                return
            lines: list[tuple[bytes, dict[str, Any]]] = []
            damaged: list[tuple[int, bytes]] = []
            for number, raw in enumerate(handle.read().splitlines(), start=1):
                if not raw.strip():
                    continue
                entry = _entry(raw)
                if entry is None:
                    damaged.append((number, raw + b"\n"))
                else:
                    lines.append((raw + b"\n", entry))
            if damaged:
                # A line cut short by a crash (kill -9 mid-append) made every flush fail
                # on its parse and send the rest again (found by review): it is kept
                # aside, named, and the events around it go on.
                with _locked(self._lock), self.damaged_path.open("ab") as kept:
                    _write_lines(kept, [raw for _, raw in damaged])
                result.errors.append(
                    f"{len(damaged)} line(s) of the spool were not whole events (first: "
                    f"line {damaged[0][0]}); kept in {self.damaged_path}"
                )
            sent = 0
            for _, entry in lines:
                if result.send_failed:
                    break  # keep the order: nothing after an event that failed
                error = send(entry["event"])
                if error is not None:
                    result.errors.append(error)
                    result.send_failed = True
                    break
                sent += 1
            result.delivered += sent
            left = [raw for raw, _ in lines[sent:]]
            if left:
                self._requeue(left)
            batch.unlink()

    def _requeue(self, lines: list[bytes]) -> None:
        # Undelivered events go back before anything spooled meanwhile, so the
        # order of events of one run (START, then COMPLETE) is kept.
        with _locked(self._lock):
            current = self.path.read_bytes().splitlines(keepends=True) if self.path.exists() else []
            tmp = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex}.tmp")
            with tmp.open("wb") as handle:
                _write_lines(handle, lines + current)
            tmp.replace(self.path)


def _entry(line: bytes) -> dict[str, Any] | None:
    """The spooled entry a line holds, or None for a line that is not one."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("event"), dict) else None


def _torn_tail(path: Path) -> bool:
    """Whether the file's last byte is not a line end (a write cut short)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False
