"""Audit trail benchmark: append throughput and full verification of a large log.

Measures, on this machine:

* appends/s with one fsync per entry (the default ``AuditLogger`` path);
* appends/s with group commit (``with audit.group_commit(1000)``), signing a
  checkpoint every 1,000 entries;
* full offline verification (every entry hash, link, canonical form, Merkle
  root and checkpoint signature) of a log of ``--verify-entries`` entries.

Goals (issue 5): >= 20,000 appends/s with group commit, >= 1,000/s with fsync
per entry, 1M entries verified in <= 10 s on one core.

    python benchmarks/bench_audit.py                 # full run (about a minute)
    python benchmarks/bench_audit.py --verify-entries 100000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.audit import AuditLogger, generate_keypair, load_verifier, verify_log


def _append(log: Path, n: int, *, key: Path | None, group: int | None) -> float:
    audit = AuditLogger(log, actor="bench", signing_key=key, checkpoint_every=1000)
    details = {"rule": "amount_range", "failed_rows": 12, "column": "amount"}
    start = time.perf_counter()
    if group:
        with audit.group_commit(group):
            for i in range(n):
                audit.log_complete("bench", "write", "write_csv", i, run_id="r-1", details=details)
    else:
        for i in range(n):
            audit.log_complete("bench", "write", "write_csv", i, run_id="r-1", details=details)
    audit.checkpoint()
    elapsed = time.perf_counter() - start
    audit.close()
    return elapsed


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every measurement in a scratch directory; return the figures."""
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-audit-"))
    base.mkdir(parents=True, exist_ok=True)
    pair = generate_keypair(base / "keys", overwrite=True)
    pub = [load_verifier(pair.public_path)]
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "dir": str(base),
    }

    log = base / "fsync.jsonl"
    t = _append(log, args.fsync_entries, key=pair.private_path, group=None)
    out["fsync_per_entry"] = {
        "entries": args.fsync_entries,
        "seconds": t,
        "appends_per_s": args.fsync_entries / t,
    }

    log = base / "group.jsonl"
    t = _append(log, args.group_entries, key=pair.private_path, group=1000)
    out["group_commit_1000"] = {
        "entries": args.group_entries,
        "seconds": t,
        "appends_per_s": args.group_entries / t,
    }

    log = base / "verify.jsonl"
    t_build = _append(log, args.verify_entries, key=pair.private_path, group=1000)
    size = log.stat().st_size
    start = time.perf_counter()
    report = verify_log(log, public_keys=pub)
    t_verify = time.perf_counter() - start
    assert report.ok, report.to_dict()
    out["verify"] = {
        "entries": report.entries,
        "bytes": size,
        "checkpoints_verified": report.checkpoints_verified,
        "build_seconds": t_build,
        "seconds": t_verify,
        "entries_per_s": report.entries / t_verify,
        "seconds_per_million": t_verify * 1_000_000 / report.entries,
    }
    if not args.keep:
        for p in base.glob("*.jsonl*"):
            p.unlink()
    return out


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsync-entries", type=int, default=3000)
    parser.add_argument("--group-entries", type=int, default=200_000)
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--dir", help="scratch directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the logs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    res = run(args)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    f, g, v = res["fsync_per_entry"], res["group_commit_1000"], res["verify"]
    print(f"python {res['python']} on {res['machine']} ({res['cpus']} cpus), dir {res['dir']}")
    print(f"append, fsync per entry : {f['appends_per_s']:>10,.0f} /s  ({f['entries']:,} entries)")
    print(f"append, group commit    : {g['appends_per_s']:>10,.0f} /s  ({g['entries']:,} entries)")
    print(
        f"verify                  : {v['entries']:,} entries ({v['bytes'] / 1e6:,.0f} MB, "
        f"{v['checkpoints_verified']:,} signed checkpoints) in {v['seconds']:.2f} s "
        f"= {v['seconds_per_million']:.2f} s per 1M"
    )


if __name__ == "__main__":
    main()
