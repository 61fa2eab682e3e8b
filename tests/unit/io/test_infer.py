"""Without a schema, inference types a column only when no value would change."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.infer import infer_types


def test_types_only_lossless_columns() -> None:
    frame = pl.DataFrame(
        {
            "int": ["1", "-20", None],
            "zip": ["007", "12345", "1"],
            "float": ["1.5", "2.25", "-0.5"],
            "money": ["1.50", "2.00", "3.10"],
            "flag": ["true", "false", None],
            "day": ["2024-01-05", "2023-12-31", None],
            "loose_day": ["2024-1-5", "2024-01-05", None],
            "empty": pl.Series([None, None, None], dtype=pl.String),
        }
    )
    typed = infer_types(frame, frame.columns)
    assert typed.schema == pl.Schema(
        {
            "int": pl.Int64,
            "zip": pl.String,
            "float": pl.Float64,
            "money": pl.String,
            "flag": pl.Boolean,
            "day": pl.Date,
            "loose_day": pl.String,
            "empty": pl.String,
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=8),
            st.integers().map(str),
            st.floats(allow_nan=False).map(str),
            st.sampled_from(["true", "false"]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_csv_of_typed_frame_reproduces_text(values: list[str | None]) -> None:
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    typed = infer_types(frame, ["v"])
    assert typed.write_csv() == frame.write_csv()


_DATE_LIKE = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.text(alphabet="0123456789- +T:", max_size=12),
    st.sampled_from(
        ["2024-1-5", "2024- 1-05", "+2024-1-05", " 2024-1-05", "2024-02-30", "0999-01-01", ""]
    ),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.none(), _DATE_LIKE), min_size=1, max_size=30))
def test_date_proof_on_distinct_values_equals_row_by_row(values: list[str | None]) -> None:
    """Dates are proven on distinct texts; the verdict must be the row-by-row round trip's."""
    from pipeline.infer import TypeInferrer

    frame = pl.DataFrame({"d": values}, schema={"d": pl.String})
    col = pl.col("d")
    parsed = col.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    for blank_is_null in (False, True):
        missing = (col.is_null() | (col == "")) if blank_is_null else col.is_null()
        row_by_row = frame.select(
            (missing | (parsed.dt.strftime("%Y-%m-%d") == col).fill_null(value=False)).all()
        ).item()
        for eager in (False, True):  # the streaming form and the in-memory form
            inferrer = TypeInferrer(["d"])
            exprs = inferrer.aggregates(["d"], blank_is_null=blank_is_null, eager=eager)
            inferrer.absorb(frame.select(exprs).row(0, named=True))
            assert inferrer._fits["d"]["date"] is row_by_row


def test_streaming_aggregates_never_implode() -> None:
    """The streaming engine cannot stream ``implode``: a streaming proof pass over a
    5 GiB CSV held 4.5 GiB with it. Only the in-memory form may use it."""
    from pipeline.infer import TypeInferrer

    frame = pl.DataFrame({"d": ["2024-01-01"] * 3, "n": ["1", "2", "1"]})
    inferrer = TypeInferrer(["d", "n"])
    inferrer.prune(frame)  # "n" has few distinct texts: its proof runs on them too
    streaming = inferrer.aggregates(["d", "n"])
    eager = inferrer.aggregates(["d", "n"], eager=True)
    assert not any("implode" in str(e) for e in streaming)
    assert any("implode" in str(e) for e in eager)
    assert frame.lazy().select(streaming).collect(engine="streaming").row(0) == (
        frame.select(eager).row(0)
    )


@pytest.mark.parametrize(
    ("odd", "expected"),
    [(None, pl.Int64), ("007", pl.String), ("+2", pl.String), ("-0", pl.String), ("x", pl.String)],
)
def test_low_cardinality_columns_are_proven_on_distinct_texts(
    odd: str | None, expected: pl.DataType
) -> None:
    """A few distinct texts in the sample: the proof runs on distinct values; one odd
    value the sample missed must still keep the column text."""
    values = ["1", "2", "3", None] * 2_500
    if odd is not None:
        values[4_999] = odd  # not among the rows the 2,000-row sample takes
    frame = pl.DataFrame({"units": values}, schema={"units": pl.String})
    assert infer_types(frame, ["units"]).schema["units"] == expected


@pytest.mark.parametrize("fmt", ["parquet", "ipc"])
def test_conversions_keep_row_order_over_a_multi_chunk_scan(tmp_path, fmt: str) -> None:
    """The streaming spill is scanned in row groups; a column null in a whole group once
    came back out of order (Polars 2.1 reorders a select of only literal when/then
    branches over such a scan). Every conversion must give rows in input order."""
    from pipeline.infer import TypeInferrer

    block = 1_000
    texts = {
        "flag": ["true", "false"],
        "n": ["1", "22"],
        "day": ["2024-01-31", "2024-02-29"],
        "x": ["1.5", "-0.25"],
    }
    frame = pl.DataFrame(
        {
            name: [None if (i // block) % 2 == 0 else pair[i % 2] for i in range(8 * block)]
            for name, pair in texts.items()
        },
        schema=dict.fromkeys(texts, pl.String),
    )
    path = tmp_path / f"spill.{fmt}"
    if fmt == "parquet":
        frame.write_parquet(path, row_group_size=block)
        scan = pl.scan_parquet(path)
    else:
        import pyarrow.ipc as ipc

        table = frame.to_arrow()
        with ipc.new_file(path, table.schema) as writer:
            for start in range(0, frame.height, block):
                writer.write_table(table.slice(start, block))
        scan = pl.scan_ipc(path)
    inferrer = TypeInferrer(list(texts))
    inferrer.update(frame)
    assert inferrer.kinds() == {"flag": "bool", "n": "int", "day": "date", "x": "float"}
    expected = frame.select(inferrer.exprs())
    for expr in inferrer.exprs():  # each alone: a select of one column is the failing shape
        for engine in ("in-memory", "streaming"):
            for _ in range(5):  # the reordering came and went between runs
                got = scan.select(expr).collect(engine=engine)  # type: ignore[call-overload]
                assert got.to_series().to_list() == expected.get_column(got.columns[0]).to_list()


_MIXED = st.one_of(
    st.none(),
    st.just(""),
    _DATE_LIKE,
    st.integers(-20, 20).map(str),
    st.sampled_from(["007", "-0", "1.50", "2.5", "true", "false", "x"]),
)


@settings(max_examples=300, deadline=None)
@given(
    columns=st.lists(st.lists(_MIXED, min_size=1, max_size=40), min_size=1, max_size=3),
    head=st.integers(0, 40),
)
def test_a_head_then_its_unseen_texts_prove_what_the_whole_frame_proves(
    columns: list[list[str | None]], head: int
) -> None:
    """The one-pass streaming proof: prune on the first rows, then prove row by row
    only the columns with many texts, and the others on the texts the head did not
    hold. Its verdict must be the whole frame's, whatever the head saw."""
    from pipeline.infer import TypeInferrer

    height = min(len(c) for c in columns)
    names = [f"c{i}" for i in range(len(columns))]
    frame = pl.DataFrame(
        {n: c[:height] for n, c in zip(names, columns, strict=True)},
        schema={n: pl.String for n in names},
    )
    whole = TypeInferrer(names)
    whole.update(frame.with_columns(pl.col(names).replace("", None)))  # "" is null, as read
    split = TypeInferrer(names)
    split.prune(frame.head(head), blank_is_null=True)
    novel = split.novel(names, blank_is_null=True)
    lazy = frame.lazy()
    aggregates = split.aggregates(names, blank_is_null=True, apart=novel)
    if aggregates:  # none when the head refuted every candidate
        split.absorb(lazy.select(aggregates).collect(engine="streaming").row(0, named=True))
    for column, expr in novel.items():
        split.absorb_novel(column, lazy.select(expr).collect(engine="streaming").to_series())
    assert split.kinds() == whole.kinds()
