"""SHA-256 of files and datasets: the digests that tie evidence to bytes.

Files are hashed in 1 MiB blocks so memory stays flat whatever their size. A
source that is not a file (a table, an in-memory frame) gets a *dataset
digest*: SHA-256 over a canonical serialization of its rows, so the same
rows always give the same digest for a given package version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

__all__ = [
    "BLOCK_SIZE",
    "DatasetDigest",
    "FileDigest",
    "dataset_digest",
    "sha256_bytes",
    "sha256_file",
]

BLOCK_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class FileDigest:
    """The SHA-256 of a file and its size."""

    sha256: str
    size: int


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(
    path: Path | str,
    *,
    on_block: Callable[[int], None] | None = None,
    inspect: Callable[[bytes], None] | None = None,
) -> FileDigest:
    """Hash a file in 1 MiB blocks.

    ``on_block`` receives the byte count of each block (for progress display);
    ``inspect`` each block itself, so a reader can learn from the same pass.
    """
    digest = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as handle:
        if inspect is None:
            while block := handle.read(BLOCK_SIZE):
                digest.update(block)
                size += len(block)
                if on_block is not None:
                    on_block(len(block))
        else:
            size = _hash_and_inspect(handle, digest, inspect, on_block)
    return FileDigest(sha256=digest.hexdigest(), size=size)


def _hash_and_inspect(
    handle: BinaryIO,
    digest: hashlib._Hash,
    inspect: Callable[[bytes], None],
    on_block: Callable[[int], None] | None,
) -> int:
    """``inspect`` each block on a worker thread while this thread hashes it.

    ``update`` releases the GIL for a large block, so the worker's inspection
    (typically ``bytes.count``, which holds the GIL) runs meanwhile: 80 MB of
    CSV hashed and counted in 0.08 s where one after the other took 0.12 s.
    The other way round does not overlap: the hash thread would wait for the
    GIL until the count ends. Each inspection waits for the one before, so
    both see the blocks in file order.
    """
    size = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        inspecting: Future[None] | None = None
        while block := handle.read(BLOCK_SIZE):
            if inspecting is not None:
                inspecting.result()
            inspecting = pool.submit(inspect, block)
            digest.update(block)
            size += len(block)
            if on_block is not None:
                on_block(len(block))
        if inspecting is not None:
            inspecting.result()
    return size


class DatasetDigest:
    """:func:`dataset_digest` over a dataset arriving in chunks: the same digest as
    the whole frame's, since Polars writes each row's CSV line on its own."""

    def __init__(self, schema: pl.Schema) -> None:
        self._digest = hashlib.sha256()
        header = "\x1f".join(f"{name}:{dtype}" for name, dtype in schema.items())
        self._digest.update(header.encode("utf-8"))
        self._digest.update(b"\x1e")

    def update(self, frame: pl.DataFrame) -> None:
        self._digest.update(frame.write_csv(include_header=False).encode("utf-8"))

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def dataset_digest(frame: pl.DataFrame) -> str:
    """Digest of a dataset that has no file of its own (a table, a frame).

    Column names and dtypes are part of the digest so a retyped column is a
    different dataset; rows are serialized as CSV by Polars, which is
    deterministic for a given version.
    """
    digest = DatasetDigest(frame.schema)
    digest.update(frame)
    return digest.hexdigest()
