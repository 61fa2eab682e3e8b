"""End-to-end quickstart job: ours vs bare Polars vs pandas + per-row Pydantic.

The job: read a 10-column claims CSV, (optionally) validate it against
``examples.claims.model:Claim``, write CSV or Parquet, hash input and output.
Ours also writes the quarantine, the hash-chained audit log and lineage; the
bare Polars script does only the read and write; the pandas script is the
seed's style (pandas read, ``model_validate`` per row, pandas write, hashlib).

Each contender runs in a fresh interpreter, ``--repeat`` times, the contenders
taking turns; medians, and ours' ratio to bare Polars in each turn.
Usage: python benchmarks/bench_end_to_end.py [--rows 1000000 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from _common import REPO, claims_csv, timed_child

OURS = """
from pathlib import Path
from pipeline import PipelineConfig, run_pipeline
r = run_pipeline(PipelineConfig(input_path=Path({src!r}), output_path=Path({out!r}),
    audit_path=Path({audit!r}), schema={schema!r}))
assert r.success, r.errors
"""

BARE_POLARS = """
import polars as pl
df = pl.read_csv({src!r})
df.{writer}({out!r})
"""

# For reference, not a goal: the bare script loses data (`12.50` becomes 12.5,
# `01234` becomes 1234); this one keeps every value by leaving every column text,
# which ours types only where the type keeps the text (see README, "Reading").
BARE_POLARS_TEXT = """
import polars as pl
df = pl.read_csv({src!r}, infer_schema=False)
df.{writer}({out!r})
"""

BARE_POLARS_VALIDATE = """
import polars as pl
df = pl.read_csv({src!r}, infer_schema=False)
ok = (
    pl.col("claim_id").str.contains(r"^CLM[0-9]{{8}}$")
    & pl.col("member_id").str.contains(r"^M[0-9]{{9}}$")
    & pl.col("npi").str.contains(r"^[0-9]{{10}}$")
    & pl.col("procedure_code").str.contains(r"^[0-9]{{5}}$")
    & pl.col("diagnosis_code").str.contains(r"^[A-Z][0-9]{{2}}(\\.[0-9A-Z]{{1,4}})?$")
    & pl.col("service_date").str.to_date("%Y-%m-%d", strict=False).is_not_null()
    & pl.col("units").cast(pl.Int64, strict=False).is_between(1, 99)
    & pl.col("amount").cast(pl.Decimal(12, 2), strict=False).is_between(0, 1000000)
    & pl.col("status").is_in(["PAID", "DENIED", "PENDING"])
    & (pl.col("plan_code").str.len_chars() <= 12).fill_null(True)
).fill_null(False)
df.filter(ok).{writer}({out!r})
df.filter(~ok).write_csv({out!r} + ".rejected.csv")
"""

PANDAS_PYDANTIC = """
import hashlib, sys
import pandas as pd
from pydantic import ValidationError
sys.path.insert(0, {repo!r})
from examples.claims.model import Claim
def sha(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()
sha({src!r})
df = pd.read_csv({src!r}, dtype=str, keep_default_na=False)
valid, rejected = [], []
for row in df.to_dict('records'):
    try:
        cells = {{k: (None if v == '' else v) for k, v in row.items()}}
        valid.append(Claim.model_validate(cells).model_dump(mode='json'))
    except ValidationError as e:
        rejected.append(row)
out = pd.DataFrame(valid)
out.{pandas_writer}({out!r}{pandas_kw})
pd.DataFrame(rejected).to_csv({out!r} + '.rejected.csv', index=False)
sha({out!r})
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pandas-max-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--json", type=Path, default=REPO / "benchmarks" / "results" / "end_to_end.json"
    )
    args = parser.parse_args()
    results: list[dict[str, object]] = []
    for rows in args.rows:
        src = str(claims_csv(rows))
        for fmt, writer in (("csv", "write_csv"), ("parquet", "write_parquet")):
            work = Path(tempfile.mkdtemp(prefix="bench_e2e_"))
            out = str(work / f"out.{fmt}")
            audit = str(work / "audit.jsonl")
            cases = {
                "bare polars (no checks)": BARE_POLARS.format(src=src, out=out, writer=writer),
                "ours, no schema": OURS.format(src=src, out=out, audit=audit, schema=None),
                "bare polars, all text (lossless)": BARE_POLARS_TEXT.format(
                    src=src, out=out, writer=writer
                ),
                "bare polars + hand-written checks": BARE_POLARS_VALIDATE.format(
                    src=src, out=out, writer=writer
                ),
                "ours, Claim schema": OURS.format(
                    src=src, out=out, audit=audit, schema="examples.claims.model:Claim"
                ),
            }
            if rows <= args.pandas_max_rows:
                cases["pandas + per-row pydantic"] = PANDAS_PYDANTIC.format(
                    src=src,
                    out=out,
                    repo=str(REPO),
                    pandas_writer="to_csv" if fmt == "csv" else "to_parquet",
                    pandas_kw=", index=False" if fmt == "csv" else "",
                )
            # The contenders take turns (a, b, c, a, b, c, ...): on a machine whose speed
            # drifts between minutes, each round sees the same machine.
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
            for turn in range(args.repeat):
                for name, code in cases.items():
                    if name.startswith("pandas") and turn:
                        continue  # one pandas run: it is tens of times slower
                    runs[name].append(timed_child(code, repeat=1))
            bare = runs["bare polars (no checks)"]
            ours = runs["ours, no schema"]
            turns = [o["wall"] / b["wall"] for o, b in zip(ours, bare, strict=True)]
            print(f"{rows:,} {fmt}: ours/bare per turn " + ", ".join(f"{t:.2f}x" for t in turns))
            for name, samples in runs.items():
                row = {"rows": rows, "format": fmt, "contender": name, **_median(samples)}
                results.append(row)
                print(json.dumps(row), flush=True)
            shutil.rmtree(work, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print_table(results)


def _median(samples: list[dict[str, float]]) -> dict[str, float]:
    """Median wall and CPU seconds of the runs, and their largest peak RSS."""
    walls = sorted(x["wall"] for x in samples)
    cpus = sorted(x["cpu"] for x in samples)
    middle = len(samples) // 2
    return {
        "wall": walls[middle],
        "cpu": cpus[middle],
        "rss_mib": max(x["rss_mib"] for x in samples),
    }


def print_table(results: list[dict[str, object]]) -> None:
    print("\n| rows | format | contender | wall s | CPU s | peak RSS MiB | wall vs bare polars |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: |")
    for row in results:
        base = next(
            r
            for r in results
            if r["rows"] == row["rows"]
            and r["format"] == row["format"]
            and r["contender"] == "bare polars (no checks)"
        )
        ratio = float(row["wall"]) / float(base["wall"])  # type: ignore[arg-type]
        print(
            f"| {row['rows']:,} | {row['format']} | {row['contender']} | {row['wall']:.2f} | "
            f"{row['cpu']:.2f} | {row['rss_mib']:.0f} | {ratio:.2f}x |"
        )


if __name__ == "__main__":
    main()
