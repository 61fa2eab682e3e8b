"""Streaming and batch runs of a filter/derive/select/dedupe spec vs bare Polars.

Large: a generated claims CSV of at least ``--gib`` GiB (default 5) through the
spec in streaming mode, against a bare Polars streaming script doing the same
steps (scan_csv → cast → filter → derive → select → unique → sink_csv); peak
RSS and wall time. Batch: the same spec at 1M and 10M rows against bare
eager Polars. Each contender runs in a fresh interpreter.

Usage: python benchmarks/bench_streaming.py [--gib 5] [--batch-rows 1000000 10000000]
       [--big-repeat 3]  (the large case's runs, bare and ours taking turns)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

import polars as pl
from _common import DATA, REPO, claims_csv, claims_frame, timed_child

STEPS = [
    {"kind": "cast", "cast": {"amount": "Decimal(12,2)"}},
    {"kind": "filter", "filter": "status != 'DENIED'"},
    {"kind": "derive", "derive": {"amount_cents": "CAST(amount * 100 AS BIGINT)"}},
    {
        "kind": "select",
        "select": ["claim_id", "member_id", "service_date", "amount_cents", "status"],
    },
    {"kind": "dedupe", "dedupe": {"keys": ["member_id"], "keep": "first"}},
]

OURS = """
from pipeline import run_pipeline
from pipeline.spec import PipelineSpec
spec = PipelineSpec.model_validate({{"version": 1, "name": "bench", "mode": {mode!r},
    "source": {{"uri": {src!r}}}, "steps": {steps!r},
    "sink": {{"uri": {out!r}}}, "audit": {{"path": {audit!r}}}}})
r = run_pipeline(spec)
assert r.success, r.errors
"""

BARE = """
import polars as pl
lf = (
    pl.scan_csv({src!r}, infer_schema=False)
    .with_columns(pl.col("amount").cast(pl.Decimal(12, 2)))
    .filter(pl.col("status") != "DENIED")
    .with_columns((pl.col("amount") * 100).cast(pl.Int64).alias("amount_cents"))
    .select("claim_id", "member_id", "service_date", "amount_cents", "status")
    .unique(subset=["member_id"], keep="first", maintain_order=True)
)
{finish}
"""


def big_csv(gib: float) -> Path:
    """A claims CSV of at least ``gib`` GiB, 1M distinct members (cached)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"claims_{gib:g}gib.csv"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    chunk, first, seed = 2_000_000, 1, 100
    with tmp.open("wb") as handle:
        while handle.tell() < gib * (1 << 30):
            frame = claims_frame(chunk, seed=seed, first_id=first, members=1_000_000)
            handle.write(frame.write_csv(include_header=first == 1).encode())
            first += chunk
            seed += 1
    tmp.rename(path)
    return path


def filled_csv(gib: float) -> Path:
    """:func:`big_csv` with its last column never blank (cached): for measuring what the
    ragged-record guarantee costs (a blank last cell makes ours parse every column)."""
    source = big_csv(gib)
    path = source.with_name(source.stem + "_filled.csv")
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        pl.scan_csv(source, infer_schema=False).with_columns(
            pl.col("plan_code").fill_null("NONE")
        ).sink_csv(tmp)
        tmp.rename(path)
    return path


def _taking_turns(cases: list[tuple[str, str, str, int]], repeat: int) -> list[dict[str, object]]:
    """Run the cases in turn ``repeat`` times (a, b, a, b, ...): on a machine whose
    speed drifts between minutes, each pair sees the same machine. Medians, and
    each turn's ratio of the second case to the first."""
    runs: list[list[dict[str, float]]] = [[] for _ in cases]
    for turn in range(repeat):
        for index, (size, name, code, _repeat) in enumerate(cases):
            runs[index].append(timed_child(code, repeat=1))
            print(json.dumps({"input": size, "contender": name, "turn": turn, **runs[index][-1]}))
    if len(cases) == 2:
        ratios = [b["wall"] / a["wall"] for a, b in zip(runs[0], runs[1], strict=True)]
        print("turn ratios:", ", ".join(f"{r:.2f}x" for r in ratios), flush=True)
    return [
        {
            "input": size,
            "contender": name,
            "wall": statistics.median(r["wall"] for r in stats),
            "cpu": statistics.median(r["cpu"] for r in stats),
            "rss_mib": max(r["rss_mib"] for r in stats),
        }
        for (size, name, _code, _repeat), stats in zip(cases, runs, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gib", type=float, default=5.0)
    parser.add_argument("--batch-rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--big-repeat",
        type=int,
        default=1,
        help="runs of the large case, bare and ours taking turns (medians reported)",
    )
    parser.add_argument(
        "--filled-last",
        action="store_true",
        help="run the large case on a copy whose last column is never blank",
    )
    parser.add_argument(
        "--json", type=Path, default=REPO / "benchmarks" / "results" / "streaming.json"
    )
    args = parser.parse_args()
    results: list[dict[str, object]] = []
    work = Path(tempfile.mkdtemp(prefix="bench_stream_", dir=DATA))
    try:
        cases: list[tuple[str, str, str, int]] = []
        for rows in args.batch_rows:
            src = str(claims_csv(rows))
            out = str(work / f"batch_{rows}.csv")
            cases.append(
                (
                    f"{rows:,} rows",
                    "bare polars (eager)",
                    BARE.format(src=src, finish=f"lf.collect().write_csv({out!r})"),
                    args.repeat,
                )
            )
            cases.append(
                (
                    f"{rows:,} rows",
                    "ours, batch",
                    OURS.format(
                        mode="batch", src=src, steps=STEPS, out=out, audit=str(work / "audit.jsonl")
                    ),
                    args.repeat,
                )
            )
        if args.gib > 0:
            src_path = filled_csv(args.gib) if args.filled_last else big_csv(args.gib)
            label = f"{src_path.stat().st_size / (1 << 30):.2f} GiB"
            if args.filled_last:
                label += " (last column filled)"
            out = str(work / "stream.csv")
            cases.append(
                (
                    label,
                    "bare polars (streaming)",
                    BARE.format(src=str(src_path), finish=f"lf.sink_csv({out!r})"),
                    1,
                )
            )
            cases.append(
                (
                    label,
                    "ours, streaming",
                    OURS.format(
                        mode="streaming",
                        src=str(src_path),
                        steps=STEPS,
                        out=out,
                        audit=str(work / "audit.jsonl"),
                    ),
                    1,
                )
            )
        small, large = cases[: 2 * len(args.batch_rows)], cases[2 * len(args.batch_rows) :]
        for size, name, code, repeat in small:
            stats = timed_child(code, repeat=repeat)
            row = {"input": size, "contender": name, **stats}
            results.append(row)
            print(json.dumps(row), flush=True)
        results += _taking_turns(large, args.big_repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print("\n| input | contender | wall s | CPU s | peak RSS MiB | wall vs bare |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in results:
        base = next(
            r
            for r in results
            if r["input"] == row["input"] and str(r["contender"]).startswith("bare")
        )
        ratio = float(row["wall"]) / float(base["wall"])  # type: ignore[arg-type]
        print(
            f"| {row['input']} | {row['contender']} | {row['wall']:.2f} | {row['cpu']:.2f} | "
            f"{row['rss_mib']:.0f} | {ratio:.2f}x |"
        )


if __name__ == "__main__":
    main()
