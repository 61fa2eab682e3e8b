"""Reading JSON Lines as all-text columns, whole or in chunks, with the same records.

Each non-blank line is one record; a line that is not a JSON object is a
malformed record (quarantined with its line number), never a lost one. Values
keep their exact text: numbers as written (``1.50`` stays ``1.50``), ``true`` /
``false``, nested objects and arrays as compact JSON with their numbers as
written; JSON's null stays null and ``""`` stays the empty string (JSON tells
them apart, unlike CSV). Columns come in the order their keys first appear.

The whole-file reader and the chunked one walk the file with the same line
iterator and parse each line with the same function, so batch and streaming
runs see identical records. The chunked reader needs the columns before its
first chunk (every chunk has them all), so it walks the file twice: once to
learn the keys, hash the bytes and set malformed lines apart, once to yield
chunks; memory is bounded by the chunk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import InputError, MalformedInputError
from pipeline.hashing import BLOCK_SIZE
from pipeline.io.base import ROW_NUMBER, MalformedRow, check_column_names, input_changed

__all__ = ["JsonlBatches", "JsonlText", "read_jsonl_text"]

#: The whitespace JSON allows around a value (RFC 8259).
_JSON_SPACE = " \t\n\r"

_BOM = b"\xef\xbb\xbf"


class _JsonNumber(str):
    """A JSON number (or NaN/Infinity) kept as the exact text it was written with."""

    __slots__ = ()


class _DuplicateKeyError(Exception):
    """An object names a key twice: ``json.loads`` keeps the last value, losing one."""


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


# A \uD800-\uDFFF escape outside a valid pair decodes to a lone surrogate, which no
# UTF-8 output can hold (it ended the run as an "unexpected UnicodeEncodeError").
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _parse_record(line: str) -> dict[str, str | None] | str:
    """Parse one JSON object keeping each value's exact text; return an error string if not.

    An object naming a key twice is malformed too (found by review): JSON parsers keep
    one of the values, so a copy would silently drop the other.
    """
    try:
        value = json.loads(
            line,
            parse_int=_JsonNumber,
            parse_float=_JsonNumber,
            parse_constant=_JsonNumber,
            object_pairs_hook=_unique_pairs,
        )
    except json.JSONDecodeError as exc:
        return f"not valid JSON (character {exc.colno})"
    except _DuplicateKeyError as exc:
        return f"the key {exc.args[0]!r} appears twice in one object"
    if not isinstance(value, dict):
        return "not a JSON object"
    if _SURROGATE_ESCAPE.search(line) and _holds_surrogate(value):
        return "a \\u escape encodes half a surrogate pair, which is not a character"
    out: dict[str, str | None] = {}
    for key, item in value.items():
        if item is None or isinstance(item, str):
            # JSON tells "" from null, unlike CSV; keep the difference. A number is
            # its text as written ("1.50" stays "1.50").
            out[key] = str(item) if item is not None else None
        elif isinstance(item, bool):
            out[key] = "true" if item else "false"
        else:
            out[key] = _nested_text(item)
    return out


def _holds_surrogate(item: object) -> bool:
    """Whether a parsed value (keys included) holds a lone surrogate."""
    if isinstance(item, str):
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(item, dict):
        return any(_holds_surrogate(k) or _holds_surrogate(v) for k, v in item.items())
    if isinstance(item, list):
        return any(_holds_surrogate(v) for v in item)
    return False


def _nested_text(item: object) -> str:
    """An object or array as compact JSON, its numbers as written.

    ``json.dumps`` would quote the numbers (parsed as text, to keep their exact
    form): ``[1, 2]`` came out as ``["1","2"]``.
    """
    if isinstance(item, _JsonNumber):
        return str(item)
    if isinstance(item, dict):
        pairs = item.items()
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_nested_text(v)}" for k, v in pairs)
            + "}"
        )
    if isinstance(item, list):
        return "[" + ",".join(_nested_text(v) for v in item) + "]"
    return json.dumps(item, ensure_ascii=False)  # a string, true/false or null


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    """1-based line number in the file."""
    record: int
    """1-based record number (non-blank lines): the ``_row_number``."""
    text: str
    parsed: dict[str, str | None] | str

    def malformed(self, problem: str) -> MalformedRow:
        """The quarantine record of a line that is not a JSON object (``problem`` says why)."""
        return MalformedRow(self.record, self.number, self.text, f"line {self.number}: {problem}")


class _Lines:
    """The records of a JSON Lines file, in order, hashing every byte read.

    Lines end at LF (a CR before it is dropped); JSON strings may hold U+2028
    and friends raw, which are not line ends here. Bytes that are not UTF-8
    stop the read with the line named.
    """

    def __init__(self, path: Path, display: str, on_bytes: Callable[[int], None] | None) -> None:
        self.path = path
        self.display = display
        self.on_bytes = on_bytes
        self.digest = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[_Line]:
        line_no = 0
        record = 0
        offset = 0  # of the current line's first byte
        parts: list[bytes] = []  # the current line's start, not yet ended by an LF
        with self.path.open("rb") as handle:
            while True:
                block = handle.read(BLOCK_SIZE)
                self.digest.update(block)
                self.size += len(block)
                if block and self.on_bytes is not None:
                    self.on_bytes(len(block))
                if not block:
                    last = b"".join(parts)
                    lines = [last] if last else []  # the last line, without a final LF
                elif b"\n" not in block:
                    parts.append(block)  # a long line: joined once, when it ends
                    continue
                else:
                    lines = block.split(b"\n")
                    lines[0] = b"".join([*parts, lines[0]])
                    parts = [lines.pop()]
                for raw in lines:
                    line_no += 1
                    if line_no == 1 and raw.startswith(_BOM):
                        raw, offset = raw[len(_BOM) :], offset + len(_BOM)
                    text = self._decode(raw, offset, line_no)
                    offset += len(raw) + 1
                    if not text.strip(_JSON_SPACE):
                        # JSON Lines allows blank lines; they hold no record. Blank in
                        # JSON's own four characters: str.strip() also ate a no-break
                        # space, U+2028 or a form feed, and the line vanished uncounted.
                        continue
                    record += 1
                    yield _Line(line_no, record, text, _parse_record(text.removesuffix("\r")))
                if not block:
                    return

    def _decode(self, raw: bytes, offset: int, line_no: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedInputError(
                f"byte {offset + exc.start} is not valid UTF-8",
                dataset=self.display,
                line=line_no,
            ) from None


def _check_found(records: int, malformed: int, columns: list[str], display: str) -> None:
    if records == 0 and malformed == 0:
        raise InputError(
            "the file holds no JSON records",
            dataset=display,
            hint="check that the extract finished; JSON Lines needs one object per line",
        )
    if not columns:
        # Nothing to write a column of: Polars refused an output of zero columns with
        # an error that blamed the output path.
        raise InputError(
            "no line of the file is a JSON object with a key, so there is no column to read",
            dataset=display,
            hint='check the extract; each line should be an object such as {"id": 1}',
        )
    check_column_names(columns, display)


def _frame(numbers: list[int], columns: dict[str, list[str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {ROW_NUMBER: pl.Series(numbers, dtype=pl.Int64)}
        | {name: pl.Series(name, values, dtype=pl.String) for name, values in columns.items()}
    )


@dataclass(slots=True)
class JsonlText:
    """A JSON Lines file read whole: the frame, its columns, malformed lines, digest."""

    frame: pl.DataFrame
    columns: list[str]
    malformed: list[MalformedRow]
    sha256: str
    size: int


def read_jsonl_text(
    path: Path, display: str, on_bytes: Callable[[int], None] | None = None
) -> JsonlText:
    """Read the whole file in one pass (hashing it on the way)."""
    lines = _Lines(path, display, on_bytes)
    columns: dict[str, list[str | None]] = {}
    numbers: list[int] = []
    malformed: list[MalformedRow] = []
    for line in lines:
        if isinstance(line.parsed, str):
            malformed.append(line.malformed(line.parsed))
            continue
        for name in line.parsed:
            # First appearance decides the column order. (A set difference of the
            # key views ordered new columns by string hash, which Python seeds
            # per process: the output bytes differed from run to run.)
            if name not in columns:
                columns[name] = [None] * len(numbers)
        for name, values in columns.items():
            values.append(line.parsed.get(name))
        numbers.append(line.record)
    _check_found(len(numbers), len(malformed), list(columns), display)
    return JsonlText(
        _frame(numbers, columns), list(columns), malformed, lines.digest.hexdigest(), lines.size
    )


class JsonlBatches:
    """A JSON Lines file in chunks of ``batch_rows`` records, memory bounded by the chunk.

    Construction walks the file once: the keys in first-appearance order, the
    malformed lines, the digest. Iteration walks it again and yields all-text
    chunks with every column and ``_row_number``; it stops the run if the
    bytes differ from the first walk's.
    """

    def __init__(
        self,
        path: Path,
        display: str,
        *,
        batch_rows: int = 250_000,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.display = display
        self.batch_rows = max(1, batch_rows)
        first = _Lines(path, display, on_bytes)
        keys: dict[str, None] = {}
        self.malformed: list[MalformedRow] = []
        records = 0
        for line in first:
            if isinstance(line.parsed, str):
                self.malformed.append(line.malformed(line.parsed))
                continue
            records += 1
            keys.update(dict.fromkeys(line.parsed))
        self.columns = list(keys)
        _check_found(records, len(self.malformed), self.columns, display)
        self.sha256 = first.digest.hexdigest()
        self.size = first.size

    def __iter__(self) -> Iterator[pl.DataFrame]:
        lines = _Lines(self.path, self.display, None)
        numbers: list[int] = []
        columns: dict[str, list[str | None]] = {name: [] for name in self.columns}
        for line in lines:
            if isinstance(line.parsed, str):
                continue  # set apart by the first walk
            for name, values in columns.items():
                values.append(line.parsed.get(name))
            numbers.append(line.record)
            if len(numbers) == self.batch_rows:
                yield _frame(numbers, columns)
                numbers = []
                columns = {name: [] for name in self.columns}
        if numbers:
            yield _frame(numbers, columns)
        if lines.digest.hexdigest() != self.sha256:
            raise input_changed(
                self.display, "its SHA-256 differs between the reader's two passes over it"
            )
