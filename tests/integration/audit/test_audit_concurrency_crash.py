"""Many writers, and writers killed mid-write: one linear chain that always verifies.

Writers are forked children of the test process (the package is already
imported, so a writer starts in microseconds); each uses its own
``AuditLogger`` and file descriptor, exactly as separate processes do.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.audit import AuditLogger, generate_keypair, load_verifier, verify_log
from pipeline.audit.errors import TamperKind

if not hasattr(os, "fork"):  # pragma: no cover
    pytest.skip("needs os.fork", allow_module_level=True)


def _fork(work: Callable[[], None], err_dir: Path) -> int:
    """Run ``work`` in a forked child; the child exits 0, or 1 after writing its traceback."""
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork in a threaded process; children here
        # only append to a file and exit without touching other libraries.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            work()
        except BaseException:
            (err_dir / f"child-{os.getpid()}.txt").write_text(traceback.format_exc())
            code = 1
        os._exit(code)
    return pid


def test_eight_processes_by_a_thousand_appends(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "keys")
    log = tmp_path / "audit.jsonl"
    go_read, go_write = os.pipe()

    def writer(n: int) -> Callable[[], None]:
        def work() -> None:
            os.close(go_write)
            os.read(go_read, 1)  # start together
            audit = AuditLogger(
                log, actor=f"w{n}", signing_key=pair.private_path, checkpoint_every=500
            )
            for i in range(1000):
                audit.log_complete("p-conc", "write", "write_csv", i, run_id=f"w{n}")

        return work

    pids = [_fork(writer(n), tmp_path) for n in range(8)]
    os.close(go_read)
    os.write(go_write, b"x" * 8)
    os.close(go_write)
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    errors = [p.read_text() for p in tmp_path.glob("child-*.txt")]
    assert codes == [0] * 8, errors
    AuditLogger(log, signing_key=pair.private_path).checkpoint()

    entries = AuditLogger(log).read_all()
    assert len(entries) == 8000
    assert [e.seq for e in entries] == list(range(8000))  # no duplicate or missing seq
    assert Counter(e.actor for e in entries) == {f"w{n}": 1000 for n in range(8)}
    for n in range(8):  # each writer's own entries stay in its order
        mine = [e.record_count for e in entries if e.actor == f"w{n}"]
        assert mine == list(range(1000))
    report = verify_log(log, public_keys=[load_verifier(pair.public_path)])
    assert report.ok, report.to_dict()
    assert report.checkpoints_verified >= 16  # every 500 entries, plus the final one


def test_sigkill_a_writer_fifty_times(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "keys")
    log = tmp_path / "audit.jsonl"
    pub = [load_verifier(pair.public_path)]
    rng = random.Random(50)
    seen: Counter[str] = Counter()
    for round_no in range(50):
        ready_read, ready_write = os.pipe()

        def work(round_no: int = round_no, rr: int = ready_read, rw: int = ready_write) -> None:
            os.close(rr)
            audit = AuditLogger(
                log, actor=f"k{round_no}", signing_key=pair.private_path, checkpoint_every=7
            )
            os.write(rw, b"r")
            big = {"note": "x" * 60_000}  # large lines make torn writes likely
            while True:
                with audit.group_commit(64):
                    for i in range(50):
                        audit.log_complete(
                            "p-crash", "write", "write_csv", i, details=big if i % 10 == 0 else None
                        )

        pid = _fork(work, tmp_path)
        os.close(ready_write)
        os.read(ready_read, 1)
        os.close(ready_read)
        time.sleep(rng.uniform(0.005, 0.12))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

        before = verify_log(log, public_keys=pub)
        kind = before.finding.kind if before.finding else None
        assert kind in (None, TamperKind.TORN_TAIL, TamperKind.UNSIGNED_TAIL), before.to_dict()
        seen[str(kind)] += 1
        # The next writer recovers (a torn tail is moved aside and recorded) and signs.
        AuditLogger(log, signing_key=pair.private_path).checkpoint()
        after = verify_log(log, public_keys=pub)
        assert after.ok, (round_no, after.to_dict())

    final = verify_log(log, public_keys=pub)
    assert final.ok
    assert final.recoveries == seen[str(TamperKind.TORN_TAIL)]
    sidecars = sorted(tmp_path.glob("audit.jsonl.torn-*"))
    assert len(sidecars) == final.recoveries
    recovered = [e for e in AuditLogger(log).read_all() if e.action == "recovered_torn_tail"]
    for entry, sidecar in zip(recovered, sidecars, strict=False):
        assert entry.details is not None and entry.details["bytes"] > 0
        assert (tmp_path / entry.details["sidecar"]).is_file()
        assert sidecar.stat().st_size > 0
    print(
        f"kills: 50, before recovery: {dict(seen)}, "
        f"recoveries: {final.recoveries}, entries: {final.entries}"
    )
    assert json.loads(json.dumps(final.to_dict()))["ok"]


def test_torn_tail_recovery_in_detail(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    audit = AuditLogger(log)
    audit.log_start("p", "read", "read_csv")
    torn = b'{"action":"read_csv","actor":"x","det'
    with log.open("ab") as fh:
        fh.write(torn)
    report = verify_log(log)
    assert report.finding is not None and report.finding.kind == "torn_tail"
    assert report.finding.seq == 1 and report.verified_entries == 1
    AuditLogger(log).log_complete("p", "read", "read_csv", 5)
    entries = AuditLogger(log).read_all()
    assert [e.action for e in entries] == ["read_csv", "recovered_torn_tail", "read_csv"]
    details = entries[1].details
    assert details is not None
    sidecar = tmp_path / details["sidecar"]
    assert sidecar.read_bytes() == torn  # moved aside intact
    assert (
        details["bytes"] == len(torn)
        and details["offset"] == len(log.read_bytes().splitlines()[0]) + 1
    )
    assert verify_log(log).ok and verify_log(log).recoveries == 1
