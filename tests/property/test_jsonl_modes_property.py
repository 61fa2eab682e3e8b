"""JSON Lines input: the whole-file reader and the chunked one give the same records,
so batch and streaming runs write the same bytes (streaming no longer reads the
file whole: memory is bounded by the chunk)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.execution.streaming as streaming
from pipeline import PipelineConfig, run_pipeline
from pipeline.errors import InputError
from pipeline.io.files import FileSource
from pipeline.io.jsonl_reader import JsonlBatches, read_jsonl_text

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.sampled_from(["1.50", "1e5", "-0", "0.1"]).map(lambda t: json.loads(t)),
    st.text(alphabet='ab "\\\u2028é\r', max_size=4),
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.sampled_from("xy"), _SCALARS, max_size=2),
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["record", "record", "record", "blank", "broken", "array"]))
        if kind == "record":
            keys = draw(
                st.lists(st.sampled_from(["id", "b", "a", "zeta", "é"]), unique=True, max_size=4)
            )
            lines.append(
                json.dumps({k: draw(_VALUES) for k in keys}, ensure_ascii=draw(st.booleans()))
            )
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "  ", "\r"])))
        elif kind == "broken":
            lines.append('{"id": 1')
        else:
            lines.append("[1, 2]")
    end = draw(st.sampled_from(["\n", "\r\n"]))
    body = end.join(lines) + draw(st.sampled_from(["", end]))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + body.encode("utf-8")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=jsonl_files(), chunk=st.integers(1, 7))
def test_chunks_hold_the_records_of_the_whole_file(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk: int
) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "in.jsonl"
    path.write_bytes(data)
    try:
        whole = read_jsonl_text(path, "in.jsonl")
    except InputError:
        with pytest.raises(InputError, match=r"no JSON records|no column to read"):
            JsonlBatches(path, "in.jsonl", batch_rows=chunk)
        return
    batches = JsonlBatches(path, "in.jsonl", batch_rows=chunk)
    chunks = list(batches)
    assert batches.columns == whole.columns
    assert batches.malformed == whole.malformed
    assert (batches.sha256, batches.size) == (whole.sha256, whole.size)
    rows = [row for c in chunks for row in c.rows()]
    assert rows == whole.frame.rows()
    assert all(c.height <= chunk for c in chunks)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=jsonl_files(), chunk=st.integers(1, 7), fmt=st.sampled_from(["csv", "jsonl", "parquet"])
)
def test_batch_and_streaming_write_the_same_bytes(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    data: bytes,
    chunk: int,
    fmt: str,
) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", chunk)
    tmp = tmp_path_factory.mktemp("jsonl_modes")
    source = tmp / "in.jsonl"
    source.write_bytes(data)
    results: dict[str, Any] = {}
    for mode in ("batch", "streaming"):
        results[mode] = run_pipeline(
            PipelineConfig(
                input_path=source,
                output_path=tmp / mode / f"out.{fmt}",
                audit_path=tmp / mode / "audit.jsonl",
                mode=mode,
            )
        )
    batch, stream = results["batch"], results["streaming"]
    assert batch.success == stream.success
    if not batch.success:
        assert [e["code"] for e in batch.errors] == [e["code"] for e in stream.errors]
        return
    assert batch.conserved and stream.conserved
    assert (batch.output_hash, batch.quarantine_hash) == (
        stream.output_hash,
        stream.quarantine_hash,
    )
    assert batch.input_hash == stream.input_hash


def test_chunked_read_needs_no_more_than_a_chunk(tmp_path: Path) -> None:
    # Streaming used to read JSON Lines whole and then slice it.
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": i, "v": f"x{i}"}) + "\n" for i in range(1000)))
    read = FileSource(path).read_batches(batch_rows=100)
    heights = [text.height for text, _typed in read]
    assert heights == [100] * 10
    assert read.records == 1000


@pytest.mark.parametrize(
    "derive",
    [
        {"b": "CASE WHEN b = 'x' THEN 1 END"},  # the only column, recomputed
        {"b": "CASE WHEN b = 'x' THEN 1 END", "c": "CASE WHEN b IS NULL THEN 'n' END"},
    ],
)
def test_streaming_keeps_row_order_when_every_output_column_is_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, derive: dict[str, str]
) -> None:
    """Polars 2.1 returned a scan's morsels out of order when every column left in
    them came from literal CASE branches and one morsel was all null: this
    streaming run differed from batch mode in 5 of 6 runs."""
    from pipeline.spec import PipelineSpec

    monkeypatch.setattr(streaming, "BATCH_ROWS", 1_000)  # spill row groups of 1,000 rows
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps({"b": None if (i // 1_000) % 2 == 0 else "x"}) + "\n" for i in range(8_000)
        )
    )

    def run(mode: str, turn: int) -> bytes:
        out = tmp_path / f"{mode}{turn}" / "out.csv"
        spec = PipelineSpec.model_validate(
            {
                "version": 1,
                "name": "order",
                "mode": mode,
                "source": {"uri": str(source)},
                "steps": [{"kind": "derive", "derive": derive}],
                "sink": {"uri": str(out)},
                "audit": {"path": str(out.parent / "audit.jsonl")},
            }
        )
        result = run_pipeline(spec)
        assert result.success, result.errors
        return out.read_bytes()

    expected = run("batch", 0)
    for turn in range(6):
        assert run("streaming", turn) == expected
