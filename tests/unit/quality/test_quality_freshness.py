"""`freshness` across time zones, and the one-pass promise (the data is scanned once)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from polars.io.plugins import register_io_source

from pipeline.errors import ConfigError
from pipeline.quality import RuleResult, evaluate, evaluate_lazy, parse_rules

AS_OF = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def fresh(frame: pl.DataFrame, as_of: datetime | None = AS_OF, **rule: Any) -> RuleResult:
    spec = {"id": "f", "rule": "freshness", "column": "t", "max_age": "PT6H", **rule}
    return evaluate(frame, parse_rules([spec]), as_of=as_of).results[0]


def test_aware_column_in_another_zone_is_compared_as_instants() -> None:
    # 13:00 in Tokyo is 04:00Z: 8 hours before as_of, older than 6 h.
    tokyo = datetime(2024, 3, 1, 13, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    column = pl.Series([tokyo.astimezone(UTC)]).dt.convert_time_zone("Asia/Tokyo")
    assert not fresh(pl.DataFrame({"t": column})).passed
    # 19:00 in Tokyo is 10:00Z: 2 hours old.
    later = pl.Series([datetime(2024, 3, 1, 10, 0, tzinfo=UTC)]).dt.convert_time_zone("Asia/Tokyo")
    assert fresh(pl.DataFrame({"t": later})).passed


def test_as_of_in_any_zone_is_the_same_instant() -> None:
    frame = pl.DataFrame({"t": [datetime(2024, 3, 1, 7, 0, tzinfo=UTC)]})
    new_york = AS_OF.astimezone(ZoneInfo("America/New_York"))  # 07:00 local, same instant
    assert fresh(frame, as_of=new_york).passed
    assert fresh(frame, as_of=AS_OF + timedelta(hours=1)).passed  # exactly max_age old: fresh
    assert not fresh(frame, as_of=AS_OF + timedelta(hours=1, microseconds=1)).passed


def test_naive_timestamps_are_read_in_the_rule_timezone() -> None:
    frame = pl.DataFrame({"t": [datetime(2024, 3, 1, 8, 0)]})
    assert fresh(frame).passed  # UTC: 4 h old
    assert fresh(frame, timezone="America/Los_Angeles").passed  # 16:00Z: in the future, fresh
    assert not fresh(frame, timezone="Asia/Kolkata").passed  # 02:30Z: 9.5 h old


def test_date_column_is_midnight_at_the_start_of_the_day() -> None:
    frame = pl.DataFrame({"t": [date(2024, 2, 29), date(2024, 3, 1), None]})
    assert fresh(frame, max_age="PT12H").passed  # 2024-03-01T00:00Z, 12 h old: on the bound
    assert not fresh(frame, max_age="PT11H").passed
    # Midnight in Berlin is 23:00Z the day before: 13 h old.
    assert not fresh(frame, max_age="PT12H", timezone="Europe/Berlin").passed
    assert fresh(frame, max_age="PT13H", timezone="Europe/Berlin").passed


def test_iso_text_with_offsets_and_without() -> None:
    frame = pl.DataFrame({"t": ["2024-03-01T12:30:00+05:00", "2024-03-01 01:00:00", "junk", None]})
    result = fresh(frame)  # 07:30Z is the newest: 4.5 h old
    assert result.passed
    assert result.details == {"timestamps": 2, "unparsed": 1}
    assert not fresh(frame, max_age="PT4H").passed


def test_future_timestamps_count_as_fresh_and_no_timestamp_fails() -> None:
    assert fresh(pl.DataFrame({"t": [datetime(2030, 1, 1, tzinfo=UTC)]})).passed
    nothing = fresh(pl.DataFrame({"t": pl.Series([None], dtype=pl.Datetime("us", "UTC"))}))
    assert not nothing.passed and nothing.details == {"timestamps": 0}
    empty = fresh(pl.DataFrame({"t": pl.Series([], dtype=pl.Date)}))
    assert not empty.passed


def test_freshness_needs_an_aware_as_of_and_a_time_column() -> None:
    frame = pl.DataFrame({"t": [datetime(2024, 3, 1, tzinfo=UTC)], "n": [1]})
    with pytest.raises(ConfigError, match="needs the run's as_of"):
        fresh(frame, as_of=None)
    with pytest.raises(ConfigError, match="not a date or timestamp"):
        fresh(frame, column="n")


def _counting_source(frame: pl.DataFrame, reads: list[int]) -> pl.LazyFrame:
    """A lazy source that records every scan of the data, like a file would be re-read."""

    def scan(
        with_columns: list[str] | None, predicate: Any, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        reads.append(1)
        yield frame if with_columns is None else frame.select(with_columns)

    return register_io_source(io_source=scan, schema=frame.schema)


def test_all_rules_and_metrics_in_one_scan() -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 2, 4],
            "amount": [1.0, 2.0, None, 4.0],
            "t": [datetime(2024, 3, 1, tzinfo=UTC)] * 4,
        }
    )
    rules = parse_rules(
        [
            {"id": "a", "rule": "not_null", "column": "amount"},
            {"id": "b", "rule": "unique", "column": "id", "quarantine": True},
            {"id": "c", "rule": "range", "column": "amount", "min": 0},
            {"id": "d", "rule": "row_count", "min": 1},
            {"id": "e", "rule": "freshness", "column": "t", "max_age": "P1D"},
            {"id": "f", "rule": "aggregate", "expression": "avg(amount)", "max": 10},
            {"id": "g", "rule": "expression", "expression": "amount < 100"},
            {"id": "h", "rule": "schema", "columns": ["id"]},
        ]
    )
    reads: list[int] = []
    outcome = evaluate_lazy(_counting_source(frame, reads), rules, as_of=AS_OF)
    assert len(reads) == 1
    # The second rule quarantines its failing rows, so it passes (see rules.py).
    assert [r.passed for r in outcome.results] == [False, True, True, True, True, True, True, True]
    assert outcome.metrics["amount"].null_count == 1
