"""Row validation from CSV file to verdict: ours against Pydantic and the columnar peers.

Run by hand (peers come from the ``bench`` extra)::

    pip install -e ".[bench]"
    python benchmarks/bench_validation.py --rows 1000000 --repeats 3

A 10-column claims model (5 pattern fields, ranges, an enum, optional fields,
dates) over a generated CSV with ~1.5% invalid rows and a sprinkling of text
Pydantic reads differently from a plain cast (`` 7 ``, ``5.0``, ``1_000``,
midnight datetimes and unix timestamps as dates, ``2024-1-5``). Each contender
runs in its own process (so peak RSS is its own), from ``read CSV`` to the set of
rejected rows; the verdict is compared with Pydantic's row by row. Medians of
``--repeats`` runs; peak memory is the process high-water mark (ru_maxrss), also
shown net of the interpreter and imports.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import enum
import importlib
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, Field, ValidationError

# ---------------------------------------------------------------- the model


class ClaimStatus(str, enum.Enum):  # noqa: UP042 - the (str, Enum) form users write
    PAID = "PAID"
    DENIED = "DENIED"
    PENDING = "PENDING"


CLAIM_ID = r"^CLM[0-9]{8}$"
MEMBER_ID = r"^M[0-9]{9}$"
NPI = r"^[0-9]{10}$"
ICD10 = r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$"
CPT = r"^[0-9]{5}$"


class BenchClaim(BaseModel):
    claim_id: str = Field(pattern=CLAIM_ID)
    member_id: str = Field(pattern=MEMBER_ID)
    npi: str = Field(pattern=NPI)
    icd10: str = Field(pattern=ICD10)
    cpt: str = Field(pattern=CPT)
    amount: Decimal = Field(ge=0, le=1_000_000, max_digits=10, decimal_places=2)
    units: int = Field(ge=1, le=999)
    status: ClaimStatus
    service_date: dt.date
    paid_date: dt.date | None = None


COLUMNS = list(BenchClaim.model_fields)

# ---------------------------------------------------------------- the data

TRICKY: dict[str, list[str]] = {
    "claim_id": ["CLM1234567", "clm00000001", " CLM00000001", "CLM000000012"],
    "member_id": ["M12345678", "m123456789", "M1234567890"],
    "npi": ["123456789", "\uff11" * 10, "12345678901", " 1234567890"],
    "icd10": ["e11.9", "E1", "E11.12345"],
    "cpt": ["9921", "99213 ", "abcde"],
    "amount": ["12.345", "-1", "1e3", "1_000.00", " 12.50", "NaN", "1000000.01", "5"],
    "units": [" 7 ", "5.0", "1_000", "0", "1000", "abc", "+3", "-0", "7.5"],
    "status": ["paid", "VOID", " PAID", ""],
    "service_date": [
        "2024-1-5",
        "2024-01-05T00:00:00",
        "1704412800",
        "2024-02-30",
        "2024-01-05T10:00:00",
        "",
    ],
    "paid_date": ["2024-13-01", "", "2024-03-01T00:00:00"],
}


def generate(path: Path, rows: int, seed: int = 7, tricky_ratio: float = 0.02) -> None:
    """Write the claims CSV (deterministic for ``rows`` and ``seed``)."""
    rng = random.Random(seed)
    start = dt.date(2023, 1, 1).toordinal()
    statuses = ["PAID", "DENIED", "PENDING"]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in range(rows):
            service = start + rng.randrange(700)
            row = [
                f"CLM{i:08d}",
                f"M{rng.randrange(10**9):09d}",
                f"{rng.randrange(10**9, 10**10)}",
                f"{rng.choice(letters)}{rng.randrange(100):02d}.{rng.randrange(10)}",
                f"{rng.randrange(10000, 99999)}",
                f"{rng.randrange(100, 500000)}.{rng.randrange(100):02d}",
                str(rng.randrange(1, 60)),
                rng.choice(statuses),
                dt.date.fromordinal(service).isoformat(),
                "" if rng.random() < 0.3 else dt.date.fromordinal(service + 20).isoformat(),
            ]
            if rng.random() < tricky_ratio:
                column = rng.randrange(len(COLUMNS))
                row[column] = rng.choice(TRICKY[COLUMNS[column]])
            writer.writerow(row)


# ---------------------------------------------------------------- contenders
# Each takes the CSV path and returns the 1-based numbers of rejected data rows
# (None when the tool cannot say which rows failed).


def run_ours(path: Path) -> list[int] | None:
    from pipeline.schema import validate

    frame = pl.read_csv(path, infer_schema=False)
    result = validate(frame, BenchClaim)
    return result.rejected.get_column("_row_number").to_list()


def run_ours_chunked(path: Path) -> list[int] | None:
    """Ours as the streaming runner uses it: its chunked CSV reader, one Validator.

    A quote-free file is read in blocks of about 12 MiB cut at newlines (files
    with quotes: Polars' batched scan, 250k rows per chunk).

    Accepted rows are dropped after each chunk (the runner spills them to disk),
    so memory is bounded by the chunk, not the file.
    """
    from pipeline.io.csv_reader import CsvBatches
    from pipeline.schema import Validator

    rejected: list[int] = []
    validator = Validator(BenchClaim)
    for chunk in CsvBatches(path):
        result = validator.validate(chunk)
        rejected.extend(result.rejected.get_column("_row_number").to_list())
    return rejected


def run_pydantic(path: Path) -> list[int] | None:
    rejected: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        validate_row = BenchClaim.model_validate
        for number, cells in enumerate(reader, start=1):
            row = {k: (v if v != "" else None) for k, v in zip(header, cells, strict=True)}
            try:
                validate_row(row).model_dump()
            except ValidationError:
                rejected.append(number)
    return rejected


def _cast_plain(frame: pl.DataFrame) -> pl.DataFrame:
    """The hand-written floor: plain casts, lenient (null on failure)."""
    return frame.with_columns(
        pl.col("amount").cast(pl.Decimal(10, 2), strict=False),
        pl.col("units").cast(pl.Int64, strict=False),
        pl.col("service_date").str.to_date("%Y-%m-%d", strict=False),
        pl.col("paid_date").str.to_date("%Y-%m-%d", strict=False).alias("paid_date_parsed"),
    )


def run_polars(path: Path) -> list[int] | None:
    frame = pl.read_csv(path, infer_schema=False)
    typed = _cast_plain(frame)
    ok = pl.all_horizontal(
        pl.col("claim_id").str.contains(CLAIM_ID),
        pl.col("member_id").str.contains(MEMBER_ID),
        pl.col("npi").str.contains(NPI),
        pl.col("icd10").str.contains(ICD10),
        pl.col("cpt").str.contains(CPT),
        pl.col("amount").is_between(0, 1_000_000),
        pl.col("units").is_between(1, 999),
        pl.col("status").is_in([s.value for s in ClaimStatus]),
        pl.col("service_date").is_not_null(),
        pl.col("paid_date").is_null() | pl.col("paid_date_parsed").is_not_null(),
    ).fill_null(False)
    # The same outputs as ours: the typed accepted frame and the rejected rows.
    typed = typed.with_columns(ok.alias("_ok"))
    _valid = (
        typed.filter(pl.col("_ok"))
        .drop("_ok", "paid_date")
        .rename({"paid_date_parsed": "paid_date"})
    )
    numbers = typed.select(pl.col("_ok").not_().arg_true() + 1).to_series()
    return numbers.to_list()


def run_pandera(path: Path) -> list[int] | None:
    import pandera.polars as pa
    from pandera.errors import SchemaErrors

    class Schema(pa.DataFrameModel):
        claim_id: str = pa.Field(str_matches=CLAIM_ID)
        member_id: str = pa.Field(str_matches=MEMBER_ID)
        npi: str = pa.Field(str_matches=NPI)
        icd10: str = pa.Field(str_matches=ICD10)
        cpt: str = pa.Field(str_matches=CPT)
        amount: float = pa.Field(ge=0, le=1_000_000)
        units: int = pa.Field(ge=1, le=999)
        status: str = pa.Field(isin=[s.value for s in ClaimStatus])
        service_date: dt.date = pa.Field()
        paid_date: dt.date = pa.Field(nullable=True)

        class Config:
            coerce = True

    frame = pl.read_csv(path, infer_schema=False)
    try:
        Schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        indexes = cases.get_column("index").drop_nulls().unique().sort()
        return (indexes + 1).to_list()
    return []


def run_patito(path: Path) -> list[int] | None:
    import patito as pt

    class Schema(pt.Model):
        claim_id: str = pt.Field(pattern=CLAIM_ID)
        member_id: str = pt.Field(pattern=MEMBER_ID)
        npi: str = pt.Field(pattern=NPI)
        icd10: str = pt.Field(pattern=ICD10)
        cpt: str = pt.Field(pattern=CPT)
        amount: float = pt.Field(ge=0, le=1_000_000)
        units: int = pt.Field(ge=1, le=999)
        status: ClaimStatus
        service_date: dt.date
        paid_date: dt.date | None = None

    frame = pl.read_csv(path, infer_schema=False)
    typed = frame.with_columns(
        pl.col("amount").cast(pl.Float64, strict=False),
        pl.col("units").cast(pl.Int64, strict=False),
        pl.col("service_date").str.to_date("%Y-%m-%d", strict=False),
        pl.col("paid_date").str.to_date("%Y-%m-%d", strict=False),
        pl.col("status").cast(pl.Enum([s.value for s in ClaimStatus]), strict=False),
    )
    with contextlib.suppress(Exception):
        Schema.validate(typed)
    return None


def run_dataframely(path: Path) -> list[int] | None:
    import dataframely as dy

    class Schema(dy.Schema):
        row = dy.UInt32()
        claim_id = dy.String(regex=CLAIM_ID)
        member_id = dy.String(regex=MEMBER_ID)
        npi = dy.String(regex=NPI)
        icd10 = dy.String(regex=ICD10)
        cpt = dy.String(regex=CPT)
        amount = dy.Decimal(10, 2, min=0, max=1_000_000)
        units = dy.Int64(min=1, max=999)
        status = dy.Enum([s.value for s in ClaimStatus])
        service_date = dy.Date()
        paid_date = dy.Date(nullable=True)

    # Polars 2 removed the String -> Date cast dataframely's cast=True relies on.
    frame = (
        pl.read_csv(path, infer_schema=False)
        .with_row_index("row", offset=1)
        .with_columns(
            pl.col("service_date").str.to_date("%Y-%m-%d", strict=False),
            pl.col("paid_date").str.to_date("%Y-%m-%d", strict=False),
        )
    )
    valid, _failures = Schema.filter(frame, cast=True)
    kept = set(valid.get_column("row").to_list())
    return [n for n in range(1, frame.height + 1) if n not in kept]


CONTENDERS: dict[str, Callable[[Path], list[int] | None]] = {
    "ours (columnar)": run_ours,
    "ours, streaming reader": run_ours_chunked,
    "pydantic row-by-row": run_pydantic,
    "hand-written polars": run_polars,
    "pandera (polars)": run_pandera,
    "patito": run_patito,
    "dataframely": run_dataframely,
}

# ---------------------------------------------------------------- harness


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Modules each contender imports, loaded before the clock starts: we time
#: CSV file to verdict, not interpreter start-up.
# What each contender imports before its clock starts (every contender's library
# is loaded untimed). ``pipeline`` loads its parts on first use, so the reader is
# named here too: timed, its import cost 0.1-0.2 s that no other contender paid.
_OURS = ("pipeline.schema", "pipeline.schema.columnar.engine", "pipeline.schema.fallback")
IMPORTS: dict[str, tuple[str, ...]] = {
    "ours (columnar)": _OURS,
    "ours, streaming reader": (*_OURS, "pipeline.io.csv_reader"),
    "pandera (polars)": ("pandera.polars",),
    "patito": ("patito",),
    "dataframely": ("dataframely",),
}


def child(name: str, path: Path, out: Path) -> None:
    """Run one contender once in this process and write its measurements."""
    for module in IMPORTS.get(name, ()):
        importlib.import_module(module)
    base = _rss_mb()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    note = ""
    try:
        rejected = CONTENDERS[name](path)
    except Exception as exc:  # a peer that cannot run is reported, not fatal
        rejected, note = None, f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    out.write_text(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "peak_mb": _rss_mb(),
                "base_mb": base,
                "rejected": rejected,
                "note": note,
            }
        )
    )


def _run_child(name: str, path: Path) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    subprocess.run(
        [sys.executable, __file__, "--child", name, "--csv", str(path), "--out", str(out)],
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="contender names to run")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.csv, args.out)
        return
    path = args.data_dir / f"bench_claims_{args.rows}.csv"
    if not path.exists():
        print(f"generating {path} ...", file=sys.stderr)
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, args.rows)
    size_mb = path.stat().st_size / 2**20
    names = args.only or list(CONTENDERS)
    if "pydantic row-by-row" not in names:
        names = ["pydantic row-by-row", *names]
    runs: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        runs[name] = [_run_child(name, path) for _ in range(args.repeats)]
        print(f"{name}: done", file=sys.stderr)
    truth = set(runs["pydantic row-by-row"][0]["rejected"] or [])
    summary: dict[str, dict[str, Any]] = {}
    for name, results in runs.items():
        rejected = results[0]["rejected"]
        summary[name] = {
            "wall": statistics.median(r["wall"] for r in results),
            "cpu": statistics.median(r["cpu"] for r in results),
            "peak_mb": max(r["peak_mb"] for r in results),
            "net_mb": max(r["peak_mb"] - r["base_mb"] for r in results),
            "rejected": None if rejected is None else len(rejected),
            "disagree": None if rejected is None else len(truth ^ set(rejected)),
            "note": results[0]["note"],
        }
    _print_table(args.rows, size_mb, summary)


def _print_table(rows: int, size_mb: float, summary: dict[str, dict[str, Any]]) -> None:
    pyd = summary["pydantic row-by-row"]
    floor = summary.get("hand-written polars")
    print(f"\n{rows:,} rows, CSV {size_mb:.1f} MiB, Pydantic rejects {pyd['rejected']:,} rows")
    print(
        "| contender | wall s | CPU s | vs Pydantic (wall) | CPU vs floor | peak MiB "
        "| net MiB | peak / file | rejected | disagreements |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in summary.items():
        floor_ratio = f"{s['cpu'] / floor['cpu']:.2f}x" if floor else "-"
        rejected = "n/a" if s["rejected"] is None else f"{s['rejected']:,}"
        disagree = "n/a (no row ids)" if s["disagree"] is None else f"{s['disagree']:,}"
        print(
            f"| {name} | {s['wall']:.2f} | {s['cpu']:.2f} | {pyd['wall'] / s['wall']:.1f}x "
            f"| {floor_ratio} | {s['peak_mb']:.0f} | {s['net_mb']:.0f} "
            f"| {s['peak_mb'] / size_mb:.2f} | {rejected} | {disagree} |"
            + (f" {s['note']}" if s["note"] else "")
        )


if __name__ == "__main__":
    main()
