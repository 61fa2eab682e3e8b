"""Helpers shared by the benchmarks: data generation and timing child processes."""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[1]


def compile_sources() -> None:
    """Byte-compile ``src`` once, as ``pip install`` does for a package it installs.

    Every contender runs in a fresh interpreter. Polars, pandas and Pydantic sit
    compiled in site-packages; an editable checkout run with
    ``PYTHONDONTWRITEBYTECODE=1`` (set on our benchmark machines) would instead
    recompile our ~60 modules in every child, about 80 ms that no installed
    copy pays. Reading existing byte code is allowed under that variable.
    """
    compileall.compile_dir(REPO / "src", quiet=1)


compile_sources()


def claims_csv(rows: int, bad_share: float = 0.015, seed: int = 7) -> Path:
    """A claims CSV with the columns of ``examples.claims.model:Claim`` (cached by size)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"claims_{rows}.csv"
    if path.exists():
        return path
    frame = claims_frame(rows, bad_share=bad_share, seed=seed)
    tmp = path.with_suffix(".tmp")
    frame.write_csv(tmp)
    tmp.rename(path)
    return path


def claims_frame(
    rows: int,
    *,
    bad_share: float = 0.015,
    seed: int = 7,
    first_id: int = 1,
    members: int = 10**9,
) -> pl.DataFrame:
    """``rows`` synthetic claims; ``members`` bounds how many distinct members appear."""
    rng = np.random.default_rng(seed)
    idx = np.arange(first_id, first_id + rows)
    start = np.datetime64("2024-01-01")
    frame = pl.DataFrame(
        {
            "claim_id": pl.Series(idx).cast(pl.String).str.zfill(8),
            "member_id": pl.Series(rng.integers(0, members, rows)).cast(pl.String).str.zfill(9),
            "npi": pl.Series(rng.integers(10**9, 10**10, rows)).cast(pl.String),
            "procedure_code": pl.Series(rng.integers(10000, 99999, rows)).cast(pl.String),
            "diagnosis_code": pl.Series(
                rng.choice(["E11.9", "I10", "J45.909", "M54.5", "Z00.00", "K21.9"], rows)
            ),
            "service_date": pl.Series(start + rng.integers(0, 365, rows).astype("timedelta64[D]")),
            "units": pl.Series(rng.integers(1, 5, rows)),
            "amount": pl.Series(rng.integers(20, 250000, rows) / 100),
            "status": pl.Series(rng.choice(["PAID", "PAID", "DENIED", "PENDING"], rows)),
            "plan_code": pl.Series(
                rng.choice(["HMO-GOLD", "PPO-SILVER", ""], rows), dtype=pl.String
            ).replace("", None),
        }
    ).with_columns(
        ("CLM" + pl.col("claim_id")).alias("claim_id"),
        ("M" + pl.col("member_id")).alias("member_id"),
        # Two decimals always, as a payer's extract writes money.
        (
            (pl.col("amount") * 100).round().cast(pl.Int64).floordiv(100).cast(pl.String)
            + "."
            + (pl.col("amount") * 100).round().cast(pl.Int64).mod(100).cast(pl.String).str.zfill(2)
        ).alias("amount"),
    )
    bad = rng.random(rows) < bad_share
    kind = rng.integers(0, 4, rows)
    frame = frame.with_columns(
        pl.when(pl.Series(bad & (kind == 0)))
        .then(pl.lit("123"))
        .otherwise(pl.col("npi"))
        .alias("npi"),
        pl.when(pl.Series(bad & (kind == 1)))
        .then(pl.lit(0))
        .otherwise(pl.col("units"))
        .alias("units"),
        pl.when(pl.Series(bad & (kind == 2)))
        .then(pl.lit("VOIDED"))
        .otherwise(pl.col("status"))
        .alias("status"),
        pl.when(pl.Series(bad & (kind == 3)))
        .then(pl.lit(None))
        .otherwise(pl.col("member_id"))
        .alias("member_id"),
    )
    return frame


def timed_child(code: str, *, repeat: int = 3) -> dict[str, float]:
    """Run ``code`` in fresh interpreters; median wall seconds and max peak RSS (MiB)."""
    walls: list[float] = []
    peaks: list[float] = []
    cpu: list[float] = []
    for _ in range(repeat):
        wrapped = (
            "import json,resource,time\n"
            "t0=time.perf_counter()\n"
            f"{code}\n"
            "wall=time.perf_counter()-t0\n"
            "ru=resource.getrusage(resource.RUSAGE_SELF)\n"
            # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the parent.
            "st=open('/proc/self/status').read().splitlines()\n"
            "hwm=[int(x.split()[1]) for x in st if x.startswith('VmHWM')][0]\n"
            "print(json.dumps({'wall':wall,'cpu':ru.ru_utime+ru.ru_stime,'rss':hwm/1024}))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", wrapped],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        walls.append(stats["wall"])
        peaks.append(stats["rss"])
        cpu.append(stats["cpu"])
    walls.sort()
    cpu.sort()
    return {"wall": walls[len(walls) // 2], "cpu": cpu[len(cpu) // 2], "rss_mib": max(peaks)}


def now() -> float:
    return time.perf_counter()
