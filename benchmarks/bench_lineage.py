"""Lineage queries on a large store: ancestors and impact must answer in < 100 ms.

Builds a store through the real schema (``LineageStore``) with ``--datasets``
datasets and exactly ``--edges`` edges, shaped like real lineage: pipelines of
100 datasets (each dataset fed by its predecessor and one more recent dataset
of the same pipeline), pipelines chained ten deep by cross-pipeline edges, one
job per pipeline, one run per produced dataset with its input and output
versions. Then times ``LineageTracker.ancestors`` (from a pipeline's last
dataset) and ``LineageTracker.impact`` (from a first dataset) end to end: the
recursive CTE, the run details and the Python result, as the CLI gets them.

Usage: python benchmarks/bench_lineage.py [--datasets 100000] [--edges 200000]
       [--queries 50] [--store PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.lineage import LineageTracker
from pipeline.lineage.store import LineageStore, job_namespace

PER_PIPELINE = 100
CHAIN = 10


def _location(i: int) -> str:
    return f"/data/p{i // PER_PIPELINE:05d}/d{i % PER_PIPELINE:03d}.parquet"


def _edges(datasets: int, edges: int, rng: random.Random) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for i in range(datasets):
        j = i % PER_PIPELINE
        if j >= 1:
            out.add((i - 1, i))
        if j >= 2:
            out.add((i - rng.randint(2, min(j, 10)), i))
    pipelines = datasets // PER_PIPELINE
    while len(out) < edges:
        p = rng.randrange(pipelines)
        if p % CHAIN:  # from the previous pipeline of the same chain
            src = (p - 1) * PER_PIPELINE + rng.randrange(PER_PIPELINE)
            dst = p * PER_PIPELINE + rng.randrange(PER_PIPELINE)
        else:  # the first of a chain: one more edge inside the pipeline
            a, b = sorted(rng.sample(range(PER_PIPELINE), 2))
            src, dst = p * PER_PIPELINE + a, p * PER_PIPELINE + b
        out.add((src, dst))
    while len(out) > edges:
        out.pop()
    return out


def build(path: Path, datasets: int, edges: int, seed: int = 7) -> dict[str, float]:
    """Create the store; return the build figures."""
    began = time.perf_counter()
    rng = random.Random(seed)
    pairs = _edges(datasets, edges, rng)
    store = LineageStore(path)
    parents: dict[int, list[int]] = {}
    for src, dst in pairs:
        parents.setdefault(dst, []).append(src)
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO jobs (id, namespace, name) VALUES (?, ?, ?)",
            [(p + 1, job_namespace(), f"pipeline-{p}") for p in range(datasets // PER_PIPELINE)],
        )
        conn.executemany(
            "INSERT INTO datasets (id, namespace, name, kind, location) VALUES (?, 'file', ?, "
            "'file', ?)",
            ((i + 1, _location(i), _location(i)) for i in range(datasets)),
        )
        produced = sorted(parents)
        conn.executemany(
            "INSERT INTO runs (id, run_id, job_id, status, as_of, recorded_at, input_records, "
            "output_records, rejected_records) VALUES (?, ?, ?, 'completed', "
            "'2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 1000, 990, 10)",
            ((i + 1, f"run-{i:06d}", i // PER_PIPELINE + 1) for i in produced),
        )
        conn.executemany(
            "INSERT INTO dataset_versions (id, dataset_id, hash, records, first_run) "
            "VALUES (?, ?, ?, 990, ?)",
            ((i + 1, i + 1, f"{i:064x}", (i + 1) if i in parents else None)
             for i in range(datasets)),
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO run_io (run, version, role) VALUES (?, ?, ?)",
            [(i + 1, i + 1, "output") for i in produced]
            + [(dst + 1, src + 1, "input") for src, dst in pairs],
        )
        conn.executemany(
            "INSERT INTO edges (src, dst, job_id, last_run) VALUES (?, ?, ?, ?)",
            ((s + 1, d + 1, d // PER_PIPELINE + 1, d + 1) for s, d in pairs),
        )
    store.conn.execute("ANALYZE")
    store.close()
    return {"build_s": time.perf_counter() - began, "runs": len(parents)}


def _time(fn: Any, args: list[str]) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    for arg in args:
        began = time.perf_counter()
        result = fn(arg)
        times.append((time.perf_counter() - began) * 1000)
        sizes.append(len(result["datasets"]))
    return times, sizes


def _figures(times: list[float], sizes: list[int]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
        "max_ms": round(ordered[-1], 2),
        "median_datasets_returned": statistics.median(sizes),
        "max_datasets_returned": max(sizes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--store", type=Path, default=None, help="keep the store here")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = opts.store or Path(tmp) / "lineage.db"
        if path.exists():
            path.unlink()
        built = build(path, opts.datasets, opts.edges)
        rng = random.Random(11)
        pipelines = opts.datasets // PER_PIPELINE
        # Ends of chains are the deepest ancestors; chain starts have the widest impact.
        leaves = [
            _location(p * PER_PIPELINE + PER_PIPELINE - 1)
            for p in rng.sample(range(pipelines), opts.queries)
        ]
        roots = [_location(p * PER_PIPELINE) for p in rng.sample(range(pipelines), opts.queries)]
        with LineageTracker(store=path) as lineage:
            lineage.ancestors(leaves[0])  # warm the page cache once, as a CLI call would
            up = _figures(*_time(lineage.ancestors, leaves))
            down = _figures(*_time(lineage.impact, roots))
            counts = lineage.summary()
    report = {
        "datasets": counts["datasets"],
        "edges": counts["edges"],
        "runs": counts["runs"],
        "build_s": round(built["build_s"], 2),
        "ancestors": up,
        "impact": down,
        "goal_ms": 100,
        "python": sys.version.split()[0],
    }
    if opts.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"store: {report['datasets']:,} datasets, {report['edges']:,} edges, "
              f"{report['runs']:,} runs (built in {report['build_s']} s)")  # fmt: skip
        for name in ("ancestors", "impact"):
            f = report[name]
            print(f"{name:>9}: median {f['median_ms']} ms, p95 {f['p95_ms']} ms, "
                  f"max {f['max_ms']} ms; datasets returned median "
                  f"{f['median_datasets_returned']}, max {f['max_datasets_returned']}")  # fmt: skip
    ok = max(report["ancestors"]["p95_ms"], report["impact"]["p95_ms"]) < 100  # type: ignore[index]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
