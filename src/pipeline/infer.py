"""Type inference for runs without a schema: a faithful typed copy.

A column gets a type only when *every* value in the whole input converts to
it and converts back to exactly the same text, so nothing is lost: ``007``,
``1.50`` or ``1e3`` stay text, ``42`` becomes Int64. Writing the typed frame
as CSV therefore reproduces each value's original text.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import polars as pl

__all__ = ["TypeInferrer", "infer_types", "missing"]

_SAMPLE = 2_000

# Tried in order; the first type that round-trips every value of a column wins.
_CANDIDATES: tuple[tuple[pl.DataType, str], ...] = (
    (pl.Int64(), "int"),
    (pl.Float64(), "float"),
    (pl.Boolean(), "bool"),
    (pl.Date(), "date"),
)


def _convert(col: pl.Expr, kind: str) -> pl.Expr:
    if kind == "int":
        return col.cast(pl.Int64, strict=False)
    if kind == "float":
        return col.cast(pl.Float64, strict=False)
    if kind == "bool":
        # Not ``when(col == "true").then(True).when(...)``: in Polars 2.1, a select of
        # only such literal branches over a multi-row-group scan (our streaming spill)
        # returns the morsels out of order when one of them is all null.
        return col.replace_strict(
            {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
        )
    # No cache: Polars' parse of a fixed "%Y-%m-%d" is cheaper than its LRU cache of
    # texts (10M claims dates: 0.115 s against 0.185 s); the dates are the same.
    return col.str.strptime(pl.Date, "%Y-%m-%d", strict=False, cache=False)


# Canonical integers of at most 18 digits: they fit Int64 and print back as written
# (no sign on zero, no leading zeros, no "+"). A 19-digit column stays text: faithful
# first, and a regex is several times cheaper than converting and printing back.
_CANONICAL_INT = r"^(0|-?[1-9][0-9]{0,17})$"
_CANONICAL_BOOL = r"^(true|false)$"


def _fits(col: pl.Expr, kind: str) -> pl.Expr:
    """True where a value converts to ``kind`` and back to exactly the same text."""
    if kind == "int":
        return col.str.contains(_CANONICAL_INT)
    if kind == "bool":
        return col.str.contains(_CANONICAL_BOOL)
    return _back(_convert(col, kind), kind) == col


def _back(expr: pl.Expr, kind: str) -> pl.Expr:
    if kind == "date":
        return expr.dt.strftime("%Y-%m-%d")
    if kind == "bool":
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    return expr.cast(pl.String)


def missing(col: pl.Expr, *, blank_is_null: bool) -> pl.Expr:
    """True where a value is missing (null, and "" too for a CSV read with quotes)."""
    return (col.is_null() | (col == "")) if blank_is_null else col.is_null()


#: A sample column with at most this many distinct texts is proven on its distinct
#: texts (a code, a count, a flag): hashing each value is cheaper than a regex.
_FEW = 64


def _all_fit(
    col: pl.Expr,
    kind: str,
    missing: Callable[[pl.Expr], pl.Expr],
    *,
    few: bool = False,
    eager: bool = False,
) -> pl.Expr:
    """True when every value of ``col`` is missing or fits ``kind`` (an aggregate)."""
    if kind == "date" or few:
        # A date column has few distinct texts (at most 3.65M with four-digit years),
        # and ``few`` says the sample had few: proving each distinct text once is
        # cheaper than a regex or a parse-and-print per row (10x for dates). The
        # verdict is the same.
        if eager:
            # Written as ``missing(u) | fits(u)`` over ``u = col.unique()``, the eager
            # engine computed ``unique`` once per use (three or four times); a
            # list.eval finds the distinct texts once (10M rows: 0.75 -> 0.36-0.53 s
            # for all proofs). Not for a streaming query: the streaming engine cannot
            # stream ``implode`` and held the whole input (5 GiB: 4.5 GiB of RSS).
            element = pl.element()
            judged = missing(element) | _fits(element, kind).fill_null(value=False)
            return col.unique().implode().list.eval(judged).list.all().first()
        # maintain_order: both sides of == see the same order.
        col = col.unique(maintain_order=True)
    return (missing(col) | _fits(col, kind).fill_null(value=False)).all()


class TypeInferrer:
    """Inference fed chunk by chunk (streaming) with the same verdict as one whole frame."""

    def __init__(self, columns: list[str], *, infer: Collection[str] | None = None) -> None:
        """``infer``: the columns to type (default all); the others stay text, unexamined."""
        self.columns = list(columns)
        wanted = set(columns if infer is None else infer)
        self._fits: dict[str, dict[str, bool]] = {
            c: {k: c in wanted for _, k in _CANDIDATES} for c in columns
        }
        self._seen: dict[str, bool] = dict.fromkeys(columns, False)
        #: Distinct texts of each column in the last sample (None: no sample yet).
        self._distinct: dict[str, int | None] = dict.fromkeys(columns, None)
        #: The texts of each column in the pruning sample (they fit what is alive).
        self._known: dict[str, pl.Series] = {}

    def update(self, frame: pl.DataFrame) -> None:
        """Account for one chunk of all-text rows."""
        schema = frame.schema  # built per access: once, not once per column (quadratic)
        text = [c for c in self.columns if schema[c] == pl.String]
        if not text or frame.height == 0:
            return
        # A candidate that fails on a sample fails on the whole chunk: test a sample
        # first so that only plausible candidates cost a pass over every value.
        if frame.height > _SAMPLE:
            self._apply(frame.gather_every(max(frame.height // _SAMPLE, 1)), text, sample=True)
        self._apply(frame, text, sample=False)

    def _apply(self, frame: pl.DataFrame, text: list[str], *, sample: bool) -> None:
        exprs = self.aggregates(text, sample=sample, eager=True)
        if exprs:
            self.absorb(frame.select(exprs).row(0, named=True))

    def aggregates(
        self,
        text: list[str],
        *,
        sample: bool = False,
        blank_is_null: bool = False,
        eager: bool = False,
        apart: Collection[str] = (),
    ) -> list[pl.Expr]:
        """One-row aggregate expressions for the candidates still alive (a lazy pass can run them).

        ``blank_is_null`` counts "" as null, for a CSV whose quoted empty fields are
        nulls once read (cheaper than rewriting every column first). ``eager``: the
        expressions run on a frame in memory, not in a streaming query. ``sample``:
        the rows are a sample; also count each column's distinct texts, which pick
        the cheaper proof for the whole input. ``apart``: columns proven by
        :meth:`novel` instead (only "seen" is asked of them here).
        """

        def absent(col: pl.Expr) -> pl.Expr:
            return missing(col, blank_is_null=blank_is_null)

        # Only a column with a candidate left needs "seen" (an all-null column stays
        # text); asking nothing of the others lets a lazy CSV scan skip parsing them.
        alive = [c for c in text if any(self._fits[c].values())]
        exprs = [(~absent(pl.col(c))).any().alias(f"{c}\x00seen") for c in alive]
        if sample:
            exprs += [pl.col(c).n_unique().alias(f"{c}\x00distinct") for c in alive]
        for _dtype, kind in _CANDIDATES:
            for c in text:
                if self._fits[c][kind] and c not in apart:
                    few = not sample and self._few(c)
                    fit = _all_fit(pl.col(c), kind, absent, few=few, eager=eager)
                    exprs.append(fit.alias(f"{c}\x00{kind}"))
        return exprs

    def novel(self, text: list[str], *, blank_is_null: bool = False) -> dict[str, pl.Expr]:
        """For a lazy pass: the texts still to prove of each column proven by distinct texts.

        A column the pruning sample found few-valued, or that may hold dates, is
        proven on its distinct texts. Those the sample held are proven already;
        the expression keeps the others (distinct, missing values left out), so
        the pass hashes each row once against the sample's texts and deduplicates
        the few it keeps: a streaming ``unique`` over every row of a date column
        cost a quarter of the CSV's parse (10M rows: 0.5 CPU-s); this costs
        nearly nothing. Feed each result to :meth:`absorb_novel`.
        """
        wanted: dict[str, pl.Expr] = {}
        for c in text:
            known = self._known.get(c)
            if known is None or not (self._few(c) or self._fits[c]["date"]):
                continue  # no sample, or many texts: proven row by row, in the aggregates
            if not any(self._fits[c].values()):
                continue  # text already
            col = pl.col(c)
            unseen = ~missing(col, blank_is_null=blank_is_null) & ~col.is_in(known.implode())
            # maintain_order: the texts come back in the same order in every run.
            wanted[c] = col.filter(unseen).unique(maintain_order=True)
        return wanted

    def _few(self, column: str) -> bool:
        """Whether the last sample held few distinct texts of ``column``."""
        distinct = self._distinct[column]
        return distinct is not None and distinct <= _FEW

    def absorb_novel(self, column: str, texts: pl.Series) -> None:
        """Prove ``texts`` (a column's texts the sample did not hold) for what is alive."""
        kinds = [kind for _dtype, kind in _CANDIDATES if self._fits[column][kind]]
        if not kinds or texts.len() == 0:
            return
        frame = pl.DataFrame({column: texts})
        exprs = [
            _all_fit(pl.col(column), kind, pl.Expr.is_null, eager=True).alias(f"{column}\x00{kind}")
            for kind in kinds
        ]
        self.absorb(frame.select(exprs).row(0, named=True))

    def absorb(self, row: dict[str, object]) -> None:
        """Take in the values of :meth:`aggregates` (other keys are ignored)."""
        for key, value in row.items():
            column, sep, kind = key.partition("\x00")
            if not sep or column not in self._seen:
                continue
            if kind == "seen":
                self._seen[column] = self._seen[column] or bool(value)
            elif kind == "distinct":
                self._distinct[column] = value if isinstance(value, int) else None
            else:
                self._fits[column][kind] = bool(value)

    def prune(self, sample: pl.DataFrame, *, blank_is_null: bool = False) -> None:
        """Take in what a sample of the rows proves: candidates it refutes, values seen.

        Both hold for the whole input; what the sample cannot prove (that every
        other value fits too) is what :meth:`kinds` then assumes until a full pass
        is absorbed.
        """
        schema = sample.schema
        text = [c for c in self.columns if schema[c] == pl.String]
        if text and sample.height:
            exprs = self.aggregates(text, sample=True, blank_is_null=blank_is_null, eager=True)
            if exprs:
                self.absorb(sample.select(exprs).row(0, named=True))
            # Each of the sample's texts fits every candidate still alive (see novel()).
            for c in text:
                self._known[c] = sample.get_column(c).drop_nulls().unique()

    def kinds(self) -> dict[str, str]:
        """Column → chosen kind; columns that stay text are absent."""
        chosen: dict[str, str] = {}
        for column in self.columns:
            if not self._seen[column]:
                continue  # An all-null column stays text: there is no evidence for any type.
            for _dtype, kind in _CANDIDATES:
                if self._fits[column][kind]:
                    chosen[column] = kind
                    break
        return chosen

    def schema(self) -> pl.Schema:
        """Every column with the type :meth:`exprs` gives it (String where none is proven)."""
        dtypes = {kind: dtype for dtype, kind in _CANDIDATES}
        chosen = self.kinds()
        return pl.Schema(
            {c: dtypes[chosen[c]] if c in chosen else pl.String() for c in self.columns}
        )

    def exprs(self, *, as_text: Collection[str] = ()) -> list[pl.Expr]:
        """Conversion expressions for every column, in order.

        ``as_text``: columns left as read even when a type is proven (a CSV
        output prints a proven column back as exactly its text, so converting
        a column that only passes through would be work for nothing).
        """
        chosen = self.kinds()
        return [
            _convert(pl.col(c), chosen[c]).alias(c)
            if c in chosen and c not in as_text
            else pl.col(c)
            for c in self.columns
        ]


def infer_types(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Return ``frame[columns]`` with each column cast to the narrowest lossless type."""
    inferrer = TypeInferrer(columns)
    inferrer.update(frame)
    return frame.select(inferrer.exprs())
