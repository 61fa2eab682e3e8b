"""sha256_file: the digest, and the inspection that runs beside it on a worker thread."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.hashing import BLOCK_SIZE, sha256_file


def _file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    # Bytes that differ block to block, so a block seen twice or out of order shows.
    data = b"".join(i.to_bytes(4, "big") for i in range(size // 4 + 1))[:size]
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize("size", [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, 3 * BLOCK_SIZE + 17])
def test_inspect_sees_every_block_in_order_and_the_digest_matches(
    tmp_path: Path, size: int
) -> None:
    path, data = _file(tmp_path, size)
    seen: list[bytes] = []
    progress: list[int] = []
    digest = sha256_file(path, inspect=seen.append, on_block=progress.append)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.size == size
    assert b"".join(seen) == data
    assert all(len(block) <= BLOCK_SIZE for block in seen)
    assert sum(progress) == size
    assert sha256_file(path) == digest  # the plain path agrees


def test_an_inspection_error_reaches_the_caller(tmp_path: Path) -> None:
    path, _ = _file(tmp_path, 3 * BLOCK_SIZE)
    calls: list[int] = []

    def inspect(block: bytes) -> None:
        calls.append(len(block))
        if len(calls) == 2:
            raise ValueError("bad block")

    with pytest.raises(ValueError, match="bad block"):
        sha256_file(path, inspect=inspect)
    assert len(calls) == 2  # the error stops the pass: no block is inspected after it
