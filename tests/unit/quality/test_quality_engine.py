"""Evaluating each rule type, with the edge cases the issue names.

Nulls in `unique`, an empty dataset, an all-null column, `mostly` exactly at
the boundary, a reference to a missing dataset; freshness and time zones are
in test_quality_freshness.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError, InputError
from pipeline.quality import (
    QualityOutcome,
    RuleResult,
    evaluate,
    evaluate_lazy,
    parse_rules,
    passes,
)

AS_OF = datetime(2024, 3, 1, tzinfo=UTC)


def run(frame: pl.DataFrame, *rules: dict[str, Any], **kwargs: Any) -> QualityOutcome:
    return evaluate(frame, parse_rules(list(rules)), as_of=AS_OF, **kwargs)


def one(frame: pl.DataFrame, rule: dict[str, Any], **kwargs: Any) -> RuleResult:
    return run(frame, {"id": "r", **rule}, **kwargs).results[0]


CLAIMS = pl.DataFrame(
    {
        "claim_id": ["c1", "c2", "c2", "c3", None, None],
        "line": [1, 1, 1, 2, 1, 1],
        "amount": [10.0, -1.0, 2_000_000.0, float("nan"), None, 5.0],
        "status": ["PAID", "VOID", None, "DENIED", "PAID", "X"],
        "npi": ["1234567890", "123", None, "12345678901", "abcdefghij", "0000000000"],
        "_row_number": [1, 2, 3, 4, 5, 6],
    }
)


# --- not_null -------------------------------------------------------------------------------


def test_not_null_counts_null_and_nan() -> None:
    result = one(CLAIMS, {"rule": "not_null", "column": "amount"})
    assert (result.failed_rows, result.evaluated_rows, result.passed) == (2, 6, False)
    assert result.ratio == pytest.approx(4 / 6)


def test_all_null_column() -> None:
    frame = pl.DataFrame({"x": pl.Series([None, None, None], dtype=pl.String)})
    outcome = run(
        frame,
        {"id": "nn", "rule": "not_null", "column": "x"},
        {"id": "u", "rule": "unique", "column": "x"},
        {"id": "av", "rule": "accepted_values", "column": "x", "values": ["a"]},
        {"id": "p", "rule": "pattern", "column": "x", "pattern": "^a$"},
        {"id": "agg", "rule": "aggregate", "expression": "count(x)", "max": 0},
    )
    by_id = {r.id: r for r in outcome.results}
    assert (by_id["nn"].failed_rows, by_id["nn"].passed) == (3, False)
    for rule_id in ("u", "av", "p"):  # every other rule ignores nulls: nothing evaluated, pass
        assert (by_id[rule_id].failed_rows, by_id[rule_id].evaluated_rows) == (0, 0)
        assert by_id[rule_id].passed and by_id[rule_id].ratio == 1.0
    assert by_id["agg"].passed
    assert outcome.metrics["x"].null_count == 3 and outcome.metrics["x"].distinct_count == 0


# --- unique -----------------------------------------------------------------------------------


def test_unique_counts_every_row_of_a_repeated_key_and_ignores_nulls() -> None:
    result = one(CLAIMS, {"rule": "unique", "columns": ["claim_id"]})
    # c2 twice -> both rows fail; the two null keys do not collide (SQL UNIQUE semantics).
    assert (result.failed_rows, result.evaluated_rows) == (2, 4)


def test_unique_compound_key_with_a_null_part() -> None:
    frame = pl.DataFrame({"a": [1, 1, 1, 1, None, None], "b": ["x", "x", "y", None, "x", "x"]})
    result = one(frame, {"rule": "unique", "columns": ["a", "b"]})
    assert (result.failed_rows, result.evaluated_rows) == (2, 3)
    assert result.columns == ("a", "b") and result.column is None


def test_unique_nan_is_missing() -> None:
    frame = pl.DataFrame({"f": [float("nan"), float("nan"), 1.0, 1.0]})
    assert one(frame, {"rule": "unique", "column": "f"}).failed_rows == 2


# --- accepted_values, range, pattern, length ----------------------------------------------


def test_accepted_values_ignores_nulls() -> None:
    rule = {"rule": "accepted_values", "column": "status", "values": ["PAID", "DENIED"]}
    result = one(CLAIMS, rule)
    assert (result.failed_rows, result.evaluated_rows) == (2, 5)


def test_accepted_values_are_coerced_to_the_column_type() -> None:
    frame = pl.DataFrame({"n": [1, 2, 3], "d": [date(2024, 1, 1), date(2024, 1, 2), None]})
    assert (
        one(frame, {"rule": "accepted_values", "column": "n", "values": ["1", 2]}).failed_rows == 1
    )
    dates = {"rule": "accepted_values", "column": "d", "values": ["2024-01-01"]}
    assert one(frame, dates).failed_rows == 1
    with pytest.raises(ConfigError, match=r"'r' .*`values` does not fit"):
        one(frame, {"rule": "accepted_values", "column": "n", "values": ["PAID"]})


def test_range_inclusive_by_default_and_strict_options() -> None:
    frame = pl.DataFrame({"x": [0, 5, 10, None]})
    inclusive = one(frame, {"rule": "range", "column": "x", "min": 0, "max": 10})
    assert (inclusive.failed_rows, inclusive.evaluated_rows) == (0, 3)
    strict = {"rule": "range", "column": "x", "min": 0, "max": 10, "strict_min": True}
    assert one(frame, strict).failed_rows == 1
    assert one(frame, {**strict, "strict_max": True}).failed_rows == 2
    assert one(frame, {"rule": "range", "column": "x", "max": 4}).failed_rows == 2


def test_range_on_floats_ignores_nan_and_on_dates_reads_iso_bounds() -> None:
    result = one(CLAIMS, {"rule": "range", "column": "amount", "min": 0, "max": 1_000_000})
    assert (result.failed_rows, result.evaluated_rows) == (2, 4)
    frame = pl.DataFrame({"d": [date(2023, 12, 31), date(2024, 1, 1), date(2024, 6, 1)]})
    rule = {"rule": "range", "column": "d", "min": "2024-01-01", "max": date(2024, 3, 1)}
    assert one(frame, rule).failed_rows == 2


def test_range_on_aware_datetimes_compares_instants() -> None:
    instants = [datetime(2024, 1, 1, 0, 30, tzinfo=UTC), datetime(2024, 1, 1, 1, 30, tzinfo=UTC)]
    frame = pl.DataFrame({"t": pl.Series(instants).dt.convert_time_zone("Europe/Berlin")})
    # 01:00Z is 02:00 in Berlin: only 00:30Z is early (a wall-clock reading would pass both).
    rule = {"rule": "range", "column": "t", "min": "2024-01-01T01:00:00Z"}
    assert one(frame, rule).failed_rows == 1
    naive = pl.DataFrame({"t": [datetime(2024, 1, 1, 0, 30), datetime(2024, 1, 1, 1, 30)]})
    assert one(naive, rule).failed_rows == 1


def test_pattern_is_a_search_anchor_for_full_match() -> None:
    anchored = one(CLAIMS, {"rule": "pattern", "column": "npi", "pattern": "^[0-9]{10}$"})
    assert (anchored.failed_rows, anchored.evaluated_rows) == (3, 5)
    search = one(CLAIMS, {"rule": "pattern", "column": "npi", "pattern": "[0-9]{10}"})
    assert search.failed_rows == 2
    numbers = pl.DataFrame({"n": [123, 45, None]})
    assert (
        one(numbers, {"rule": "pattern", "column": "n", "pattern": "^[0-9]{3}$"}).failed_rows == 1
    )


def test_length_counts_characters() -> None:
    frame = pl.DataFrame({"s": ["ab", "abc", "äöü", "abcd", None]})
    result = one(frame, {"rule": "length", "column": "s", "min": 3, "max": 3})
    assert (result.failed_rows, result.evaluated_rows) == (2, 4)


# --- row_count, aggregate, expression, schema -----------------------------------------------


def test_row_count() -> None:
    assert one(CLAIMS, {"rule": "row_count", "min": 6, "max": 6}).passed
    result = one(CLAIMS, {"rule": "row_count", "min": 7})
    assert not result.passed and result.details == {"rows": 6}
    assert result.ratio is None and result.failed_rows == 0


def test_aggregate_bounds() -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0, 3.0, None]})
    assert one(frame, {"rule": "aggregate", "expression": "avg(x)", "min": 2, "max": 2}).passed
    assert not one(frame, {"rule": "aggregate", "expression": "sum(x)", "max": 5}).passed
    assert one(
        frame, {"rule": "aggregate", "expression": "stddev(x)", "min": 0.99, "max": 1.01}
    ).passed
    with pytest.raises(ConfigError, match="one number for the whole dataset"):
        one(frame, {"rule": "aggregate", "expression": "x + 1", "max": 1})
    with pytest.raises(ConfigError, match="cannot be evaluated"):
        one(frame, {"rule": "aggregate", "expression": "avg(y)", "max": 1})


@pytest.mark.parametrize(
    ("values", "expression"),
    [
        ([1.0, 2.0], "sum(x) / 0"),  # +inf: passed a `min` alone before
        ([-1.0, 2.0], "min(x) / 0"),  # -inf
        ([float("nan"), 1.0], "sum(x)"),  # NaN
        ([None, None], "avg(x)"),  # no value
    ],
)
def test_aggregate_without_a_finite_value_fails(
    values: list[float | None], expression: str
) -> None:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.Float64})
    for bounds in ({"min": 0}, {"max": 0}, {"min": -1e300, "max": 1e300}):
        result = one(frame, {"rule": "aggregate", "expression": expression, **bounds})
        assert not result.passed, (expression, bounds)
        assert result.details == {"has_value": False}


def test_expression_null_passes_and_must_be_row_level_boolean() -> None:
    frame = pl.DataFrame({"amount": [1, -1, None], "status": ["PAID", "PAID", "VOID"]})
    result = one(frame, {"rule": "expression", "expression": "amount >= 0", "column": "amount"})
    assert (result.failed_rows, result.evaluated_rows, result.column) == (1, 2, "amount")
    both = one(frame, {"rule": "expression", "expression": "amount >= 0 OR status = 'VOID'"})
    assert both.failed_rows == 1
    with pytest.raises(ConfigError, match="true/false value per row"):
        one(frame, {"rule": "expression", "expression": "amount + 1"})
    with pytest.raises(ConfigError, match="true/false value per row"):
        one(frame, {"rule": "expression", "expression": "avg(amount) > 0"})


def test_schema_rule() -> None:
    rule = {"rule": "schema", "columns": ["claim_id", "member_id"], "types": {"line": "Int64"}}
    result = one(CLAIMS, rule)
    assert not result.passed
    assert result.details == {"missing_columns": ["member_id"], "wrong_types": []}
    typed = one(CLAIMS, {"rule": "schema", "types": {"amount": "Int64", "claim_id": "string"}})
    assert typed.details["wrong_types"] == ["amount"]
    exact = one(
        CLAIMS, {"rule": "schema", "columns": ["claim_id", "line", "amount"], "exact": True}
    )
    assert exact.details["unexpected_columns"] == ["npi", "status"]  # _row_number is not data


# --- reference ------------------------------------------------------------------------------


def test_reference_values_exist_in_other_dataset() -> None:
    members = pl.DataFrame({"member_id": ["1", "2", "007", None]})  # as read: all text
    frame = pl.DataFrame({"member": [1, 2, 3, 7, None]})
    rule = {"rule": "reference", "column": "member", "dataset": "members.csv",
            "dataset_column": "member_id"}  # fmt: skip
    result = one(frame, rule, references=lambda location: members)
    assert (result.failed_rows, result.evaluated_rows) == (1, 4)


def test_reference_to_a_missing_dataset_is_a_clear_error(tmp_path: Any) -> None:
    missing = str(tmp_path / "nowhere" / "members.csv")
    rule = {"rule": "reference", "column": "claim_id", "dataset": missing}
    with pytest.raises(InputError) as caught:
        one(CLAIMS, rule)  # the default resolver reads through pipeline.io
    text = str(caught.value)
    assert "'r' (reference)" in text and "members.csv" in text and caught.value.exit_code == 2

    def resolver(location: str) -> pl.DataFrame:
        raise FileNotFoundError(2, "No such file or directory", location)

    with pytest.raises(InputError, match="No such file"):
        one(CLAIMS, rule, references=resolver)
    with pytest.raises(ConfigError, match="has no column 'claim_id'"):
        one(CLAIMS, rule, references=lambda location: pl.DataFrame({"id": ["c1"]}))


# --- shared behaviour -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("passing", "total", "mostly", "expected"),
    [(99, 100, 0.99, True), (98, 100, 0.99, False), (7, 10, 0.7, True), (1, 10, 0.1, True),
     (0, 10, 0.1, False), (100, 100, 1.0, True), (99, 100, 1.0, False), (0, 100, 0.0, True)],
)  # fmt: skip
def test_mostly_boundary_is_exact(passing: int, total: int, mostly: float, expected: bool) -> None:
    # 7/10 vs 0.7: the binary float 0.7 is a hair above 7/10; the decimal the user wrote is not.
    frame = pl.DataFrame({"x": [1] * passing + [-1] * (total - passing)})
    result = one(frame, {"rule": "range", "column": "x", "min": 0, "mostly": mostly})
    assert result.passed is expected
    assert result.failed_rows == total - passing  # reported also under `mostly`
    assert passes(total - passing, total, mostly) is expected


def test_empty_dataset() -> None:
    frame = CLAIMS.clear()
    outcome = run(
        frame,
        {"id": "nn", "rule": "not_null", "column": "claim_id"},
        {"id": "u", "rule": "unique", "columns": ["claim_id", "line"]},
        {"id": "rg", "rule": "range", "column": "amount", "min": 0},
        {"id": "rc", "rule": "row_count", "min": 1},
        {"id": "agg", "rule": "aggregate", "expression": "avg(amount)", "min": 0},
        {"id": "q", "rule": "accepted_values", "column": "status", "values": ["PAID"],
         "quarantine": True},
    )  # fmt: skip
    verdicts = {r.id: (r.passed, r.failed_rows, r.ratio) for r in outcome.results}
    assert verdicts["nn"] == verdicts["u"] == verdicts["rg"] == verdicts["q"] == (True, 0, 1.0)
    assert not verdicts["rc"][0] and not verdicts["agg"][0]
    assert outcome.quarantine.len() == 0 and outcome.quarantine_codes.len() == 0
    assert outcome.row_count == 0


def test_missing_column_names_rule_and_nearest_column() -> None:
    with pytest.raises(ConfigError) as caught:
        one(CLAIMS, {"rule": "not_null", "column": "claim"})
    assert "did you mean 'claim_id'" in str(caught.value) and caught.value.column == "claim"


def test_quarantine_mask_and_codes() -> None:
    outcome = run(
        CLAIMS,
        {"id": "status_known", "rule": "accepted_values", "column": "status",
         "values": ["PAID", "DENIED"], "quarantine": True},
        {"id": "npi_shape", "rule": "pattern", "column": "npi", "pattern": "^[0-9]{10}$",
         "quarantine": True, "severity": "warn"},
        {"id": "amount_known", "rule": "not_null", "column": "amount"},
    )  # fmt: skip
    assert outcome.quarantine.to_list() == [False, True, False, True, True, True]
    assert outcome.quarantine_codes.to_list() == [
        ["status_known", "npi_shape"], ["npi_shape"], ["npi_shape"], ["status_known"],
    ]  # fmt: skip
    rows = CLAIMS.filter(outcome.quarantine).get_column("_row_number").to_list()
    assert rows == [2, 4, 5, 6]
    assert outcome.quarantined_rows == 4
    errors = outcome.quarantine_errors()
    assert errors[0][0] == {
        "column": "status", "code": "status_known",
        "message": "failed the accepted_values quality rule 'status_known'",
    }  # fmt: skip
    # Quarantined rows are handled: the quarantine rule passes, the other one fails.
    assert [r.id for r in outcome.failed_errors] == ["amount_known"]
    status = next(r for r in outcome.results if r.id == "status_known")
    assert status.passed and status.failed_rows > 0
    assert outcome.failed_warnings == []


def test_quarantine_rule_with_mostly_still_gates() -> None:
    outcome = run(
        CLAIMS,
        {"id": "status_known", "rule": "accepted_values", "column": "status",
         "values": ["PAID", "DENIED"], "quarantine": True, "mostly": 0.9},
    )  # fmt: skip
    assert [r.id for r in outcome.failed_errors] == ["status_known"]


def test_lazy_matches_batch_and_splits() -> None:
    rules = parse_rules(
        [
            {"id": "u", "rule": "unique", "columns": ["claim_id"], "quarantine": True},
            {"id": "s", "rule": "accepted_values", "column": "status", "values": ["PAID"]},
            {"id": "rc", "rule": "row_count", "max": 3},
        ]
    )
    batch = evaluate(CLAIMS, rules)
    lazy = evaluate_lazy(CLAIMS.lazy(), rules)
    assert lazy.results == batch.results and lazy.to_dict() == batch.to_dict()
    kept, dropped = lazy.masks.split(CLAIMS.lazy())
    assert kept.collect().height + dropped.collect().height == CLAIMS.height  # conservation
    assert dropped.collect().get_column("_quality_codes").to_list() == [["u"], ["u"]]
    assert kept.collect().columns == CLAIMS.columns


def test_results_and_evidence_hold_no_values() -> None:
    outcome = run(
        CLAIMS,
        {"id": "a", "rule": "range", "column": "amount", "max": 100},
        {"id": "b", "rule": "aggregate", "expression": "max(amount)", "max": 100},
        {"id": "c", "rule": "accepted_values", "column": "status", "values": ["PAID"]},
    )
    assert [sorted(d) for d in outcome.to_dict()] == [
        ["failed_rows", "id", "passed", "ratio", "rule", "severity"]
    ] * 3
    text = json.dumps([outcome.to_dict(), outcome.to_evidence()])
    for value in ("2000000", "VOID", "1234567890", "c2"):
        assert value not in text
    # min/max are values: only the OpenLineage metrics facet carries them.
    facet = outcome.metrics_facet()
    assert facet["columnMetrics"]["amount"]["max"] == 2_000_000.0
    assert "_row_number" not in facet["columnMetrics"] and facet["rowCount"] == 6


def test_metrics() -> None:
    outcome = evaluate(CLAIMS, [])
    amount = outcome.metrics["amount"]
    assert (amount.null_count, amount.distinct_count, amount.min, amount.max) == (
        2, 4, -1.0, 2_000_000.0,
    )  # fmt: skip
    status = outcome.metrics["status"]
    assert (status.null_count, status.distinct_count, status.min) == (1, 4, None)
    assert evaluate(CLAIMS, [], metrics=False).metrics == {}


# The count comes from hashes and an exact pass over the candidates; the quarantine
# mask from a window. Both must say the same on any key, including the values where
# hashing and equality could part: -0.0 and 0.0, NaN, nulls, empty strings.
_KEY_VALUES = {
    "int": st.one_of(st.none(), st.integers(-3, 3)),
    # Sorted values are compared by their difference, which wraps at the extremes.
    "wide": st.one_of(st.none(), st.sampled_from([-(2**63), -(2**63) + 1, -1, 0, 2**63 - 1])),
    "float": st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1.5, float("nan"), float("inf")])),
    "str": st.one_of(st.none(), st.sampled_from(["", "a", "A", "a ", "é"])),
    "date": st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2024, 1, 4))),
}


@settings(max_examples=150, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(sorted(_KEY_VALUES)), min_size=1, max_size=3),
    data=st.data(),
)
def test_unique_count_equals_the_row_mask(kinds: list[str], data: st.DataObject) -> None:
    rows = data.draw(st.integers(0, 40))
    frame = pl.DataFrame(
        {
            f"k{i}": pl.Series(
                data.draw(st.lists(_KEY_VALUES[kind], min_size=rows, max_size=rows)),
                dtype={
                    "int": pl.Int64,
                    "wide": pl.Int64,
                    "float": pl.Float64,
                    "str": pl.String,
                    "date": pl.Date,
                }[kind],
            )
            for i, kind in enumerate(kinds)
        }
    )
    rule = {"id": "u", "rule": "unique", "columns": list(frame.columns), "quarantine": True}
    outcome = run(frame, rule)
    assert outcome.results[0].failed_rows == int(outcome.quarantine.sum())


def test_unique_compound_count_over_the_full_int64_range() -> None:
    # Spans too wide to pack into one Int64: counted through hashes, still exact.
    low, high = -(2**63), 2**63 - 1
    frame = pl.DataFrame(
        {"a": [low, high, low, 0, None], "b": [1, 1, 1, 2, 1]},
        schema={"a": pl.Int64, "b": pl.Int64},
    )
    rule = {"id": "u", "rule": "unique", "columns": ["a", "b"], "quarantine": True}
    outcome = run(frame, rule)
    assert outcome.results[0].failed_rows == int(outcome.quarantine.sum()) == 2


def test_unique_single_int_column_over_the_full_int64_range() -> None:
    # One integer column is counted on its sorted values: the extremes differ by
    # more than Int64 holds, and the wrapped difference must still not read as equal.
    low, high = -(2**63), 2**63 - 1
    frame = pl.DataFrame({"a": [low, high, high, 0, None, low + 1]}, schema={"a": pl.Int64})
    rule = {"id": "u", "rule": "unique", "columns": ["a"], "quarantine": True}
    outcome = run(frame, rule)
    assert outcome.results[0].failed_rows == int(outcome.quarantine.sum()) == 2


def test_metrics_keep_bounds_python_can_hold_and_null_the_others() -> None:
    # Polars holds dates past year 9999 (a Parquet input can carry them); Python's
    # date cannot, and reading such a bound back used to fail the whole evaluation.
    days = pl.Series([0, 3_000_000, None], dtype=pl.Int32)
    frame = pl.DataFrame(
        {
            "far": days.cast(pl.Date),
            "sentinel": pl.Series([date(2024, 1, 1), date(9999, 12, 31), None]),
            "at": pl.Series([datetime(2024, 1, 1, tzinfo=UTC), None, None]).dt.convert_time_zone(
                "Europe/Berlin"
            ),
        }
    )
    outcome = run(frame, {"id": "n", "rule": "not_null", "column": "far"})
    far = outcome.metrics["far"]
    assert (far.min, far.max, far.null_count, far.distinct_count) == (date(1970, 1, 1), None, 1, 2)
    assert outcome.metrics["sentinel"].max == date(9999, 12, 31)
    assert outcome.metrics["at"].min == datetime(2024, 1, 1, tzinfo=UTC)
    assert outcome.results[0].failed_rows == 1


def test_unique_compound_with_wide_columns_is_counted_not_refused() -> None:
    # Two full-range columns packed first gave the third a multiplier of 2**128, which
    # no Polars integer literal holds: Polars raised instead of the rule counting.
    low, high = -(2**63), 2**63 - 1
    frame = pl.DataFrame(
        {"a": [1, 1, 2, 1], "b": [low, high, low, low], "c": [high, low, high, high]},
        schema={"a": pl.Int64, "b": pl.Int64, "c": pl.Int64},
    )
    rule = {"id": "u", "rule": "unique", "columns": ["a", "b", "c"], "quarantine": True}
    outcome = run(frame, rule)
    assert outcome.results[0].failed_rows == int(outcome.quarantine.sum()) == 2
