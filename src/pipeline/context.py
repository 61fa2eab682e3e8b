"""The run context: the only source of time and identity a run may use.

Steps and connectors receive a :class:`RunContext`; nothing else in a run
reads the clock or a random source, so the same inputs, spec and ``as_of``
give the same output bytes (invariant 2).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["RunContext", "format_timestamp", "new_run_id", "utc_now"]


def utc_now() -> datetime:
    """Return the current UTC time; used for evidence timestamps, never for data."""
    return datetime.now(UTC)


def new_run_id() -> str:
    """Return a fresh run id (a UUID4); it names the run in evidence, never in data."""
    return str(uuid.uuid4())


def format_timestamp(moment: datetime) -> str:
    """Format a moment as RFC 3339 UTC with microseconds and a ``Z`` suffix."""
    if moment.tzinfo is None:
        raise ValueError("timestamps in evidence must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class RunContext:
    """Identity and pinned time of one run, passed to every stage and step."""

    pipeline_id: str
    run_id: str = field(default_factory=new_run_id)
    as_of: datetime = field(default_factory=utc_now)
    actor: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware (UTC)")
