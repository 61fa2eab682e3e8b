"""SQL expressions in steps: parsed by Polars (``pl.sql_expr``), never by ``eval``.

Polars evaluates ``now()``, ``current_date`` and friends once, at parse time,
into a literal: that would put the wall clock into output data (invariant 2),
so such functions are refused; a run's time is its recorded ``as_of``.
"""

from __future__ import annotations

import re

import polars as pl

from pipeline.errors import SpecError

__all__ = ["columns_read", "parse_sql"]

_CLOCK_OR_RANDOM = re.compile(
    r"\b(now|current_date|current_time|current_timestamp|localtime|localtimestamp|today|"
    r"sysdate|getdate|random|rand|uuid|gen_random_uuid)\b",
    re.IGNORECASE,
)
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def parse_sql(text: str, *, step: str) -> pl.Expr:
    """Parse one SQL expression; a :class:`SpecError` naming ``step`` when it cannot be."""
    code = _STRING_LITERAL.sub("''", text)
    found = _CLOCK_OR_RANDOM.search(code)
    if found is not None:
        raise SpecError(
            f"the expression uses {found.group(1)}(), which would put the clock or a random "
            "value into the data",
            step=step,
            hint="compare with a fixed value instead, or pin the run time with --as-of and "
            "derive from a column",
        )
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
