"""The tamper suite: 1,200 seeded random mutations of signed logs, each detected
with the right kind, and no false alarm on clean logs.

Mutations: byte flips anywhere in the log and in its checkpoints, line
deletion, insertion (copies and forged entries with valid hashes), swaps and
moves, duplication, tail truncation (at and inside line boundaries), a whole
chain recomputed without the key, checkpoints re-signed with another key of
the same name, checkpoint removal, and a rollback of log and checkpoints
together (caught against a trusted checkpoint kept elsewhere).
"""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.audit import AuditLogger, Checkpoint, load_verifier, verify_log
from pipeline.audit.entry import AuditEntry, split_line
from pipeline.audit.errors import TamperKind as K
from pipeline.audit.keys import generate_keypair
from pipeline.audit.merkle import leaf_hash, tree_hash
from pipeline.audit.note import Verifier, generate_signer

MUTATIONS = 1200
CHECKPOINT_KINDS = {K.BAD_CHECKPOINT, K.BAD_SIGNATURE, K.UNKNOWN_KEY}


@dataclass
class Base:
    """A clean signed log, as bytes, with its pinned key."""

    log: bytes
    checkpoints: bytes
    verifier: Verifier
    key_name: str

    @property
    def lines(self) -> list[bytes]:
        return self.log.splitlines(keepends=True)


def _build(tmp: Path, n: int, every: int, seed: int) -> Base:
    pair = generate_keypair(tmp / "keys")
    log = tmp / "audit.jsonl"
    t0 = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    tick = iter(range(10**6))
    audit = AuditLogger(
        log,
        actor="qa-bot",
        signing_key=pair.private_path,
        checkpoint_every=every,
        clock=lambda: t0 + timedelta(milliseconds=next(tick)),
    )
    rng = random.Random(seed)
    stages = [("read", "read_csv"), ("validate", "validate_schema"), ("write", "write_parquet")]
    for i in range(n):
        stage, action = stages[i % 3]
        details: dict[str, Any] | None = None
        if i % 4 == 0:
            details = {"rule": "amount_range", "ratio": rng.random(), "column": "Zoë"}
        audit.log_complete(
            f"p-{i % 2}",
            stage,
            action,
            rng.randrange(10**6),
            run_id=f"r-{i // 10}",
            details=details,
        )
    audit.checkpoint()
    audit.close()
    return Base(
        log.read_bytes(),
        (tmp / "audit.jsonl.checkpoints").read_bytes(),
        load_verifier(pair.public_path),
        pair.vkey.split("+")[0],
    )


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> list[Base]:
    return [
        _build(tmp_path_factory.mktemp("a"), 40, 16, 1),
        _build(tmp_path_factory.mktemp("b"), 23, 5, 2),
        _build(tmp_path_factory.mktemp("c"), 64, 64, 3),
    ]


# -- mutation helpers ----------------------------------------------------------


def _entries(lines: list[bytes]) -> list[AuditEntry]:
    return [AuditEntry.from_dict(json.loads(line)) for line in lines]


def _forge(template: AuditEntry, seq: int, prev: str, rng: random.Random) -> bytes:
    body = template.body()
    body.update(seq=seq, prev_hash=prev, record_count=rng.randrange(10**6), entry_id=f"x-{seq}")
    return AuditEntry.seal(**body)[0].line()


def _rechain(entries: list[AuditEntry], start: int) -> list[bytes]:
    out = [e.line() for e in entries[:start]]
    prev = entries[start - 1].entry_hash if start else "0" * 64
    for e in entries[start:]:
        body = e.body()
        body["prev_hash"] = prev
        sealed = AuditEntry.seal(**body)[0]
        out.append(sealed.line())
        prev = sealed.entry_hash
    return out


def _resign(base: Base, log_lines: list[bytes], name: str) -> bytes:
    impostor = generate_signer(name)
    leaves = [leaf_hash(split_line(x.rstrip(b"\n"))[0]) for x in log_lines]  # type: ignore[index]
    out = []
    for line in base.checkpoints.splitlines():
        rec = json.loads(line)
        cp = Checkpoint.sign(
            rec["origin"], rec["size"], tree_hash(leaves[: rec["size"]]), rec["timestamp"], impostor
        )
        out.append(cp.to_line())
    return b"".join(out)


@dataclass
class Case:
    name: str
    log: bytes
    checkpoints: bytes
    kind: K | set[K]
    seq: int | Callable[[int | None], bool] | None = None
    trusted: str | None = None


def _line_of(log: bytes, pos: int) -> int:
    return log.count(b"\n", 0, pos)


def mutate(base: Base, rng: random.Random) -> Case:
    lines, n = base.lines, len(base.lines)
    cps = base.checkpoints
    op = rng.choice(
        [
            "flip",
            "flip",
            "flip",
            "cp_flip",
            "delete",
            "duplicate",
            "forge",
            "forge_clever",
            "swap",
            "move",
            "truncate_bytes",
            "truncate_lines",
            "rechain",
            "resign",
            "rechain_resign",
            "cp_remove_last",
            "cp_rollback",
            "rollback_both",
        ]
    )
    if op == "flip":
        pos = rng.randrange(len(base.log))
        data = bytearray(base.log)
        data[pos] ^= rng.randrange(1, 256)
        if pos == len(data) - 1:
            return Case(op, bytes(data), cps, K.TORN_TAIL, n - 1)
        return Case(op, bytes(data), cps, K.MODIFIED, _line_of(base.log, pos))
    if op == "cp_flip":
        pos = rng.randrange(len(cps))
        data = bytearray(cps)
        data[pos] ^= rng.randrange(1, 256)
        if pos == len(data) - 1:  # the last checkpoint becomes a torn line: not trusted
            return Case(op, base.log, bytes(data), K.UNSIGNED_TAIL, lambda s: s is not None)
        return Case(op, base.log, bytes(data), CHECKPOINT_KINDS)
    if op == "delete":
        k = rng.randrange(n)
        rest = lines[:k] + lines[k + 1 :]
        if k == n - 1:
            return Case(op, b"".join(rest), cps, K.TRUNCATED, n - 1)
        return Case(op, b"".join(rest), cps, K.DELETED, k)
    if op == "duplicate":
        j, k = rng.randrange(n), rng.randrange(n + 1)
        out = [*lines[:k], lines[j], *lines[k:]]
        return Case(op, b"".join(out), cps, K.DUPLICATED, j)
    if op in ("forge", "forge_clever"):
        k = rng.randrange(n)  # a forged entry in the middle (appending is what writers do)
        entries = _entries(lines)
        if op == "forge_clever":
            prev = entries[k - 1].entry_hash if k else "0" * 64
            forged = _forge(entries[k], k, prev, rng)
        else:
            seq = rng.choice([k, rng.randrange(n), n + rng.randrange(5)])
            forged = _forge(entries[k], seq, f"{rng.getrandbits(256):064x}", rng)
        out = [*lines[:k], forged, *lines[k:]]
        return Case(op, b"".join(out), cps, K.INSERTED, k)
    if op == "swap":
        i, j = sorted(rng.sample(range(n), 2))
        out = list(lines)
        out[i], out[j] = out[j], out[i]
        return Case(op, b"".join(out), cps, K.REORDERED, i)
    if op == "move":
        i = rng.randrange(n)
        out = list(lines)
        moved = out.pop(i)
        k = rng.choice([x for x in range(n) if x != i])
        out.insert(k, moved)
        return Case(op, b"".join(out), cps, K.REORDERED, min(i, k))
    if op == "truncate_bytes":
        cut = rng.randrange(len(base.log))
        data = base.log[:cut]
        if cut == 0 or data.endswith(b"\n"):
            return Case(op, data, cps, K.TRUNCATED, data.count(b"\n"))
        return Case(op, data, cps, K.TORN_TAIL, data.count(b"\n"))
    if op == "truncate_lines":
        keep = rng.randrange(n)
        return Case(op, b"".join(lines[:keep]), cps, K.TRUNCATED, keep)
    if op in ("rechain", "rechain_resign"):
        k = rng.randrange(n)
        entries = _entries(lines)
        body = entries[k].body()
        body["record_count"] = (body["record_count"] or 0) + 1
        entries[k] = AuditEntry.seal(**body)[0]
        new_lines = _rechain(entries, k)
        if op == "rechain":
            return Case(op, b"".join(new_lines), cps, K.FORKED, lambda s: s is not None and s <= k)
        return Case(op, b"".join(new_lines), _resign(base, new_lines, base.key_name), K.UNKNOWN_KEY)
    if op == "resign":
        return Case(op, base.log, _resign(base, lines, base.key_name), K.UNKNOWN_KEY)
    cp_lines = cps.splitlines(keepends=True)
    if op == "cp_remove_last":
        drop = rng.randrange(1, len(cp_lines) + 1)
        kept = cp_lines[:-drop]
        size = json.loads(kept[-1])["size"] if kept else 0
        return Case(op, base.log, b"".join(kept), K.UNSIGNED_TAIL, size)
    if op == "cp_rollback":  # an older copy of the checkpoints file
        kept = cp_lines[: rng.randrange(len(cp_lines))]
        size = json.loads(kept[-1])["size"] if kept else 0
        return Case(op, base.log, b"".join(kept), K.UNSIGNED_TAIL, size)
    # rollback_both: log and checkpoints cut back to an earlier checkpoint;
    # only a checkpoint kept elsewhere can tell.
    trusted = json.loads(cp_lines[-1])["note"]
    keep_cps = cp_lines[: rng.randrange(len(cp_lines))]
    size = json.loads(keep_cps[-1])["size"] if keep_cps else 0
    return Case(op, b"".join(lines[:size]), b"".join(keep_cps), K.TRUNCATED, size, trusted)


def _check(case: Case, base: Base, work: Path) -> tuple[bool, str]:
    log = work / "audit.jsonl"
    log.write_bytes(case.log)
    (work / "audit.jsonl.checkpoints").write_bytes(case.checkpoints)
    report = verify_log(log, public_keys=[base.verifier], trusted_checkpoint=case.trusted)
    f = report.finding
    if f is None:
        return False, f"{case.name}: not detected"
    kinds = case.kind if isinstance(case.kind, set) else {case.kind}
    if f.kind not in kinds:
        return False, f"{case.name}: got {f.kind} at {f.seq}, want {case.kind}"
    if callable(case.seq):
        if not case.seq(f.seq):
            return False, f"{case.name}: seq {f.seq} rejected"
    elif not isinstance(case.kind, set) and f.seq != case.seq:
        return False, f"{case.name}: {f.kind} at seq {f.seq}, want seq {case.seq}"
    return True, ""


def test_clean_logs_verify(bases: list[Base], tmp_path: Path) -> None:
    for base in bases:
        log = tmp_path / "audit.jsonl"
        log.write_bytes(base.log)
        (tmp_path / "audit.jsonl.checkpoints").write_bytes(base.checkpoints)
        trusted = json.loads(base.checkpoints.splitlines()[-1])["note"]
        report = verify_log(log, public_keys=[base.verifier], trusted_checkpoint=trusted)
        assert report.ok, report.to_dict()
        assert report.latest_checkpoint_size == len(base.lines)


def test_tamper_suite(bases: list[Base], tmp_path: Path) -> None:
    rng = random.Random(20240115)
    failures: list[str] = []
    kinds: Counter[str] = Counter()
    for i in range(MUTATIONS):
        base = bases[i % len(bases)]
        case = mutate(base, rng)
        if case.log == base.log and case.checkpoints == base.checkpoints:
            continue  # a no-op mutation (cannot happen with these operators)
        ok, why = _check(case, base, tmp_path)
        kinds[case.name] += 1
        if not ok:
            failures.append(f"#{i} {why}")
    assert failures == [], f"{len(failures)} of {MUTATIONS}: " + "; ".join(failures[:15])
    assert sum(kinds.values()) >= 1000
    assert len(kinds) == 16, kinds


def test_no_false_alarms_on_clean_variants(tmp_path: Path) -> None:
    """Logs grown by other writers, batches, rotations and recoveries stay clean."""
    rng = random.Random(7)
    for trial in range(25):
        work = tmp_path / f"t{trial}"
        work.mkdir()
        pair = generate_keypair(work / "keys")
        log = work / "audit.jsonl"
        writers = [
            AuditLogger(log, signing_key=pair.private_path, checkpoint_every=rng.randrange(1, 9)),
            AuditLogger(log, actor="other"),
        ]
        for _ in range(rng.randrange(1, 40)):
            w = rng.choice(writers)
            if rng.random() < 0.2:
                with w.group_commit(rng.randrange(1, 5)):
                    for _ in range(rng.randrange(1, 6)):
                        w.log_start("p", "transform", "step_filter")
            else:
                w.log_complete("p", "write", "write_csv", rng.randrange(100))
            if rng.random() < 0.1:
                with log.open("ab") as fh:  # a writer died mid-line
                    fh.write(b'{"action":"wri')
        writers[0].checkpoint()
        report = verify_log(log, public_keys=[load_verifier(pair.public_path)])
        assert report.ok, (trial, report.to_dict())
        shutil.rmtree(work)
