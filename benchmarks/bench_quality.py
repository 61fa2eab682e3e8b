"""Quality rules: 20 rules in one pass, ours vs pandera (polars) vs Great Expectations (pandas).

The same 20 checks — not_null x5, unique x2 (one compound), accepted_values
x2, range x4, pattern x2, length x2, row_count, mean — run on the same
generated claims frame (already in memory: reading is not timed). Each
contender reports per-check failing-row counts; the script checks the
counts agree (pandera/GE count unique null keys and NaN differently; the
data has none of either in the key columns, so they must agree) and prints
wall times side by side.

- ours: ``pipeline.quality.evaluate(frame, rules, metrics=False)`` (also
  timed with the per-column metrics).
- pandera: ``DataFrameSchema.validate(frame, lazy=True)`` on a polars frame.
- Great Expectations 1.x: an ephemeral context, a pandas dataframe asset and
  one suite, ``result_format="SUMMARY"``; the pandas frame is built
  before timing (a pandas user already has it), the context and suite
  set-up is timed (as ``parse_rules`` is for ours). GE is slow at 10M rows,
  so by default it runs at ``--ge-rows`` and ``--ge-rows / 4`` and the line
  through both times is extrapolated to ``--rows`` (said so in the output).

Usage: python benchmarks/bench_quality.py [--rows 10000000] [--ge-rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from pipeline.quality import evaluate, parse_rules

STATUS = ["PAID", "DENIED", "PENDING"]
PLANS = ["HMO", "PPO", "EPO"]

# (id, our rule) — the order is the table's order.
RULES: list[dict[str, Any]] = [
    {"id": "claim_present", "rule": "not_null", "column": "claim_id"},
    {"id": "member_present", "rule": "not_null", "column": "member_id"},
    {"id": "amount_present", "rule": "not_null", "column": "amount"},
    {"id": "status_present", "rule": "not_null", "column": "status"},
    {"id": "npi_present", "rule": "not_null", "column": "npi"},
    {"id": "claim_unique", "rule": "unique", "columns": ["claim_id"]},
    {"id": "member_line_unique", "rule": "unique", "columns": ["member_id", "line"]},
    {"id": "status_known", "rule": "accepted_values", "column": "status", "values": STATUS},
    {"id": "plan_known", "rule": "accepted_values", "column": "plan", "values": PLANS},
    {"id": "amount_range", "rule": "range", "column": "amount", "min": 0, "max": 100000},
    {"id": "units_range", "rule": "range", "column": "units", "min": 1, "max": 20},
    {"id": "age_range", "rule": "range", "column": "age", "min": 0, "max": 110},
    {"id": "score_range", "rule": "range", "column": "score", "min": 0.0, "max": 1.0},
    {"id": "npi_shape", "rule": "pattern", "column": "npi", "pattern": "^[0-9]{10}$"},
    {"id": "code_shape", "rule": "pattern", "column": "code", "pattern": "^[A-Z][0-9]{2}$"},
    {"id": "npi_length", "rule": "length", "column": "npi", "min": 10, "max": 10},
    {"id": "code_length", "rule": "length", "column": "code", "min": 3, "max": 3},
    {"id": "rows", "rule": "row_count", "min": 1},
    {"id": "amount_mean", "rule": "aggregate", "expression": "avg(amount)", "min": 0, "max": 5000},
    {"id": "line_range", "rule": "range", "column": "line", "min": 1, "max": 40},
]


# Our rule id -> pandera's "column:check" failure-case group (row_count and mean report no rows).
PANDERA_KEYS = {
    "claim_present": "claim_id:not_nullable",
    "member_present": "member_id:not_nullable",
    "amount_present": "amount:not_nullable",
    "status_present": "status:not_nullable",
    "npi_present": "npi:not_nullable",
    "claim_unique": "claim_id:field_uniqueness",
    "member_line_unique": "*:multiple_fields_uniqueness",
    "status_known": f"status:isin({STATUS!r})",
    "plan_known": f"plan:isin({PLANS!r})",
    "amount_range": "amount:in_range(0, 100000)",
    "units_range": "units:in_range(1, 20)",
    "age_range": "age:in_range(0, 110)",
    "score_range": "score:in_range(0.0, 1.0)",
    "npi_shape": "npi:str_matches('^[0-9]{10}$')",
    "code_shape": "code:str_matches('^[A-Z][0-9]{2}$')",
    "npi_length": "npi:str_length(10, 10)",
    "code_length": "code:str_length(3, 3)",
    "line_range": "line:in_range(1, 40)",
}


def make_frame(rows: int, seed: int = 11) -> pl.DataFrame:
    """A claims-like frame with ~1% bad values per column (no nulls or NaN in key columns)."""
    rng = np.random.default_rng(seed)

    def bad(share: float = 0.01) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return rng.random(rows) < share

    claim = np.arange(rows, dtype=np.int64)
    claim[bad(0.001)] = 0  # duplicates
    amount = np.round(rng.gamma(2.0, 400.0, rows), 2)
    amount[bad()] = -1.0
    digits = rng.integers(0, 100, rows)
    digits[bad()] = 100 + rng.integers(0, 900)  # three digits: wrong shape and length
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))[rng.integers(0, 26, rows)]
    npi = pl.Series(rng.integers(10**9, 10**10, rows)).cast(pl.String)
    return pl.DataFrame(
        {
            "claim_id": claim,
            "member_id": rng.integers(0, rows // 4 + 1, rows),
            "line": rng.integers(1, 45, rows),
            "amount": amount,
            "units": rng.integers(0, 22, rows),
            "age": rng.integers(0, 115, rows),
            "score": rng.random(rows) * 1.01,
            "status": rng.choice([*STATUS, "VOID"], rows, p=[0.6, 0.25, 0.14, 0.01]),
            "plan": rng.choice([*PLANS, "XXX"], rows, p=[0.5, 0.3, 0.19, 0.01]),
            "npi": npi.set(pl.Series(bad(0.005)), None),  # type: ignore[arg-type]
            "code": pl.Series(letters) + pl.Series(digits).cast(pl.String).str.zfill(2),
        }
    )


def ours(frame: pl.DataFrame, *, metrics: bool) -> dict[str, int]:
    rules = parse_rules(RULES)
    outcome = evaluate(frame, rules, metrics=metrics)
    return {r.id: r.failed_rows for r in outcome.results}


def pandera_run(frame: pl.DataFrame) -> dict[str, int]:
    import pandera.polars as pa

    def mean_between(data: Any) -> Any:
        return data.lazyframe.select(pl.col(data.key).mean().is_between(0, 5000))

    schema = pa.DataFrameSchema(
        {
            "claim_id": pa.Column(pl.Int64, nullable=False, unique=True),
            "member_id": pa.Column(pl.Int64, nullable=False),
            "line": pa.Column(pl.Int64, checks=[pa.Check.in_range(1, 40)]),
            "amount": pa.Column(
                pl.Float64,
                nullable=False,
                checks=[pa.Check.in_range(0, 100000), pa.Check(mean_between, name="mean")],
            ),
            "units": pa.Column(pl.Int64, checks=[pa.Check.in_range(1, 20)]),
            "age": pa.Column(pl.Int64, checks=[pa.Check.in_range(0, 110)]),
            "score": pa.Column(pl.Float64, checks=[pa.Check.in_range(0.0, 1.0)]),
            "status": pa.Column(pl.String, nullable=False, checks=[pa.Check.isin(STATUS)]),
            "plan": pa.Column(pl.String, checks=[pa.Check.isin(PLANS)]),
            "npi": pa.Column(
                pl.String,
                nullable=False,
                checks=[pa.Check.str_matches("^[0-9]{10}$"), pa.Check.str_length(10, 10)],
            ),
            "code": pa.Column(
                pl.String,
                checks=[pa.Check.str_matches("^[A-Z][0-9]{2}$"), pa.Check.str_length(3, 3)],
            ),
        },
        unique=["member_id", "line"],
        checks=[pa.Check(lambda data: data.lazyframe.select(pl.len() >= 1), name="rows")],
    )
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.with_columns(pl.col("column").fill_null("*"))
        return {f"{c}:{k}": n for c, k, n in cases.group_by("column", "check").len().iter_rows()}
    return {}


def ge_run(pdf: Any) -> dict[str, int]:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset("claims")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": pdf})
    )
    suite = gx.ExpectationSuite(name="claims")
    for rule in RULES:
        kind, column = rule["rule"], rule.get("column")
        if kind == "not_null":
            exp: Any = gxe.ExpectColumnValuesToNotBeNull(column=column)
        elif kind == "unique" and len(rule["columns"]) == 1:
            exp = gxe.ExpectColumnValuesToBeUnique(column=rule["columns"][0])
        elif kind == "unique":
            exp = gxe.ExpectCompoundColumnsToBeUnique(column_list=rule["columns"])
        elif kind == "accepted_values":
            exp = gxe.ExpectColumnValuesToBeInSet(column=column, value_set=rule["values"])
        elif kind == "range":
            exp = gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=rule["min"], max_value=rule["max"]
            )
        elif kind == "pattern":
            exp = gxe.ExpectColumnValuesToMatchRegex(column=column, regex=rule["pattern"])
        elif kind == "length":
            exp = gxe.ExpectColumnValueLengthsToBeBetween(
                column=column, min_value=rule["min"], max_value=rule["max"]
            )
        elif kind == "row_count":
            exp = gxe.ExpectTableRowCountToBeBetween(min_value=rule["min"])
        else:
            exp = gxe.ExpectColumnMeanToBeBetween(column="amount", min_value=0, max_value=5000)
        exp.meta = {"id": rule["id"]}
        suite.add_expectation(exp)
    suite = context.suites.add(suite)
    # GE prints per-metric progress bars on stderr; keep the side-by-side output readable.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        result = batch.validate(suite, result_format="SUMMARY")
    out: dict[str, int] = {}
    for item in result.results:
        rule_id = item.expectation_config.meta["id"]
        out[rule_id] = int(item.result.get("unexpected_count", 0) or 0)
    return out


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ge-rows", type=int, default=1_000_000, help="GE size (scaled to --rows)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--ge-repeat",
        type=int,
        default=None,
        help="best of N for Great Expectations (default: --repeat, as for ours)",
    )
    parser.add_argument("--skip-pandera", action="store_true")
    parser.add_argument("--skip-ge", action="store_true")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()

    frame = make_frame(args.rows)
    figures: dict[str, Any] = {
        "rows": args.rows,
        "rules": len(RULES),
        "threads": pl.thread_pool_size(),
    }
    t_ours, counts = timed(lambda: ours(frame, metrics=False), args.repeat)
    t_metrics, _ = timed(lambda: ours(frame, metrics=True), args.repeat)
    figures["ours_s"], figures["ours_with_metrics_s"] = t_ours, t_metrics
    print(f"rows={args.rows:,} rules={len(RULES)} polars threads={pl.thread_pool_size()}")
    print(f"ours                      {t_ours:8.2f} s  (with column metrics {t_metrics:.2f} s)")
    if not args.skip_pandera:
        t_pa, pa_counts = timed(lambda: pandera_run(frame), args.repeat)
        figures["pandera_s"] = t_pa
        print(f"pandera (polars)          {t_pa:8.2f} s  -> ours is {t_pa / t_ours:5.1f}x faster")
        mismatched = {
            rule_id: (counts[rule_id], pa_counts.get(key, 0))
            for rule_id, key in PANDERA_KEYS.items()
            if counts[rule_id] != pa_counts.get(key, 0)
        }
        figures["pandera_count_mismatches"] = mismatched
        print(f"pandera failing-row counts equal ours: {not mismatched} {mismatched or ''}")
    if not args.skip_ge:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations  # noqa: F401 - its import (seconds) is not part of a check

        small = frame if args.ge_rows >= args.rows else make_frame(args.ge_rows)
        small_pd = small.to_pandas()
        ge_repeat = args.ge_repeat if args.ge_repeat is not None else args.repeat
        t_ge, ge_counts = timed(lambda: ge_run(small_pd), ge_repeat)
        if small.height < args.rows:
            # Two sizes give GE's fixed cost and per-row cost; extrapolate the line to --rows.
            quarter = make_frame(small.height // 4)
            quarter_pd = quarter.to_pandas()
            t_quarter, _ = timed(lambda: ge_run(quarter_pd), ge_repeat)
            per_row = (t_ge - t_quarter) / (small.height - quarter.height)
            t_full = t_ge + per_row * (args.rows - small.height)
            note = (
                f"extrapolated from {quarter.height:,} rows ({t_quarter:.2f} s) "
                f"and {small.height:,} rows ({t_ge:.2f} s)"
            )
            figures.update(ge_quarter_rows=quarter.height, ge_quarter_s=t_quarter)
        else:
            t_full, note = t_ge, "measured"
        figures.update(ge_rows=small.height, ge_s=t_ge, ge_full_s=t_full)
        print(
            f"Great Expectations (pandas){t_full:7.2f} s  ({note})"
            f" -> ours is {t_full / t_ours:5.1f}x faster"
        )
        ours_small = ours(small, metrics=False)
        mismatched = {k: (ours_small[k], v) for k, v in ge_counts.items() if ours_small[k] != v}
        figures["ge_count_mismatches"] = mismatched
        print(f"GE failing-row counts equal ours: {not mismatched} {mismatched or ''}")
    if args.json:
        print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
