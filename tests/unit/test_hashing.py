"""sha256_file and hash_while_writing: the digest, and the inspection beside it."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from pipeline import hashing
from pipeline.hashing import BLOCK_SIZE, Inspector, hash_while_writing, sha256_file


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
    # A block is valid only during the call (the reader reuses its buffers): keep copies.
    digest = sha256_file(
        path, inspect=lambda block: seen.append(bytes(block)), on_block=progress.append
    )
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.size == size
    assert b"".join(seen) == data
    assert all(len(block) <= BLOCK_SIZE for block in seen)
    assert sum(progress) == size
    assert sha256_file(path) == digest  # the plain path agrees


def test_a_slow_inspection_sees_its_block_whole_while_later_blocks_are_read(
    tmp_path: Path,
) -> None:
    """The reader reuses two buffers: the block an inspection holds is not the one the
    next read fills, however long the inspection takes."""
    path, data = _file(tmp_path, 6 * BLOCK_SIZE + 5)
    expected = [data[i : i + BLOCK_SIZE] for i in range(0, len(data), BLOCK_SIZE)]
    intact: list[bool] = []

    def inspect(block: bytes | bytearray) -> None:
        time.sleep(0.02)  # the hashing thread reads the next block meanwhile
        intact.append(bytes(block) == expected[len(intact)])

    digest = sha256_file(path, inspect=inspect)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert intact == [True] * len(expected)


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


def _slow_writer(path: Path, data: bytes, pieces: int) -> None:
    # Appends in uneven pieces with pauses, so the reader catches up and waits
    # mid-file, and reads blocks that end inside a piece.
    with path.open("wb") as handle:  # truncates the file the hasher created
        step = max(1, len(data) // pieces)
        for start in range(0, len(data), step):
            handle.write(data[start : start + step])
            handle.flush()
            time.sleep(0.003)


@pytest.mark.parametrize("size", [0, 5, 3 * BLOCK_SIZE + 17])
def test_hash_while_writing_follows_the_writer(tmp_path: Path, size: int) -> None:
    _, data = _file(tmp_path, size)
    path = tmp_path / "out.bin"
    seen: list[bytes] = []
    made: list[Inspector] = []

    def inspector() -> Inspector:
        made.append(seen.append)
        return seen.append

    digest, used = hash_while_writing(
        path, lambda: _slow_writer(path, data, 7), inspector=inspector
    )
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.size == size == path.stat().st_size
    assert b"".join(seen) == data  # every byte inspected once, in order
    assert made == [used]  # one inspector: the tail pass needed no second pass


def test_hash_while_writing_rehashes_a_file_the_writer_replaced(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    _, data = _file(tmp_path, 2 * BLOCK_SIZE + 3)
    seen: list[list[bytes]] = []

    def inspector() -> Inspector:
        blocks: list[bytes] = []
        seen.append(blocks)
        return lambda block: blocks.append(bytes(block))

    def replace() -> None:
        path.write_bytes(b"first version, followed by the reader")
        # Replace it only once the reader has followed the first version (the test was
        # flaky: a reader that opened the file after the replace saw one version only).
        deadline = time.monotonic() + 10
        while not seen[0] and time.monotonic() < deadline:
            time.sleep(0.001)
        other = tmp_path / "other.bin"
        other.write_bytes(data)
        os.replace(other, path)  # a new inode at the same name

    digest, _ = hash_while_writing(path, replace, inspector=inspector)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(seen[-1]) == data  # the fresh inspector saw only the final bytes
    assert len(seen) == 2


def test_hash_while_writing_lets_a_write_error_through(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"

    def fail() -> None:
        path.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        hash_while_writing(path, fail)


def test_flush_behind_flushes_as_it_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small flush interval: a 3-block file is flushed at least twice while it is followed.
    monkeypatch.setattr(hashing, "FLUSH_BYTES", BLOCK_SIZE)
    flushed: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        flushed.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(hashing.os, "fdatasync", counting)
    _, data = _file(tmp_path, 3 * BLOCK_SIZE + 17)
    path = tmp_path / "out.bin"
    digest, _ = hash_while_writing(path, lambda: _slow_writer(path, data, 7), flush_behind=True)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert len(flushed) >= 2
    assert flushed == sorted(flushed)


def test_a_failed_flush_behind_is_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Linux reports a write-back error once per open file: the follower saw it, so
    # the caller's later fsync might not; it must come out of hash_while_writing.
    monkeypatch.setattr(hashing, "FLUSH_BYTES", BLOCK_SIZE)

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(hashing.os, "fdatasync", failing)
    _, data = _file(tmp_path, 3 * BLOCK_SIZE)
    path = tmp_path / "out.bin"
    with pytest.raises(OSError, match="Input/output error"):
        hash_while_writing(path, lambda: _slow_writer(path, data, 5), flush_behind=True)
    # Without flush_behind nothing is flushed early, so nothing fails here.
    other = tmp_path / "other.bin"
    digest, _ = hash_while_writing(other, lambda: _slow_writer(other, data, 5))
    assert digest.sha256 == hashlib.sha256(data).hexdigest()


def test_flush_behind_without_fdatasync_uses_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # macOS has no os.fdatasync: the follower must flush with fsync, not fail and
    # leave the file to a second full hashing pass.
    monkeypatch.setattr(hashing, "FLUSH_BYTES", BLOCK_SIZE)
    monkeypatch.delattr(hashing.os, "fdatasync")
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(hashing.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    _, data = _file(tmp_path, 3 * BLOCK_SIZE + 5)
    path = tmp_path / "out.bin"
    made: list[Inspector] = []

    def inspector() -> Inspector:
        made.append(lambda block: None)
        return made[-1]

    digest, _ = hash_while_writing(
        path, lambda: _slow_writer(path, data, 5), inspector=inspector, flush_behind=True
    )
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert synced and len(made) == 1  # flushed as it followed; no second pass
