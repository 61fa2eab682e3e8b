"""Connectors: where data is read from and written to, chosen by URI scheme.

The contract is in :mod:`pipeline.io.base`; :func:`open_source` and
:func:`open_sink` pick the implementation.
"""

from __future__ import annotations

from pipeline.io.base import (
    ROW_NUMBER,
    MalformedRow,
    ReadResult,
    Sink,
    Source,
    StagedWrite,
    WriteResult,
)
from pipeline.io.memory import MemorySink, MemorySource, MemoryStore
from pipeline.io.registry import open_sink, open_source, redact

__all__ = [
    "ROW_NUMBER",
    "MalformedRow",
    "MemorySink",
    "MemorySource",
    "MemoryStore",
    "ReadResult",
    "Sink",
    "Source",
    "StagedWrite",
    "WriteResult",
    "open_sink",
    "open_source",
    "redact",
]
