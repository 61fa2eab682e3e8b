"""Offline verification of an audit log, its checkpoints and a trusted checkpoint.

Owns the verdict ``pipeline audit verify`` prints. One streaming pass over
the log checks, for each line: it is complete (else *torn_tail*), it is the
RFC 8785 canonical form of an entry with exactly the documented fields, its
``entry_hash`` is SHA-256 of the entry without ``entry_hash`` (else
*modified*), its ``seq`` is its position and its ``prev_hash`` the previous
entry's hash. The first chain break is then classified from the whole file
(*duplicated*, *deleted*, *inserted*, *reordered*, or *modified* when a
rehashed entry no longer links). The same pass builds the RFC 9162 tree and
keeps its root at every checkpoint size.

Checkpoints are trusted only through the pinned verifier keys passed in,
never a key found beside the log: a signature by a pinned key that fails is
*bad_signature*, a checkpoint signed by no pinned key is *unknown_key*. A
checkpoint larger than the log means *truncated*; a root that differs from
the log's at that size means *forked* (a rewritten but self-consistent log).
With pinned keys, entries after the latest checkpoint are *unsigned_tail*.
A trusted checkpoint kept elsewhere (``--checkpoint``) catches a rollback of
log and checkpoints together (*truncated* or *forked*).

The first failure reported is the first in this order: the log's own lines
(file order), then checkpoint signatures, then truncation/fork, then the
unsigned tail.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785

from pipeline.audit.canonical import CanonicalReader, _encode
from pipeline.audit.checkpoint import (
    Checkpoint,
    checkpoints_path,
    iter_checkpoint_lines,
    load_record,
)
from pipeline.audit.entry import _FIELD_SET, _HASH_KEY, _HASH_SEGMENT, GENESIS_HASH, split_line
from pipeline.audit.errors import LogTamperError, NoteError, TamperKind
from pipeline.audit.merkle import EMPTY_ROOT, CompactRange
from pipeline.audit.note import Verifier
from pipeline.errors import AuditError

__all__ = ["Finding", "VerifyReport", "verify_log"]

_SIGNATURE_KINDS = {
    "bad_signature": TamperKind.BAD_SIGNATURE,
    "unknown_key": TamperKind.UNKNOWN_KEY,
}


_HASH_AT = len(_HASH_KEY)


def _reference_canonical(value: Any) -> bytes:
    """JCS bytes by the ``rfc8785`` reference (b"" when the value has no JCS form)."""
    try:
        return bytes(rfc8785.dumps(value))
    except (ValueError, TypeError):
        return b""


@dataclass(frozen=True)
class Finding:
    """One failure: what kind, the first bad ``seq`` (None if not about an entry), why."""

    kind: TamperKind
    seq: int | None
    message: str
    checkpoint_line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"kind": str(self.kind), "seq": self.seq, "message": self.message}
        if self.checkpoint_line is not None:
            out["checkpoint_line"] = self.checkpoint_line
        return out


@dataclass
class VerifyReport:
    """What verification checked and found."""

    path: str
    entries: int = 0
    verified_entries: int = 0
    root: str = EMPTY_ROOT.hex()
    checkpoints: int = 0
    checkpoints_verified: int = 0
    latest_checkpoint_size: int | None = None
    signatures_checked: bool = False
    trusted_checkpoint_size: int | None = None
    recoveries: int = 0
    clock_backwards: int = 0
    key_rotations: int = 0
    warnings: list[str] = field(default_factory=list)
    finding: Finding | None = None

    @property
    def ok(self) -> bool:
        """True iff nothing failed."""
        return self.finding is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``pipeline audit verify --json``)."""
        return {
            "ok": self.ok,
            "path": self.path,
            "entries": self.entries,
            "verified_entries": self.verified_entries,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "checkpoints_verified": self.checkpoints_verified,
            "latest_checkpoint_size": self.latest_checkpoint_size,
            "signatures_checked": self.signatures_checked,
            "trusted_checkpoint_size": self.trusted_checkpoint_size,
            "recoveries": self.recoveries,
            "clock_backwards": self.clock_backwards,
            "key_rotations": self.key_rotations,
            "warnings": list(self.warnings),
            "failure": self.finding.to_dict() if self.finding else None,
        }

    def raise_for_failure(self) -> None:
        """Raise :class:`LogTamperError` if verification failed."""
        if self.finding is not None:
            f = self.finding
            where = f" at seq {f.seq}" if f.seq is not None else ""
            raise LogTamperError(f.kind, f.seq, f"{self.path}: {f.kind}{where}: {f.message}")


@dataclass
class _LoadedCheckpoint:
    line: int
    checkpoint: Checkpoint | None
    finding: Finding | None


def _load_checkpoints(path: Path, verifiers: Sequence[Verifier]) -> list[_LoadedCheckpoint]:
    trusted = verifiers if verifiers else None
    out: list[_LoadedCheckpoint] = []
    for number, line, complete in iter_checkpoint_lines(path):
        if not complete:
            out.append(_LoadedCheckpoint(number, None, None))  # torn: a warning only
            continue
        try:
            cp = Checkpoint.from_record(load_record(line), trusted)
            out.append(_LoadedCheckpoint(number, cp, None))
        except NoteError as exc:
            kind = _SIGNATURE_KINDS.get(exc.reason, TamperKind.BAD_CHECKPOINT)
            out.append(_LoadedCheckpoint(number, None, Finding(kind, None, exc.message, number)))
    return out


@dataclass
class _Scan:
    """Result of the streaming pass over the log."""

    count: int = 0
    finding: Finding | None = None
    chain_break: int | None = None
    roots: dict[int, bytes] = field(default_factory=dict)


def _scan_log(path: Path, report: VerifyReport, wanted: set[int], canonical: bool) -> _Scan:
    scan = _Scan(roots={0: EMPTY_ROOT})
    tree = CompactRange()
    append = tree.append
    loads = CanonicalReader().loads
    encode, slow = _encode, _reference_canonical
    sha256 = hashlib.sha256
    last_hash = GENESIS_HASH
    last_ts, last_action = "", ""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise AuditError(
            f"cannot read audit log {path}: {exc.strerror}", dataset=str(path)
        ) from exc
    with fh:
        pos = -1
        for pos, raw in enumerate(fh):
            if raw[-1:] != b"\n":
                scan.finding = Finding(
                    TamperKind.TORN_TAIL,
                    pos,
                    f"the last line ({len(raw)} bytes) is incomplete: a writer stopped "
                    "mid-line; the next append moves it aside",
                )
                break
            line = raw[:-1]
            # split_line inlined: this loop runs a million times per million entries.
            at = line.rfind(_HASH_KEY)
            body = line[:at] + line[at + _HASH_SEGMENT :]
            digest = sha256(body).hexdigest()
            if at < 0 or line[at + _HASH_AT : at + _HASH_AT + 66] != (digest + '",').encode():
                scan.finding = Finding(
                    TamperKind.MODIFIED, pos, "the entry does not hash to its entry_hash"
                )
                break
            try:
                obj, fast = loads(line)
            except (ValueError, UnicodeDecodeError):
                obj, fast = None, False
            if (
                type(obj) is not dict
                or obj.keys() != _FIELD_SET
                or (canonical and (encode(obj).encode() if fast else slow(obj)) != line)
            ):
                scan.finding = Finding(
                    TamperKind.MODIFIED, pos, "the line is not a canonical audit entry"
                )
                break
            if obj["seq"] != pos or obj["prev_hash"] != last_hash:
                scan.chain_break = pos
                break
            last_hash = digest
            append(sha256(b"\x00" + body).digest())
            if tree.size in wanted:
                scan.roots[tree.size] = tree.root()
            action, ts = obj["action"], obj["timestamp"]
            if action == "recovered_torn_tail":
                report.recoveries += 1
            elif action == "clock_backwards":
                report.clock_backwards += 1
            elif action == "key_rotated":
                report.key_rotations += 1
            if isinstance(ts, str):
                if ts < last_ts and "clock_backwards" not in (action, last_action):
                    report.warnings.append(f"seq {pos}: timestamp earlier than seq {pos - 1}")
                last_ts = ts
            last_action = action
        report.entries = pos + 1
    scan.count = tree.size
    report.root = tree.root().hex()
    return scan


def _classify_break(path: Path, p: int) -> Finding:
    """Name the structural change behind the first chain break at position ``p``."""
    seqs: list[int | None] = []
    prevs: list[str | None] = []
    hashes: list[str | None] = []
    with path.open("rb") as fh:
        for raw in fh:
            parts = split_line(raw.rstrip(b"\n"))
            try:
                obj = CanonicalReader().loads(raw.rstrip(b"\n"))[0] if parts else None
            except (ValueError, UnicodeDecodeError):
                obj = None
            if isinstance(obj, dict) and parts is not None:
                seqs.append(obj.get("seq") if isinstance(obj.get("seq"), int) else None)
                prevs.append(obj.get("prev_hash"))
                hashes.append(parts[1].decode())
            else:
                seqs.append(None)
                prevs.append(None)
                hashes.append(None)
    seq_p, prev_p, hash_p = seqs[p], prevs[p], hashes[p]
    by_hash = Counter(h for h in hashes if h is not None)
    by_seq: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(seqs):
        if s is not None:
            by_seq[s].append(i)
    known = set(by_hash) | {GENESIS_HASH}
    referenced = {x for x in prevs if x is not None}
    if hash_p is not None and by_hash[hash_p] > 1:
        return Finding(TamperKind.DUPLICATED, seq_p, f"entry seq {seq_p} appears more than once")
    if seq_p is not None and seq_p > p and p not in by_seq:
        return Finding(
            TamperKind.DELETED, p, f"entries {p}..{seq_p - 1} are missing before seq {seq_p}"
        )
    if seq_p is not None and len(by_seq[seq_p]) > 1:
        # A foreign entry that copied the slot's seq and link sits just before
        # the genuine one; otherwise the foreign entry is the one at p.
        twin = p > 0 and seqs[p - 1] == seq_p and prevs[p - 1] == prev_p
        where = seq_p if twin else p
        return Finding(TamperKind.INSERTED, where, f"two different entries claim seq {seq_p}")
    if seq_p != p and prev_p not in known and hash_p not in referenced:
        return Finding(TamperKind.INSERTED, p, f"line {p + 1} links to nothing in the log")
    if seq_p != p and p in by_seq:
        return Finding(TamperKind.REORDERED, p, f"seq {seq_p} stands where seq {p} belongs")
    if seq_p == p:
        return Finding(
            TamperKind.MODIFIED,
            p - 1,
            f"seq {p} does not link to seq {p - 1}: seq {p - 1} was changed and rehashed",
        )
    return Finding(TamperKind.MODIFIED, p, f"seq {seq_p} stands where seq {p} belongs")


def verify_log(
    path: str | Path,
    *,
    public_keys: Sequence[Verifier] = (),
    trusted_checkpoint: Checkpoint | str | None = None,
    canonical: bool = True,
) -> VerifyReport:
    """Verify a log (and ``AUDIT.checkpoints``) offline; see the module docstring.

    ``trusted_checkpoint`` (a :class:`Checkpoint` or signed-note text) needs
    ``public_keys``. I/O problems raise :class:`~pipeline.errors.AuditError`;
    tampering is reported in the returned report, never raised.
    """
    log_path = Path(path)
    if not log_path.is_file():
        raise AuditError(
            f"audit log {log_path} does not exist",
            dataset=str(log_path),
            hint="pass the path of an existing audit log (the run's --audit path)",
        )
    report = VerifyReport(path=str(log_path), signatures_checked=bool(public_keys))
    loaded = _load_checkpoints(checkpoints_path(log_path), public_keys)
    trusted: Checkpoint | None = None
    trusted_finding: Finding | None = None
    if trusted_checkpoint is not None:
        if not public_keys:
            raise AuditError(
                "a trusted checkpoint can only be checked against a pinned key",
                hint="pass --public-key PUB together with --checkpoint CP",
            )
        try:
            trusted = (
                Checkpoint.from_note(trusted_checkpoint, public_keys)
                if isinstance(trusted_checkpoint, str)
                else Checkpoint.from_note(trusted_checkpoint.note, public_keys)
            )
            report.trusted_checkpoint_size = trusted.size
        except NoteError as exc:
            kind = _SIGNATURE_KINDS.get(exc.reason, TamperKind.BAD_CHECKPOINT)
            trusted_finding = Finding(kind, None, f"trusted checkpoint: {exc.message}")
    wanted = {c.checkpoint.size for c in loaded if c.checkpoint is not None}
    if trusted is not None:
        wanted.add(trusted.size)
    scan = _scan_log(log_path, report, wanted, canonical)
    report.verified_entries = scan.count
    report.checkpoints = len(loaded)
    if scan.chain_break is not None:
        scan.finding = _classify_break(log_path, scan.chain_break)
    report.finding = scan.finding or trusted_finding or _check_checkpoints(report, loaded, scan)
    if report.finding is None and trusted is not None:
        report.finding = _against(trusted, scan, "the trusted checkpoint")
    if report.finding is None and public_keys:
        latest = report.latest_checkpoint_size or 0
        if latest < scan.count:
            report.finding = Finding(
                TamperKind.UNSIGNED_TAIL,
                latest,
                f"entries {latest}..{scan.count - 1} are not covered by a signed checkpoint "
                "(a checkpoint was removed, or the writer stopped before signing)",
            )
    return report


def _against(cp: Checkpoint, scan: _Scan, what: str, line: int | None = None) -> Finding | None:
    if cp.size > scan.count:
        return Finding(
            TamperKind.TRUNCATED,
            scan.count,
            f"{what} covers {cp.size} entries but the log has {scan.count}",
            line,
        )
    if scan.roots.get(cp.size) != cp.root:
        return Finding(
            TamperKind.FORKED,
            None,
            f"the log's first {cp.size} entries do not have the root {what} signed",
            line,
        )
    return None


def _check_checkpoints(
    report: VerifyReport, loaded: list[_LoadedCheckpoint], scan: _Scan
) -> Finding | None:
    origins: set[str] = set()
    good: list[tuple[int, Checkpoint]] = []
    for item in loaded:
        if item.finding is not None:
            return item.finding
        if item.checkpoint is None:
            report.warnings.append(
                f"checkpoint line {item.line} is incomplete (a writer stopped mid-line)"
            )
            continue
        origins.add(item.checkpoint.origin)
        good.append((item.line, item.checkpoint))
    if len(origins) > 1:
        return Finding(TamperKind.BAD_CHECKPOINT, None, f"checkpoints name several logs: {origins}")
    for line, cp in good:
        found = _against(cp, scan, f"checkpoint line {line}", line)
        if found is not None:
            if found.kind is TamperKind.FORKED:
                below = [
                    c.size for _, c in good if c.size < cp.size and scan.roots.get(c.size) == c.root
                ]
                found = Finding(found.kind, max(below, default=0), found.message, line)
            return found
        report.checkpoints_verified += 1
    if good:
        report.latest_checkpoint_size = max(cp.size for _, cp in good)
    return None
