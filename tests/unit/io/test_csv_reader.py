"""The CSV reader neither loses nor invents a record, and names what it cannot read."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError, MalformedInputError
from pipeline.io import ROW_NUMBER, open_source


def read(tmp_path: Path, data: bytes, name: str = "in.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return open_source(str(path)).read()


def test_reads_every_column_as_text_with_row_numbers(tmp_path: Path) -> None:
    result = read(tmp_path, b"id,zip,amount\n1,007,1.50\n2,,3\n")
    assert result.frame.columns == [ROW_NUMBER, "id", "zip", "amount"]
    assert result.frame.rows() == [(1, "1", "007", "1.50"), (2, "2", None, "3")]
    assert all(result.frame.schema[c] == pl.String for c in ("id", "zip", "amount"))
    assert result.malformed == []
    assert result.records == 2


@pytest.mark.parametrize(
    ("data", "bad_row", "bad_line", "message"),
    [
        (b"a,b\n1,2\n3\n5,6\n", 2, 3, "line 3: 1 field, the header has 2"),
        (b"a,b\n1,2\n3,4,5\n5,6\n", 2, 3, "line 3: 3 fields, the header has 2"),
        (b"a,b\n1,2\n\n5,6\n", 2, 3, "line 3: a blank line"),
        (b'a,b\n1,"x,y"\n4\n', 2, 3, "line 3: 1 field, the header has 2"),
        (b'a,b\n1,"x\ny"\n4\n5,6\n', 2, 4, "line 4: 1 field, the header has 2"),
    ],
)
def test_ragged_records_are_set_apart_not_dropped(
    tmp_path: Path, data: bytes, bad_row: int, bad_line: int, message: str
) -> None:
    result = read(tmp_path, data)
    assert [(m.row_number, m.line, m.message) for m in result.malformed] == [
        (bad_row, bad_line, message)
    ]
    assert result.records == data.count(b"\n") - 1 - data.count(b'"x\ny"')
    assert bad_row not in result.frame[ROW_NUMBER].to_list()


def test_quoted_separators_and_newlines_survive(tmp_path: Path) -> None:
    result = read(tmp_path, b'a,b\n1,"x,y"\n"",4\n2,"multi\nline"\n')
    assert result.frame.drop(ROW_NUMBER).rows() == [("1", "x,y"), (None, "4"), ("2", "multi\nline")]
    assert result.malformed == []


def test_unterminated_quote_stops_naming_the_line(tmp_path: Path) -> None:
    with pytest.raises(MalformedInputError) as caught:
        read(tmp_path, b'a,b\n1,2\n3,"4\n5,6\n')
    assert caught.value.line == 3
    assert "in.csv:3" in str(caught.value)
    assert "unterminated quote" in str(caught.value)


def test_non_utf8_bytes_stop_naming_line_and_position(tmp_path: Path) -> None:
    with pytest.raises(MalformedInputError) as caught:
        read(tmp_path, b"a,b\n1,2\n3,caf\xe9\n")
    assert caught.value.line == 3
    assert "line 3, character 6" in str(caught.value)
    assert "UTF-8" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf", "the file is empty"),
        (b"\na,b\n", "the first line is blank"),
        (b"a,a\n1,2\n", "appears twice"),
        (b"a,,c\n1,2,3\n", "column 2 of the header has no name"),
        (b"a,_errors\n1,2\n", "reserved"),
    ],
)
def test_unusable_headers_are_input_errors(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read(tmp_path, data)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist") as caught:
        open_source(str(tmp_path / "nope.csv")).read()
    assert caught.value.dataset == str(tmp_path / "nope.csv")


def test_header_only_file_has_no_records(tmp_path: Path) -> None:
    result = read(tmp_path, b"a,b\n")
    assert result.records == 0
    assert result.columns == ["a", "b"]


def test_bom_and_crlf_are_handled(tmp_path: Path) -> None:
    result = read(tmp_path, b"\xef\xbb\xbfa,b\r\n1,2\r\n3,4\r\n")
    assert result.columns == ["a", "b"]
    assert result.frame.drop(ROW_NUMBER).rows() == [("1", "2"), ("3", "4")]


_cell = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\x00"), max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(_cell, min_size=1, max_size=4), min_size=1, max_size=12),
    width=st.integers(min_value=1, max_value=4),
)
def test_fast_and_exact_paths_agree_with_the_csv_module(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], width: int
) -> None:
    """Whatever the shape, every record is either read as written or set apart."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = [f"c{i}" for i in range(width)]
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("csv") / "in.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    result = open_source(str(path)).read()
    expected_good = [
        (i, *[v if v != "" else None for v in row])
        for i, row in enumerate(rows, start=1)
        if len(row) == width and not (width == 1 and row == [""])
    ]
    expected_bad = [
        i
        for i, row in enumerate(rows, start=1)
        if len(row) != width and not (width == 1 and row == [""])
    ]
    good = [r for r in result.frame.rows() if not (width == 1 and r[1] is None)]
    assert good == expected_good
    assert [m.row_number for m in result.malformed] == expected_bad
    assert result.records == len(rows)


_plain_cell = st.text(
    alphabet=st.one_of(
        st.sampled_from(["\r", " ", "a", "é"]),  # a lone CR must send the file to the exact path
        st.characters(codec="utf-8", exclude_characters='\n\x00",'),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.lists(_plain_cell, min_size=1, max_size=4), min_size=0, max_size=15),
    width=st.integers(min_value=1, max_value=4),
    block=st.integers(min_value=1, max_value=40),
    crlf=st.booleans(),
    bom=st.booleans(),
    final_newline=st.booleans(),
)
def test_blocks_of_a_quote_free_file_read_as_the_whole_file(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[list[str]],
    width: int,
    block: int,
    crlf: bool,
    bom: bool,
    final_newline: bool,
) -> None:
    """Chunks cut at newlines, however small, give the records one read gives,
    numbered alike; a shape the arithmetic rejects is rejected alike."""
    from pipeline.io.csv_reader import CsvBatches, read_csv_text, scan_csv_bytes

    end = "\r\n" if crlf else "\n"
    lines = [",".join(f"c{i}" for i in range(width)), *(",".join(r) for r in rows)]
    text = end.join(lines) + (end if final_newline else "")
    path = tmp_path_factory.mktemp("csv") / "in.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))

    batches = CsvBatches(path, block_bytes=block)
    chunks = list(batches)
    # The block reader hashed and counted the bytes it read: the same scan as a pass of its own.
    assert batches.scan == scan_csv_bytes(path, ",")
    assert batches.scan.quotes == 0
    whole = read_csv_text(path)
    if batches.shape_ok:
        got = pl.concat(chunks) if chunks else None
        assert whole.malformed == []
        assert (got.rows() if got is not None else []) == whole.frame.rows()
        assert batches.records == whole.frame.height
    else:  # a ragged record: the exact path reads it, as the whole-file read does
        exact = pl.concat(list(CsvBatches(path, exact=True)) or [whole.frame.head(0)])
        assert exact.rows() == whole.frame.rows()


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\n1,2\n3\n4,5,",  # quote-free
        b'a,b\n"1",2\n3\n4,5,',  # with quotes: the last line is parsed on its own
        b'a,b\n1,"x\ny"\n3\n4,5,',  # a quoted newline earlier in the file
    ],
)
def test_a_short_record_cannot_hide_behind_a_trailing_empty_field(
    tmp_path: Path, data: bytes
) -> None:
    """Polars accepts `4,5,` as a last line without a newline; its surplus separator
    would balance the short record's missing one in the arithmetic."""
    from pipeline.io.csv_reader import CsvBatches

    result = read(tmp_path, data)
    assert [m.row_number for m in result.malformed] == [2, 3]
    assert result.frame.get_column(ROW_NUMBER).to_list() == [1]
    batches = CsvBatches(tmp_path / "in.csv")
    list(batches)
    assert not batches.shape_ok


def test_a_last_line_without_newline_of_the_right_width_stays_fast(tmp_path: Path) -> None:
    from pipeline.io.csv_reader import CsvBatches

    path = tmp_path / "in.csv"
    path.write_bytes(b'a,b\n1,"x,y"\n4,5')
    batches = CsvBatches(path)
    assert [c.drop(ROW_NUMBER).rows() for c in batches] == [[("1", "x,y"), ("4", "5")]]
    assert batches.shape_ok


@pytest.mark.parametrize(
    ("data", "good", "bad"),
    [
        # A lone CR ends a line for Python's csv (the header reader) but not for Polars.
        (b"a,b\r1,2\n3,4\n5\n", [("1", "2"), ("3", "4")], [3]),
        (b"a\r1\n2\n", [("1",), ("2",)], []),
        (b"id\r10\r20\r30\r", [("10",), ("20",), ("30",)], []),
    ],
)
def test_lone_carriage_returns_go_to_the_exact_reader(
    tmp_path: Path, data: bytes, good: list[tuple[str, ...]], bad: list[int]
) -> None:
    from pipeline.io.csv_reader import CsvBatches

    result = read(tmp_path, data)
    assert result.frame.drop(ROW_NUMBER).rows() == good
    assert [m.row_number for m in result.malformed] == bad
    batches = CsvBatches(tmp_path / "in.csv")
    list(batches)
    assert not batches.shape_ok
    exact = CsvBatches(tmp_path / "in.csv", exact=True)
    assert pl.concat(list(exact)).drop(ROW_NUMBER).rows() == good


def test_crlf_split_across_hash_blocks_is_not_a_lone_cr(tmp_path: Path) -> None:
    from pipeline.io.csv_reader import scan_csv_bytes

    path = tmp_path / "in.csv"
    # The CR is the last byte of the first 1 MiB block the hash reads; its LF starts the next.
    pad = (1 << 20) - 1 - len(b"a\r\n")
    path.write_bytes(b"a\r\n" + b"y" * pad + b"\r\n" + b"z\r\n")
    assert scan_csv_bytes(path, ",").lone_crs == 0
    path.write_bytes(b"a\r\n" + b"y" * pad + b"\r" + b"z\r\n")
    assert scan_csv_bytes(path, ",").lone_crs == 1


def test_an_abandoned_block_read_leaves_the_scan_to_its_own_pass(tmp_path: Path) -> None:
    import hashlib

    from pipeline.io.csv_reader import CsvBatches

    path = tmp_path / "in.csv"
    data = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(20_000))
    path.write_bytes(data)
    batches = CsvBatches(path, block_bytes=1024)
    first = next(iter(batches))
    assert first.height > 0
    # Only part of the file was read: the digest must still be the whole file's.
    assert batches.scan.sha256 == hashlib.sha256(data).hexdigest()
    assert batches.scan.size == len(data)
    assert batches.scan.separators == 20_001


@pytest.mark.parametrize(
    "data",
    [b"a,b\n1,2\n3,4\n", b'a,b\n"1",2\n3,4\n', b"a,b\r1,2\n"],
    ids=["blocks", "quoted", "lone-cr"],
)
def test_progress_counts_every_byte_once_per_pass(tmp_path: Path, data: bytes) -> None:
    # The block reader reports the bytes it reads (it hashes them itself); the other
    # readers report their scan pass. Either way one pass reports the file's size.
    from pipeline.io.csv_reader import CsvBatches

    path = tmp_path / "in.csv"
    path.write_bytes(data * 1000 if data.endswith(b"\n") and b"\r" not in data else data)
    seen: list[int] = []
    batches = CsvBatches(path, block_bytes=64, on_bytes=seen.append)
    list(batches)
    assert sum(seen) == path.stat().st_size
    assert batches.scan.size == path.stat().st_size


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=300),
    needle=st.sampled_from([b",", b'"', b"\n", b"\t", b"\x00", b"\xff", "§".encode()]),
    start=st.integers(0, 10),
)
def test_count_byte_agrees_with_bytes_count(data: bytes, needle: bytes, start: int) -> None:
    from pipeline.io.csv_reader import NUMPY_AFTER, count_byte

    for before in (0, NUMPY_AFTER):  # bytes.count early in a file, NumPy later
        assert count_byte(data, needle, before=before) == data.count(needle)
        view = memoryview(data)[start:]
        assert count_byte(view, needle, before=before) == data[start:].count(needle)
        strided = memoryview(data)[start::3]  # not contiguous: NumPy cannot view it
        assert count_byte(strided, needle, before=before) == data[start::3].count(needle)


def test_the_scan_counts_the_same_across_the_numpy_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The switch happens mid-file (here after 1,000 bytes, in a 3 MiB file): every
    # block before it through bytes.count, after it through NumPy.
    from pipeline.io import csv_reader

    monkeypatch.setattr(csv_reader, "NUMPY_AFTER", 1_000)
    path = tmp_path / "in.csv"
    body = "".join(f'{i},"a,{i}",x\n' for i in range(200_000))
    path.write_text("id,text,x\n" + body)
    data = path.read_bytes()
    scan = csv_reader.scan_csv_bytes(path, ",")
    assert (scan.separators, scan.quotes) == (data.count(b","), data.count(b'"'))
    # A quote-free file goes through the block reader, which counts as it reads.
    plain = tmp_path / "plain.csv"
    plain.write_text("id,x\n" + "".join(f"{i},x\n" for i in range(200_000)))
    batches = csv_reader.CsvBatches(plain, separator=",", batch_rows=50_000, exact=False)
    assert sum(chunk.height for chunk in batches) == 200_000
    assert batches.scan.separators == plain.read_bytes().count(b",") == 200_001
