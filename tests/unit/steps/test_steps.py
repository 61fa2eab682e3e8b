"""Each step does what its spec says, keeps row identity and counts what it removes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipeline.context import RunContext
from pipeline.errors import PipelineError, SpecError
from pipeline.execution.common import run_steps
from pipeline.io import ROW_NUMBER
from pipeline.spec import PipelineSpec
from pipeline.steps import ColumnLineage, compile_steps

CTX = RunContext(pipeline_id="t", as_of=datetime(2024, 6, 1, tzinfo=UTC))


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            ROW_NUMBER: [1, 2, 3, 4, 5],
            "id": [3, 1, 2, 1, 5],
            "status": ["PAID", "VOID", "PAID", "PAID", None],
            "amount": [Decimal("1.50"), Decimal("2.00"), Decimal("0.25"), Decimal("9.99"), None],
            "name": ["a", "b", None, "d", "e"],
        },
        schema_overrides={"amount": pl.Decimal(12, 2)},
    )


def steps_of(*items: dict) -> list:
    spec = PipelineSpec.model_validate(
        {
            "version": 1,
            "name": "t",
            "source": {"uri": "x.csv"},
            "sink": {"uri": "y.csv"},
            "audit": {"path": "a.jsonl"},
            "steps": [dict(i, kind=next(k for k in i if k != "name")) for i in items],
        }
    )
    return compile_steps(list(spec.steps))


def apply(*items: dict) -> tuple[pl.DataFrame, dict[str, int]]:
    return run_steps(frame(), steps_of(*items), CTX)


def test_filter_counts_removed_rows_and_drops_null_verdicts() -> None:
    out, filtered = apply({"filter": "status = 'PAID'"})
    assert out[ROW_NUMBER].to_list() == [1, 3, 4]
    assert filtered == {"filter_1": 2}


def test_derive_in_order_so_later_columns_read_earlier_ones() -> None:
    out, filtered = apply(
        {"derive": {"cents": "CAST(amount * 100 AS BIGINT)", "double": "cents * 2"}}
    )
    assert out["cents"].to_list() == [150, 200, 25, 999, None]
    assert out["double"].to_list() == [300, 400, 50, 1998, None]
    assert filtered == {}


def test_rename_select_keep_row_numbers() -> None:
    out, _ = apply({"rename": {"id": "claim_id"}}, {"select": ["name", "claim_id"]})
    assert out.columns == [ROW_NUMBER, "name", "claim_id"]


def test_cast_converts_and_fails_loudly_on_bad_values() -> None:
    out, _ = apply({"cast": {"id": "Float64", "amount": "Decimal(10,1)"}})
    assert out.schema["id"] == pl.Float64 and out.schema["amount"] == pl.Decimal(10, 1)
    with pytest.raises(PipelineError, match="step 'cast_1'"):
        apply({"cast": {"name": "Int64"}})


def test_fill_null() -> None:
    out, _ = apply({"fill_null": {"name": "unknown", "status": "NONE"}})
    assert out["name"].to_list() == ["a", "b", "unknown", "d", "e"]
    assert out["status"].null_count() == 0


def test_fill_null_keeps_each_column_type() -> None:
    out, _ = apply({"fill_null": {"amount": 0, "status": "NONE"}})
    assert out.schema["amount"] == pl.Decimal(12, 2)
    assert out["amount"].to_list()[-1] == Decimal("0.00")


@pytest.mark.parametrize(
    ("fill", "column"),
    [({"id": 1.5}, "id"), ({"status": 0}, "status"), ({"amount": "x"}, "amount"),
     ({"id": True}, "id"), ({"id": 2**40 * 2**30}, "id")],
)  # fmt: skip
def test_fill_null_of_another_type_is_refused(fill: dict, column: str) -> None:
    """Found by review: Polars' common type let a fill change the column's type (a
    Boolean filled with 0 became integers, true turning into 1)."""
    with pytest.raises(SpecError, match="which is not of that type") as caught:
        apply({"fill_null": fill})
    assert caught.value.column == column and caught.value.step == "fill_null_1"


@pytest.mark.parametrize(("keep", "rows"), [("first", [1, 2, 3, 5]), ("last", [1, 3, 4, 5])])
def test_dedupe_is_deterministic_and_counted(keep: str, rows: list[int]) -> None:
    out, filtered = apply({"dedupe": {"keys": ["id"], "keep": keep}})
    assert out[ROW_NUMBER].to_list() == rows
    assert filtered == {"dedupe_1": 1}


def test_sort_is_stable() -> None:
    out, _ = apply({"sort": {"by": ["id"]}})
    assert out[ROW_NUMBER].to_list() == [2, 4, 3, 1, 5]
    out, _ = apply({"sort": {"by": ["id"], "descending": True}})
    assert out[ROW_NUMBER].to_list() == [5, 1, 3, 2, 4]


def test_named_steps_are_counted_under_their_name() -> None:
    _, filtered = apply({"filter": "id > 1", "name": "drop_low_ids"})
    assert filtered == {"drop_low_ids": 2}


def test_python_step_is_fingerprinted_and_gets_the_context(tmp_path: Path, monkeypatch) -> None:
    module = tmp_path / "my_steps.py"
    module.write_text(
        "import polars as pl\n"
        "def tag(lf, ctx):\n"
        "    out = lf.with_columns(pl.lit(ctx.as_of.year).alias('year'))\n"
        "    return out.filter(pl.col('id') < 5)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    steps = steps_of({"python": "my_steps:tag"})
    import hashlib

    assert steps[0].fingerprint == hashlib.sha256(module.read_bytes()).hexdigest()
    out, filtered = run_steps(frame(), steps, CTX)
    assert set(out["year"].to_list()) == {2024}
    assert filtered == {"python_1": 1}


def test_a_step_that_adds_rows_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "grow.py").write_text(
        "import polars as pl\ndef twice(lf):\n    return pl.concat([lf, lf])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SpecError, match="never add them"):
        run_steps(frame(), steps_of({"python": "grow:twice"}), CTX)


def test_python_step_must_return_a_lazyframe(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "bad.py").write_text("def eager(lf):\n    return lf.collect()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SpecError, match="not a LazyFrame"):
        run_steps(frame(), steps_of({"python": "bad:eager"}), CTX)


def test_column_lineage_through_steps() -> None:
    steps = steps_of(
        {"filter": "status = 'PAID'"},
        {"derive": {"cents": "CAST(amount * 100 AS BIGINT)"}},
        {"rename": {"id": "claim_id"}},
        {"select": ["claim_id", "cents"]},
    )
    lineage = ColumnLineage.identity(["id", "status", "amount", "name"])
    for step in steps:
        lineage = step.lineage(lineage)
    columns = lineage.columns(["claim_id", "cents"])
    assert [(d.source, d.subtype) for d in columns["claim_id"]] == [("id", "IDENTITY")]
    assert [(d.source, d.subtype) for d in columns["cents"]] == [("amount", "TRANSFORMATION")]
    assert [(d.source, d.subtype) for d in lineage.indirect] == [("status", "FILTER")]


def test_dates_survive_steps() -> None:
    df = pl.DataFrame({ROW_NUMBER: [1, 2], "d": [date(2024, 1, 2), date(2023, 5, 1)]})
    out, _ = run_steps(df, steps_of({"sort": ["d"]}), CTX)
    assert out["d"].to_list() == [date(2023, 5, 1), date(2024, 1, 2)]
