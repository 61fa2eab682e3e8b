"""The expression gate (steps/sql.py) against Polars' own SQL tokenizer.

Polars evaluates the clock and runs subqueries while it parses, so the gate must
find every call in code position exactly where Polars' tokenizer does: a string
or quoted name it misjudged (the apostrophe in ``"o'k"``) let ``NOW()`` through.
"""

from __future__ import annotations

import time

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.steps.sql import refusal

# Pieces whose juxtaposition moves the boundary between strings, quoted names,
# comments and code; the payloads are what Polars evaluates or runs while it parses.
_PIECES = [
    "'", "''", '"', '""', "`", "``", "$", "$$", "$a$", "--", "/*", "*/", "\\", "\n",
    " ", "x", "E", "N", "X", "q", "Q", "_", "&", "#", "@", "(", ")", "||", "+", ",", "1",
    "now()", "NOW ( )", '"now"()', "`now`()", "o'k", "\"o'k\"", "'x'", "SELECT",
    "current_time", "(FROM", "VALUES (1)",
]  # fmt: skip
_AROUND = st.lists(st.sampled_from(_PIECES), max_size=5).map("".join)
_PAYLOAD = st.sampled_from(
    [
        "now()",
        "||now()||",
        " OR now() > x OR ",
        "NOW ( )",
        " IN (SELECT a FROM read_csv('/nonexistent-rdp/x')) ",
        " IN (FROM read_csv('/nonexistent-rdp/x')) ",
        " IN (FROM generate_series(1, 3)) ",
        " OR localtime > x OR ",
    ]
)


def _parse(text: str) -> str | None:
    """Polars' parse, serialized; "ran" when the parse ran a subquery or read a file."""
    try:
        parsed = pl.sql_expr(text).meta.serialize(format="json")
    except Exception as exc:  # any refusal by Polars (a parse error) is fine here
        # Polars' "unable to parse" echoes the text: only the read's own error counts.
        return "ran" if "No such file or directory" in str(exc) else None
    return "ran" if "_POLARS_TMP_SQL" in parsed or "SubPlan" in parsed else parsed


@settings(max_examples=6000, deadline=None)
@given(st.tuples(_AROUND, _PAYLOAD, _AROUND).map("".join))
def test_what_passes_never_reads_the_clock_or_a_file(text: str) -> None:
    if refusal(text) is not None:
        return
    first = _parse(text)
    assert first != "ran", text
    time.sleep(0.001)  # NOW() evaluated twice, a millisecond apart, differs
    assert _parse(text) == first, text


@pytest.mark.parametrize(
    "text",
    [
        "status != 'now'",
        "note LIKE '%select%'",
        '"select" = 1 AND "o\'k" > 2',
        "EXTRACT(year FROM service_date)",
        "CAST(amount * 100 AS BIGINT)",
        "regexp_like(code, '^\\d+$')",
        "x$y + 1",
        "'it''s' || name",
        # Found by review: column names that are also function names, bare.
        'uuid IS NOT NULL AND today > 1 AND random < 2 AND values = 3 AND "table" = 4',
        "TRIM(BOTH ' ' FROM name)",
        'over > 1 AND "over" < 5',  # a column named over
    ],
)
def test_ordinary_expressions_pass(text: str) -> None:
    assert refusal(text) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("id IN (SELECT x FROM read_csv('/etc/passwd'))", "subquery (SELECT"),
        ("id IN (VALUES (1))", "subquery (VALUES"),
        ('CASE WHEN "o\'k" = 1 THEN CAST(NOW() AS VARCHAR) END', "NOW()"),
        ('"now"()', "now()"),
        ("`Random` ()", "Random()"),
        ("current_date", "current_date()"),
        ("read_parquet('x')", "read_parquet()"),
        ("E'a\\'' || now()", "prefixed string literal"),
        ("$$ ' $$ || now()", "dollar quoting"),
        ("1 /* ' */ + now()", "comments"),
        # Found by review: Polars takes `#'` into a name, and FROM alone starts a query.
        ("#' < now()", "'#' is not supported"),
        ("#' IN (SELECT nosuch FROM read_csv('/etc/passw*'))", "'#' is not supported"),
        ("id IN (FROM generate_series(1,3))", "subquery (FROM"),
        ("localtime > x", "localtime()"),
        # Found by review: a window's float sum differs between batch and streaming.
        ("amt >= AVG(amt) OVER (PARTITION BY grp)", "window functions"),
        ("SUM(amt) over(ORDER BY id)", "window functions"),
    ],
)
def test_refused(text: str, words: str) -> None:
    refused = refusal(text)
    assert refused is not None and words in refused.reason
    # The hint answers this refusal: only the clock's points at --as-of.
    assert ("--as-of" in refused.hint) == ("would put the clock" in refused.reason)
