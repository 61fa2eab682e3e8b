"""Append-only line files under an exclusive lock: the audit log's disk contract.

Owns the POSIX mechanics both the log and its checkpoints file rely on:

* one ``fcntl.flock`` exclusive lock held across read-tail, hash, append and
  fsync, so any number of processes keep one linear file;
* each line reaches the file through one ``write`` of the whole line
  (looping only on a short write), then ``fsync``;
* a *torn tail* — bytes after the last newline, left by a crash mid-write —
  is moved aside intact to a sidecar file (``AUDIT.torn-<offset>``), synced,
  and cut from the file before anything else is appended.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import AuditError

__all__ = ["AppendFile", "TornTail"]

_CHUNK = 1 << 16


@dataclass(frozen=True)
class TornTail:
    """What recovery moved aside: where to, from which offset, how much, its digest."""

    sidecar: Path
    offset: int
    length: int
    sha256: str


class AppendFile:
    """An open, append-only line file; lock it before reading its tail or writing."""

    def __init__(self, path: str | Path, mode: int = 0o640) -> None:
        self.path = Path(path)
        try:
            # The seed's examples log to logs/audit.jsonl in a fresh folder: create it.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, mode)
        except OSError as exc:
            raise AuditError(
                f"cannot open audit file {self.path}: {exc.strerror}",
                dataset=str(self.path),
            ) from exc

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock (blocks until other writers release it)."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def size(self) -> int:
        """Current length in bytes."""
        return os.fstat(self.fd).st_size

    def read_range(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``."""
        out = bytearray()
        while start < end:
            chunk = os.pread(self.fd, min(end - start, 1 << 24), start)
            if not chunk:
                break
            out += chunk
            start += len(chunk)
        return bytes(out)

    def last_line_start(self, end: int) -> int:
        """Offset where the line ending at ``end`` (exclusive of its newline) starts."""
        pos = end - 1  # skip the line's own newline
        while pos > 0:
            lo = max(0, pos - _CHUNK)
            chunk = os.pread(self.fd, pos - lo, lo)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                return lo + cut + 1
            pos = lo
        return 0

    def last_line(self, size: int) -> bytes | None:
        """The last complete line (without newline), or None for an empty file."""
        if size == 0:
            return None
        start = self.last_line_start(size)
        return self.read_range(start, size - 1)

    def torn_offset(self, size: int) -> int | None:
        """Start of a torn tail (bytes after the last newline), or None if there is none."""
        if size == 0 or os.pread(self.fd, 1, size - 1) == b"\n":
            return None
        return self.last_line_start(size + 1) if size else 0

    def recover_torn_tail(self, size: int) -> TornTail | None:
        """Move a torn tail to a sidecar and cut it off; caller holds the lock."""
        start = self.torn_offset(size)
        if start is None:
            return None
        torn = self.read_range(start, size)
        sidecar: Path | None = None
        try:
            sidecar = self._write_sidecar(start, torn)
            os.ftruncate(self.fd, start)
        except OSError as exc:
            # A full disk here gave a traceback (found by review); the log is as it was,
            # and no sidecar is left per attempt.
            if sidecar is not None:
                sidecar.unlink(missing_ok=True)
            raise AuditError(
                f"cannot set aside the torn last line of the audit log {self.path} "
                f"({exc.strerror or type(exc).__name__})",
                hint="free space on the audit log's disk (or make its folder writable) and "
                "run again; the log is unchanged",
            ) from exc
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise AuditError(
                f"the torn last line of the audit log {self.path} was moved to {sidecar}, "
                f"but the cut log could not be flushed ({exc.strerror or type(exc).__name__})",
                hint="check the disk; the next run records the recovery when the log is read",
            ) from exc
        return TornTail(sidecar, start, len(torn), hashlib.sha256(torn).hexdigest())

    def _write_sidecar(self, offset: int, data: bytes) -> Path:
        n = 0
        while True:
            suffix = f".torn-{offset}" + (f".{n}" if n else "")
            sidecar = self.path.with_name(self.path.name + suffix)
            try:
                fd = os.open(sidecar, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
                break
            except FileExistsError:
                n += 1
        try:
            self._write_all(fd, data)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            sidecar.unlink(missing_ok=True)  # no empty sidecar per failed attempt
            raise
        os.close(fd)
        self.sync_dir()
        return sidecar

    def sync_dir(self) -> None:
        """fsync the directory so a new file's name survives a crash."""
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def append(self, data: bytes, *, sync: bool = True) -> None:
        """Append whole lines in one write; fsync unless ``sync`` is False.

        A write that fails part-way (disk full, file-size limit) is cut back off
        at once, so the log never keeps half a line its writer knows is bad.
        """
        start = os.fstat(self.fd).st_size
        try:
            self._write_all(self.fd, data)
            if sync:
                os.fsync(self.fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, start)
                os.fsync(self.fd)
            raise AuditError(
                f"cannot append to audit file {self.path}: {exc.strerror}",
                dataset=str(self.path),
            ) from exc

    def fsync(self) -> None:
        """Flush written lines to stable storage."""
        os.fsync(self.fd)
