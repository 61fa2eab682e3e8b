"""Regenerate ``claims.csv``: synthetic claims with a known share of bad rows.

Deterministic (seeded) so the shipped file and its expected counts never
drift. Run: ``python examples/claims/generate.py [ROWS] [OUT]``.
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, timedelta
from pathlib import Path

HEADER = [
    "claim_id", "member_id", "npi", "procedure_code", "diagnosis_code",
    "service_date", "units", "amount", "status", "plan_code",
]
_DIAG = ["E11.9", "I10", "J45.909", "M54.5", "Z00.00", "K21.9", "F41.1", "N39.0"]
_PROC = ["99213", "99214", "80053", "85025", "93000", "71046", "36415", "90837"]
_PLANS = ["HMO-GOLD", "PPO-SILVER", "EPO-BRONZE", ""]


def good_row(rng: random.Random, index: int) -> list[str]:
    """A claim every check accepts."""
    start = date(2024, 1, 1)
    return [
        f"CLM{index:08d}",
        f"M{rng.randrange(10**9):09d}",
        f"{rng.randrange(10**9, 10**10)}",
        rng.choice(_PROC),
        rng.choice(_DIAG),
        (start + timedelta(days=rng.randrange(365))).isoformat(),
        str(rng.randint(1, 4)),
        f"{rng.randint(20, 250000) / 100:.2f}",
        rng.choice(["PAID", "PAID", "PAID", "DENIED", "PENDING"]),
        rng.choice(_PLANS),
    ]


def spoil(rng: random.Random, row: list[str]) -> list[str]:
    """Break one field the way real extracts break."""
    kind = rng.randrange(8)
    bad = list(row)
    if kind == 0:
        bad[1] = ""  # member missing
    elif kind == 1:
        bad[2] = bad[2][:9]  # NPI one digit short
    elif kind == 2:
        bad[5] = "2024-02-30"  # impossible date
    elif kind == 3:
        bad[6] = "0"  # units below range
    elif kind == 4:
        bad[7] = "-12.50"  # negative amount
    elif kind == 5:
        bad[8] = "VOIDED"  # unknown status
    elif kind == 6:
        bad[7] = "12.345"  # sub-cent amount
    else:
        bad[9] = "PLAN-NAME-TOO-LONG"
    return bad


def generate(rows: int, out: Path, bad_share: float = 0.05, seed: int = 20240131) -> None:
    """Write ``rows`` claims, about ``bad_share`` of them invalid, to ``out``."""
    rng = random.Random(seed)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for index in range(1, rows + 1):
            row = good_row(rng, index)
            writer.writerow(spoil(rng, row) if rng.random() < bad_share else row)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("claims.csv")
    generate(count, target)
