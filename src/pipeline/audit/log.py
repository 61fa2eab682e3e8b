"""The audit logger: appends entries to one hash-chained, Merkle-checkpointed log.

Owns writing. Every append takes the file's exclusive lock, brings its view
of the tail up to date (another process may have appended; a crash may have
left a torn tail, which is moved aside and recorded as
``recovered_torn_tail``), builds the next entry (``seq`` + 1, ``prev_hash``
= last ``entry_hash``), writes the whole line once and fsyncs. A clock that
reads earlier than the last entry is recorded as a ``clock_backwards`` entry,
never hidden or "corrected".

With a signing key the logger also keeps the Merkle tree's compact range and
signs a C2SP checkpoint every ``checkpoint_every`` entries and whenever
:meth:`AuditLogger.checkpoint` is called (the runner calls it at the end of
every run). Before signing it checks every entry hash and link it reads: a
writer never signs over a broken chain. A change of key is recorded as a
``key_rotated`` entry covered by the first checkpoint of the new key.

Group commit: inside ``with logger.group_commit():`` the lock is held once and
entries are written and fsynced together (at most ``max_entries`` at a time),
for callers that log at high rates and accept durability per batch.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.audit.checkpoint import Checkpoint, checkpoints_path
from pipeline.audit.entry import GENESIS_HASH, AuditEntry, format_timestamp, split_line
from pipeline.audit.errors import LogTamperError, TamperKind
from pipeline.audit.keys import load_signer
from pipeline.audit.merkle import CompactRange
from pipeline.audit.note import Signer
from pipeline.audit.storage import AppendFile
from pipeline.audit.vocabulary import check_entry_vocabulary
from pipeline.errors import AuditError
from pipeline.redaction import redact_uri

__all__ = ["AuditLogger", "read_entries"]

# Whole snake_case words only: "password" or "api_key" is a secret, "passed" is not.
_SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|pwd|secret|token|private_?key|api_?key|credentials?)($|_)", re.I
)


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return f"uid:{os.getuid()}"


def _redact(value: Any) -> Any:
    """Redact URI credentials in strings; reject keys that name secrets."""
    if isinstance(value, str):
        return redact_uri(value)
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise AuditError(
                    "audit details keys must be strings",
                    hint="give the details as a dict of names (str) to counts, hashes or names",
                )
            if _SECRET_KEY.search(key):
                raise AuditError(
                    f"audit details key {key!r} looks like a secret",
                    hint="audit entries carry counts, hashes and names, never secrets",
                )
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def read_entries(path: str | Path) -> list[AuditEntry]:
    """Every complete entry of a log, in file order (a torn last line is skipped)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from exc
    out: list[AuditEntry] = []
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: empty, or a torn tail
    for number, line in enumerate(lines, start=1):
        try:
            out.append(AuditEntry.from_dict(json.loads(line)))
        except (ValueError, TypeError, AuditError) as exc:
            raise AuditError(
                f"audit log line {number} is not an entry",
                dataset=str(path),
                line=number,
                hint=f"run `pipeline audit verify {path}` to see what changed",
            ) from exc
    return out


class AuditLogger:
    """Appends entries to an audit log; see the module docstring for the guarantees."""

    def __init__(
        self,
        path: str | Path,
        *,
        actor: str | None = None,
        signing_key: Path | str | None = None,
        checkpoint_every: int = 1000,
        origin: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.actor = actor or _default_actor()
        self.signer: Signer | None = load_signer(signing_key) if signing_key else None
        if checkpoint_every < 1:
            raise AuditError("checkpoint_every must be at least 1")
        self.checkpoint_every = checkpoint_every
        self._origin = origin
        self._clock = clock or (lambda: datetime.now(UTC))
        self._thread_lock = threading.RLock()
        self._file: AppendFile | None = None
        # What this process knows about the file: its size, the last entry.
        self._known_size = -1
        self._last_seq = -1
        self._last_hash = GENESIS_HASH
        self._last_ts = ""
        self._tree: CompactRange | None = None
        self._last_checkpoint: Checkpoint | None = None
        self._batch: list[bytes] | None = None
        self._batch_limit = 0

    # -- public API ----------------------------------------------------------

    def log(
        self,
        pipeline_id: str,
        stage: str,
        action: str,
        status: str,
        *,
        record_count: int | None = None,
        run_id: str | None = None,
        actor: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        input_hash: str | None = None,
        output_hash: str | None = None,
    ) -> AuditEntry:
        """Append one entry and return it as written."""
        check_entry_vocabulary(stage, action, status, reason)
        if record_count is not None and (
            isinstance(record_count, bool) or not isinstance(record_count, int) or record_count < 0
        ):
            raise AuditError(f"record_count must be a non-negative integer, not {record_count!r}")
        fields: dict[str, Any] = {
            "pipeline_id": str(pipeline_id),
            "stage": stage,
            "action": action,
            "status": status,
            "record_count": record_count,
            "run_id": run_id,
            "actor": actor or self.actor,
            "reason": _redact(reason) if reason else None,
            "details": _redact(dict(details)) if details else None,
            "input_hash": input_hash,
            "output_hash": output_hash,
        }
        with self._locked():
            entry = self._append(fields)
            if self.signer is not None and (entry.seq + 1) % self.checkpoint_every == 0:
                self._checkpoint_locked()
            return entry

    def log_start(self, pipeline_id: str, stage: str, action: str, **kw: Any) -> AuditEntry:
        """Record that an operation started."""
        return self.log(pipeline_id, stage, action, "started", **kw)

    def log_complete(
        self,
        pipeline_id: str,
        stage: str,
        action: str,
        record_count: int | None = None,
        **kw: Any,
    ) -> AuditEntry:
        """Record that an operation completed, with the records it handled."""
        return self.log(pipeline_id, stage, action, "completed", record_count=record_count, **kw)

    def log_failed(
        self,
        pipeline_id: str,
        stage: str,
        action: str,
        *,
        error: str | dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        **kw: Any,
    ) -> AuditEntry:
        """Record that an operation failed; ``error`` goes into ``details["error"]``."""
        merged = dict(details or {})
        if error is not None:
            merged["error"] = error
        return self.log(pipeline_id, stage, action, "failed", details=merged or None, **kw)

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the log's last entry as this logger last saw it (-1: none):
        it moves when an entry is appended, even if a checkpoint after it then fails."""
        return self._last_seq

    def read_all(self) -> list[AuditEntry]:
        """Every entry in the log, in order."""
        return read_entries(self.path)

    def checkpoint(self) -> Checkpoint | None:
        """Sign and record a checkpoint of the whole log now; None without a key."""
        if self.signer is None:
            return None
        with self._locked():
            return self._checkpoint_locked()

    def check_checkpoints_writable(self) -> None:
        """Fail now, not after a run's closing entry, when its checkpoint cannot be written.

        A run signs a checkpoint after its last entry; a checkpoints file the
        process may not write made a run the log called completed exit 2 (found
        by review). Without a key there is nothing to check.
        """
        if self.signer is None:
            return
        path = self.checkpoints_path
        target = path if path.exists() else path.parent
        if not os.access(target, os.W_OK):
            raise AuditError(
                f"the audit checkpoints file {path} cannot be written",
                hint="make it (or its folder) writable by this user; signed runs record a "
                "checkpoint there after their last entry. Nothing was read or written",
            )

    @property
    def checkpoints_path(self) -> Path:
        """``AUDIT.checkpoints`` beside the log."""
        return checkpoints_path(self.path)

    @contextlib.contextmanager
    def group_commit(self, max_entries: int = 1000) -> Iterator[AuditLogger]:
        """Hold the lock and fsync once per ``max_entries`` entries (and at exit)."""
        with self._locked():
            if self._batch is not None:  # nested: the outer batch commits
                yield self
                return
            self._batch, self._batch_limit = [], max(1, max_entries)
            try:
                yield self
            finally:
                self._flush_batch()
                self._batch = None

    def close(self) -> None:
        """Release the file descriptors (the logger reopens on next use)."""
        with self._thread_lock:
            if self._file is not None:
                self._file.close()
                self._file = None
                self._known_size = -1

    def __enter__(self) -> AuditLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[AppendFile]:
        with self._thread_lock:
            if self._batch is not None:  # group commit already holds the file lock
                assert self._file is not None
                yield self._file
                return
            if self._file is None:
                self._file = AppendFile(self.path)
            with self._file.locked():
                self._sync(self._file)
                yield self._file

    def _sync(self, f: AppendFile) -> None:
        """Bring the cached tail (and tree) up to date with the file; lock held."""
        size = f.size()
        if size == self._known_size:
            return
        torn = f.recover_torn_tail(size)
        if torn is not None:
            size = torn.offset
        if self.signer is not None:
            self._scan(f, size)
        else:
            self._read_tail(f, size)
        self._known_size = size
        if torn is not None:
            self._append(
                {
                    "pipeline_id": "audit",
                    "stage": "audit",
                    "action": "recovered_torn_tail",
                    "status": "warning",
                    "record_count": None,
                    "run_id": None,
                    "actor": self.actor,
                    "reason": "a writer stopped mid-line; the partial line was moved aside",
                    "details": {
                        "sidecar": torn.sidecar.name,
                        "offset": torn.offset,
                        "bytes": torn.length,
                        "sha256": torn.sha256,
                    },
                    "input_hash": None,
                    "output_hash": None,
                }
            )

    def _read_tail(self, f: AppendFile, size: int) -> None:
        line = f.last_line(size)
        if line is None:
            self._last_seq, self._last_hash, self._last_ts = -1, GENESIS_HASH, ""
            return
        try:
            last = json.loads(line)
            self._last_seq = int(last["seq"])
            self._last_hash = str(last["entry_hash"])
            self._last_ts = str(last["timestamp"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LogTamperError(
                TamperKind.MODIFIED,
                None,
                f"the last line of audit log {self.path} is not an entry; nothing was appended",
            ) from exc

    def _scan(self, f: AppendFile, size: int) -> None:
        """Read entries this process has not seen, checking hashes and links."""
        signed: Checkpoint | None = None
        if self._tree is None or self._known_size < 0 or size < self._known_size:
            self._tree, start = CompactRange(), 0
            self._last_hash = GENESIS_HASH
            # A log read from its start is held to its latest checkpoint: rewritten with
            # recomputed hashes, it was self-consistent, and the next run signed the
            # forgery (found by review). Appending to it is refused instead.
            signed = self._read_last_checkpoint()
        else:
            start = self._known_size
        data = f.read_range(start, size)
        lines = data.split(b"\n")
        lines.pop()
        tree, prev = self._tree, self._last_hash.encode()
        if signed is not None and signed.size == 0 and signed.root != tree.root():
            raise _disagrees(self.path, signed)
        for line in lines:
            parts = split_line(line)
            if parts is None or hashlib.sha256(parts[0]).hexdigest().encode() != parts[1]:
                raise LogTamperError(
                    TamperKind.MODIFIED, tree.size, f"entry {tree.size} of {self.path} is damaged"
                )
            if parts[0].rfind(b'"prev_hash":"' + prev + b'"') < 0:
                raise LogTamperError(
                    TamperKind.MODIFIED,
                    tree.size,
                    f"entry {tree.size} does not link to its predecessor",
                )
            tree.append(hashlib.sha256(b"\x00" + parts[0]).digest())
            prev = parts[1]
            if signed is not None and tree.size == signed.size and tree.root() != signed.root:
                raise _disagrees(self.path, signed)
        if signed is not None and tree.size < signed.size:
            raise LogTamperError(
                TamperKind.TRUNCATED,
                tree.size,
                f"audit log {self.path} has {tree.size} entries, fewer than the "
                f"{signed.size} its latest checkpoint signed; nothing was appended",
            )
        if lines:
            last = json.loads(lines[-1])
            self._last_seq, self._last_ts = int(last["seq"]), str(last["timestamp"])
            if self._last_seq != tree.size - 1:
                raise LogTamperError(
                    TamperKind.MODIFIED,
                    tree.size - 1,
                    f"the last entry of {self.path} has a wrong seq",
                )
        elif start == 0:
            self._last_seq, self._last_ts = -1, ""
        self._last_hash = prev.decode()

    def _now(self) -> str:
        return format_timestamp(self._clock())

    def _append(self, fields: dict[str, Any], ts: str | None = None) -> AuditEntry:
        """Seal and write one entry after the cached tail; lock held, tail synced."""
        ts = ts or self._now()
        if self._last_ts and ts < self._last_ts and fields["action"] != "clock_backwards":
            self._append(
                {
                    "pipeline_id": fields["pipeline_id"],
                    "stage": "audit",
                    "action": "clock_backwards",
                    "status": "warning",
                    "record_count": None,
                    "run_id": fields["run_id"],
                    "actor": fields["actor"],
                    "reason": "the system clock reads earlier than the previous entry",
                    "details": {"previous_timestamp": self._last_ts, "observed_timestamp": ts},
                    "input_hash": None,
                    "output_hash": None,
                },
                ts,
            )
        entry, body, line = AuditEntry.seal_with_line(
            entry_id=str(uuid.uuid4()),
            timestamp=ts,
            seq=self._last_seq + 1,
            prev_hash=self._last_hash,
            **fields,
        )
        assert self._file is not None
        if self._batch is not None:
            self._batch.append(line)
            if len(self._batch) >= self._batch_limit:
                self._flush_batch()
        else:
            self._file.append(line)
            self._known_size += len(line)
        if self._tree is not None:
            self._tree.append(hashlib.sha256(b"\x00" + body).digest())
        self._last_seq, self._last_hash, self._last_ts = entry.seq, entry.entry_hash, ts
        return entry

    def _flush_batch(self) -> None:
        if self._batch and self._file is not None:
            data = b"".join(self._batch)
            self._batch.clear()
            self._file.append(data)
            self._known_size += len(data)

    def _checkpoint_locked(self) -> Checkpoint:
        assert self.signer is not None and self._tree is not None
        signer = self.signer
        previous = self._last_checkpoint or self._read_last_checkpoint()
        if previous is not None and (previous.key_name, previous.key_id) != (
            signer.name,
            f"{signer.key_id:08x}",
        ):
            self._append(
                {
                    "pipeline_id": "audit",
                    "stage": "audit",
                    "action": "key_rotated",
                    "status": "info",
                    "record_count": None,
                    "run_id": None,
                    "actor": self.actor,
                    "reason": "checkpoints are now signed with a different key",
                    "details": {
                        "previous_key": f"{previous.key_name}+{previous.key_id}",
                        "new_key": signer.verifier().vkey(),
                    },
                    "input_hash": None,
                    "output_hash": None,
                }
            )
        self._flush_batch()
        tree = self._tree
        if (
            previous is not None
            and previous.size == tree.size
            and previous.root == tree.root()
            and previous.key_id == (f"{signer.key_id:08x}")
        ):
            return previous  # nothing new to sign
        origin = self._origin or (
            previous.origin if previous else f"{signer.name}/{self.path.name}"
        )
        cp = Checkpoint.sign(origin, tree.size, tree.root(), self._now(), signer)
        cp_file = AppendFile(self.checkpoints_path)
        try:
            with cp_file.locked():
                cp_file.recover_torn_tail(cp_file.size())
                cp_file.append(cp.to_line())
        finally:
            cp_file.close()
        self._last_checkpoint = cp
        return cp

    def _read_last_checkpoint(self) -> Checkpoint | None:
        """The latest checkpoint on disk, unverified: a writer holds the log to its size
        and root and compares keys; `pipeline audit verify` checks the signatures."""
        from pipeline.audit.checkpoint import iter_checkpoint_lines, load_record

        last: Checkpoint | None = None
        for _, line, complete in iter_checkpoint_lines(self.checkpoints_path):
            if not complete:
                continue
            with contextlib.suppress(AuditError):
                last = Checkpoint.from_record(load_record(line))
        return last


def _disagrees(path: Path, signed: Checkpoint) -> LogTamperError:
    return LogTamperError(
        TamperKind.FORKED,
        signed.size - 1 if signed.size else None,
        f"the first {signed.size} entries of audit log {path} are not those its latest "
        "checkpoint signed (rewritten); nothing was appended",
    )
