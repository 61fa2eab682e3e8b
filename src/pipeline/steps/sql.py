"""SQL expressions in steps and rules: parsed by Polars (``pl.sql_expr``), never by ``eval``.

Polars does more than parse at parse time. It evaluates ``now()``,
``current_date`` and friends into a literal, which would put the wall clock into
output data (invariant 2), and it *runs* a subquery: ``id IN (SELECT x FROM
read_csv('/etc/passwd'))`` read that file, and its first line came back in the
error text (in the audit log). So before Polars sees an expression, the text is
scanned the way Polars' SQL tokenizer splits it (sqlparser's generic dialect:
``'…'`` strings with ``''`` escapes and no backslash escapes, ``"…"`` and
```…``` identifiers, ``$$…$$`` strings, nested ``/* */`` comments), and refused
when its code holds a subquery, a table function, the clock or a random source.

Only what the scanner fully understands passes: a construct that could make it
and Polars disagree about where a string ends (string prefixes such as ``E'…'``,
dollar quoting, comments, a backslash in a quoted name, characters outside the
operators and brackets an expression needs, such as ``#``) is refused with a
hint rather than guessed at. A query is refused wherever it starts (``SELECT``,
``VALUES (``, ``(FROM``, ``(TABLE``), and so is a window (``OVER (``), whose float
sums differ between engines; clock and random functions when called, and
SQL's niladic clock keywords (``current_date``) anywhere; a bare name such as
``uuid`` is a column. A property test holds the scanner to Polars' own parser:
whatever passes, Polars neither evaluated the clock nor ran a subquery.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import polars as pl

from pipeline.errors import SpecError

__all__ = ["Refusal", "columns_read", "parse_sql", "refusal"]

#: Functions whose value is the clock or a random source (Polars evaluates the
#: clock at parse time) or that read files (table functions): refused when called.
#: A bare name is a column (``uuid IS NOT NULL``).
_FORBIDDEN_CALLS = frozenset(
    {
        "now",
        "current_date",
        "current_time",
        "current_timestamp",
        "localtime",
        "localtimestamp",
        "today",
        "sysdate",
        "getdate",
        "random",
        "rand",
        "uuid",
        "gen_random_uuid",
        "read_csv",
        "read_parquet",
        "read_json",
        "read_ndjson",
        "read_ipc",
        "read_delta",
        "read_excel",
    }
)
#: SQL's niladic clock keywords: the clock without parentheses.
_CLOCK_KEYWORDS = frozenset(
    {"current_date", "current_time", "current_timestamp", "localtime", "localtimestamp"}
)

#: The characters an expression's code (outside strings and quoted names) may use
#: besides letters, digits and spaces: operators, brackets, ``::`` casts, ``.`` and
#: ``_`` in names, and the quotes that open strings and names.
_OPERATORS = frozenset("_.,()+-*/%<>=!|&^~:[]'\"`")

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*|[0-9][A-Za-z0-9_$.]*")
_CALL = re.compile(r"\s*\(")
_QUOTED_NAME = frozenset('"`')


class Refusal(NamedTuple):
    """Why an expression may not reach Polars' SQL parser, and what to write instead."""

    reason: str
    hint: str


_SPELLING = "write it with plain '…' strings, column names and operators"


def refusal(text: str) -> Refusal | None:
    """Why ``text`` may not reach Polars' SQL parser, or None when it may."""
    i, n = 0, len(text)
    before = ""  # the last code token: "(" makes FROM or TABLE start a query
    while i < n:
        char = text[i]
        if char == "'":
            if i and (text[i - 1].isalnum() or text[i - 1] in "_&"):
                # E'…', N'…', X'…', Q'[…]' …: Polars reads some as other kinds of string,
                # ending where a plain one would not.
                return Refusal(
                    f"a prefixed string literal ({text[max(0, i - 2) : i + 1]}…) is not supported",
                    "write a plain '…' string, with a space before it",
                )
            i = _skip_quoted(text, i, "'")
            before = "'"
        elif char in _QUOTED_NAME:
            end = _skip_quoted(text, i, char)
            name = text[i + 1 : end - 1].replace(char * 2, char)
            if "\\" in name:
                # Inside a quoted name Polars reads \" as an escaped quote: the name
                # would end elsewhere than here.
                return Refusal(
                    "a backslash in a quoted name is not supported",
                    "rename the column first (a rename step), or quote it without the backslash",
                )
            if _called(text, end) and name.lower() in _FORBIDDEN_CALLS:
                return _forbidden(name)
            i, before = end, "name"
        elif char == "$":
            return Refusal(
                "dollar quoting and $ placeholders are not supported", "write a '…' string"
            )
        elif not (char.isalnum() or char.isspace() or char in _OPERATORS):
            # Only characters whose reading is plain pass: Polars took `#` and a quote
            # after it into a name (found by review: `#' < now()` hid the call inside what
            # read here as a string); `#`, `@`, `?`, `;` or a backslash have no use here.
            return Refusal(f"{char!r} is not supported outside a string", _SPELLING)
        elif text.startswith(("--", "/*"), i):
            return Refusal(
                "comments are not supported in an expression",
                "remove the comment; the spec file can hold YAML comments (#) instead",
            )
        elif (match := _WORD.match(text, i)) is not None:
            word = match.group().lower()
            called = _called(text, match.end())
            if (
                word == "select"
                or (word == "values" and called)
                or (word in ("from", "table") and before == "(")
            ):
                return Refusal(
                    f"a subquery ({match.group()} …) is not supported: an expression reads "
                    "the row's own columns",
                    "for values from another dataset, use a quality rule of kind "
                    "'reference', or join the data before the run",
                )
            if (called and word in _FORBIDDEN_CALLS) or word in _CLOCK_KEYWORDS:
                return _forbidden(match.group())
            if word == "over" and called:
                # Found by review: `AVG(amt) OVER (PARTITION BY grp)` sums floats in an
                # order the streaming engine and the thread count choose, so batch and
                # streaming wrote different rows (invariant 2).
                return Refusal(
                    "window functions (… OVER (…)) are not supported: their float sums "
                    "depend on the engine's order, so modes would differ",
                    "use a dedupe or sort step, or compute the aggregate before the run",
                )
            i, before = match.end(), word
        else:
            if not char.isspace():
                before = char
            i += 1
    return None


def _skip_quoted(text: str, start: int, quote: str) -> int:
    """The index after the quoted token opening at ``start`` (a doubled quote is one
    quote inside it); the text's end when it never closes (Polars says so)."""
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if text.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def _called(text: str, end: int) -> bool:
    """Whether the token ending at ``end`` is followed by ``(``: a call, even quoted."""
    return _CALL.match(text, end) is not None


def _forbidden(name: str) -> Refusal:
    return Refusal(
        f"the expression uses {name}(), which would put the clock, a random value or "
        "another file into the data",
        "compare with a fixed value instead, or pin the run time with --as-of and "
        "derive from a column",
    )


def parse_sql(text: str, *, step: str) -> pl.Expr:
    """Parse one SQL expression; a :class:`SpecError` naming ``step`` when it cannot be."""
    refused = refusal(text)
    if refused is not None:
        raise SpecError(refused.reason, step=step, hint=refused.hint)
    try:
        return pl.sql_expr(text)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError(
            f"the SQL expression cannot be parsed ({reason})",
            step=step,
            hint="write a SQL expression such as \"status != 'VOID'\" or "
            '"CAST(amount * 100 AS BIGINT)"',
        ) from None


def columns_read(expr: pl.Expr) -> list[str]:
    """The input columns an expression reads, in first-use order, without repeats."""
    return list(dict.fromkeys(expr.meta.root_names()))
