"""Reading the trail for people: filters, and CSV / JSON Lines review copies.

Owns ``pipeline audit show`` and ``pipeline audit export`` (21 CFR Part 11
§11.10(b): accurate and complete copies in human-readable form). Copies keep
every field in the documented order; they are for review, not for
verification (verify the log itself).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TextIO

from pipeline.audit.entry import FIELDS, AuditEntry, parse_timestamp

__all__ = ["EntryFilter", "export_entries", "filter_entries"]


@dataclass(frozen=True)
class EntryFilter:
    """Which entries to show; None means any."""

    run_id: str | None = None
    pipeline_id: str | None = None
    action: str | None = None
    actor: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, entry: AuditEntry) -> bool:
        """True iff ``entry`` passes every set criterion (time range is inclusive)."""
        for name in ("run_id", "pipeline_id", "action", "actor", "status"):
            want = getattr(self, name)
            if want is not None and getattr(entry, name) != want:
                return False
        if self.since is not None or self.until is not None:
            moment = parse_timestamp(entry.timestamp)
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment > self.until:
                return False
        return True


def filter_entries(entries: Iterable[AuditEntry], flt: EntryFilter) -> Iterator[AuditEntry]:
    """The entries that match ``flt``, in log order."""
    return (e for e in entries if flt.matches(e))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def export_entries(entries: Iterable[AuditEntry], out: TextIO, fmt: Literal["csv", "jsonl"]) -> int:
    """Write a review copy of ``entries`` to ``out``; return how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for entry in entries:
            writer.writerow([_cell(getattr(entry, name)) for name in FIELDS])
            count += 1
    elif fmt == "jsonl":
        for entry in entries:
            out.write(json.dumps(entry.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return count


def export_to_string(entries: Iterable[AuditEntry], fmt: Literal["csv", "jsonl"]) -> str:
    """The review copy as a string (tests, small logs)."""
    buf = io.StringIO()
    export_entries(entries, buf, fmt)
    return buf.getvalue()
