"""In-memory connector (``memory://NAME``) so users test pipelines without I/O.

Frames live in a :class:`MemoryStore`; the default store is process-wide and
reachable as :data:`pipeline.testing.memory_store`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipeline.errors import InputError
from pipeline.hashing import dataset_digest
from pipeline.io.base import (
    ROW_NUMBER,
    ReadResult,
    Sink,
    Source,
    StagedWrite,
    WriteResult,
    check_column_names,
)

__all__ = ["MemorySink", "MemorySource", "MemoryStore", "default_store"]


@dataclass(slots=True)
class MemoryStore:
    """Named frames standing in for files or tables."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)

    def put(self, name: str, frame: pl.DataFrame) -> None:
        """Store ``frame`` under ``name`` (replacing any previous one)."""
        self.frames[name] = frame

    def get(self, name: str) -> pl.DataFrame:
        """Return the frame stored under ``name``."""
        return self.frames[name]


default_store = MemoryStore()


class MemorySource(Source):
    """Reads a frame from a :class:`MemoryStore`; non-text columns are read as text."""

    kind = "memory"
    format = "memory"

    def __init__(self, name: str, store: MemoryStore | None = None) -> None:
        self.name = name
        self.store = store if store is not None else default_store
        self.location = f"memory://{name}"

    def read(self, *, options: dict[str, Any] | None = None) -> ReadResult:
        """Return the stored frame as text columns with its dataset digest."""
        if self.name not in self.store.frames:
            raise InputError("no such in-memory dataset", dataset=self.location)
        typed = self.store.frames[self.name]
        check_column_names(typed.columns, self.location)
        text = typed.with_columns(pl.all().cast(pl.String)).with_row_index(ROW_NUMBER, offset=1)
        text = text.with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))
        is_text = all(dtype == pl.String for dtype in typed.schema.values())
        return ReadResult(
            frame=text,
            malformed=[],
            digest=dataset_digest(typed),
            columns=typed.columns,
            typed_frame=None if is_text else typed,
        )


class _StagedMemory(StagedWrite):
    def __init__(self, sink: MemorySink, frame: pl.DataFrame) -> None:
        self.sink = sink
        self.frame = frame
        self.records = frame.height

    def commit(self) -> WriteResult:
        self.sink.store.put(self.sink.name, self.frame)
        return WriteResult(self.sink.location, dataset_digest(self.frame), self.frame.height, None)

    def abort(self) -> None:
        """Nothing was made visible, so there is nothing to undo."""


class MemorySink(Sink):
    """Writes a frame into a :class:`MemoryStore` on commit."""

    kind = "memory"
    format = "memory"

    def __init__(self, name: str, store: MemoryStore | None = None) -> None:
        self.name = name
        self.store = store if store is not None else default_store
        self.location = f"memory://{name}"

    def stage(self, frame: pl.DataFrame) -> StagedWrite:
        """Hold the frame until commit."""
        return _StagedMemory(self, frame)
