"""Running a compiled model over a frame, Pydantic deciding whatever it cannot.

The frame is processed in row slices of :data:`SLICE_ROWS`, so the memory of
the intermediate columns is bounded by the slice, not the frame. For each slice
one Polars query computes every field's acceptance and typed value
(:mod:`.compiler`) and the row mask "every field accepted"; the accepted rows'
values are kept, nothing else. Only rows some field left undecided go further:
their text is gathered, the distinct undecided values of each field are
validated by Pydantic (:class:`pipeline.schema.fallback.FieldChecker`, whose
cache spans slices) and joined back. A row is accepted iff every field accepted
it, which is exactly when ``model_validate`` accepts it; models with row-level
logic run on the reference engine instead.

Columns are assembled once, after the last slice, so the dtype rule of
:mod:`pipeline.schema.values` sees the whole column: the result does not depend
on the slice size.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import Decimal
from typing import Any, Final

import polars as pl
from pydantic import BaseModel

from pipeline.schema.codes import ErrorEntry
from pipeline.schema.columnar.assemble import combine
from pipeline.schema.columnar.compiler import Compiled, compile_field
from pipeline.schema.columnar.constraints import Unsupported
from pipeline.schema.fallback import Checked, FieldChecker, model_fallback_reason
from pipeline.schema.fields import FieldSpec, ModelPlan, plan_model
from pipeline.schema.quarantine import ERRORS, ROW_NUMBER, dump_errors, prepare_input
from pipeline.schema.reference import output_columns, validate_reference
from pipeline.schema.result import ValidationReport, ValidationResult
from pipeline.schema.values import to_series

__all__ = ["ColumnarValidator", "validate_columnar"]

#: Rows per slice: large enough that per-slice overhead is noise, small enough
#: that the slice's intermediate columns stay a fraction of the input.
SLICE_ROWS: Final = 250_000
#: Pydantic verdicts a field's checker keeps between frames: enough for the
#: repeated bad values of a stream, bounded for a high-cardinality column.
CACHE_LIMIT: Final = 100_000
_POS = "__pos"
_ALL = "__all"


@dataclasses.dataclass
class _Field:
    """One field's state during a run."""

    index: int
    spec: FieldSpec
    checker: FieldChecker
    key: str | None
    compiled: Compiled | None = None
    reason: str | None = None
    absent: Checked | None = None
    results: list[Checked] = dataclasses.field(default_factory=list)
    #: Rows of the accepted frame whose value Pydantic gave, and those values.
    py_positions: list[pl.Series] = dataclasses.field(default_factory=list)
    py_values: list[Any] = dataclasses.field(default_factory=list)
    #: Some slice's Pydantic values did not fit the compiled column's dtype:
    #: the column is assembled over the whole frame (values.py's rule).
    unplaced: bool = False

    @property
    def raw(self) -> str:
        return f"__raw{self.index}"

    @property
    def ok(self) -> str:
        return f"__ok{self.index}"

    @property
    def value(self) -> str:
        return f"__val{self.index}"

    @property
    def rid(self) -> str:
        return f"__rid{self.index}"

    @property
    def err(self) -> str:
        return f"__err{self.index}"

    @property
    def rok(self) -> str:
        return f"__rok{self.index}"


def _fragment(entries: list[ErrorEntry]) -> str | None:
    return dump_errors(entries)[1:-1] if entries else None


def _prepare_fields(plan: ModelPlan, columns: list[str]) -> list[_Field]:
    fields: list[_Field] = []
    config = plan.model.model_config
    for index, spec in enumerate(plan.fields):
        key = plan.column_for(spec, columns)
        state = _Field(index, spec, FieldChecker(plan.model, spec, key), key)
        if key is None:
            state.absent = state.checker.absent()
            state.reason = "column absent: Pydantic gives the default or 'missing'"
        elif state.checker.has_validators:
            state.reason = "field validator"
        else:
            try:
                state.compiled = compile_field(spec, config, pl.col(state.raw))
            except Unsupported as exc:
                state.reason = str(exc)
        fields.append(state)
    return fields


def _decide(slow: pl.DataFrame, pending: list[_Field]) -> pl.DataFrame:
    """Validate the distinct undecided values of ``pending`` fields with Pydantic.

    Adds, per pending field, ``rid`` (the value's index in ``state.results``),
    ``rok`` (Pydantic accepted it) and ``err`` (its ``_errors`` fragment) to the
    rows that field left undecided (``rok`` is False elsewhere, the others null).
    One query gathers every field's distinct values and one maps the verdicts
    back: a slice has few undecided rows, so a query per field cost more in
    Polars' fixed per-query overhead (about 0.1 ms each) than the work itself.
    """
    distinct = slow.select(
        pl.col(f.raw).filter(~pl.col(f.ok)).unique(maintain_order=True).implode() for f in pending
    ).row(0)
    mapped: list[pl.Expr] = []
    for state, values in zip(pending, distinct, strict=True):
        first = len(state.results)
        results = [state.checker.check(v) for v in values]  # cached across slices
        state.results.extend(results)
        undecided = ~pl.col(state.ok)
        value = pl.col(state.raw)
        ids = pl.Series(range(first, first + len(values)), dtype=pl.Int64)
        oks = pl.Series([r[0] for r in results], dtype=pl.Boolean)
        errs = pl.Series([_fragment(r[2]) for r in results], dtype=pl.String)
        rid = pl.when(undecided).then(value.replace_strict(values, ids, default=None))
        rok = undecided & value.replace_strict(values, oks, default=False)
        err = pl.when(undecided).then(value.replace_strict(values, errs, default=None))
        mapped += [rid.alias(state.rid), rok.alias(state.rok), err.alias(state.err)]
    return slow.with_columns(mapped)


@dataclasses.dataclass
class _Run:
    """What the slices of one validation gather, for assembling once at the end."""

    fields: list[_Field]
    extras_kept: list[str]
    #: Row-independent verdict: no absent required column, no forbidden extra.
    constant_ok: bool
    constant_errors: list[ErrorEntry]
    valid_parts: list[pl.DataFrame] = dataclasses.field(default_factory=list)
    #: Per slice, which rows were accepted (bit masks: cheap to keep).
    keep_parts: list[pl.Series] = dataclasses.field(default_factory=list)
    rejected_parts: list[pl.DataFrame] = dataclasses.field(default_factory=list)
    counts: Counter[tuple[str | None, str]] = dataclasses.field(default_factory=Counter)
    kept: int = 0

    @property
    def present(self) -> list[_Field]:
        return [f for f in self.fields if f.key is not None]

    @property
    def compiled(self) -> list[_Field]:
        return [f for f in self.fields if f.key is not None and f.compiled is not None]


def _not_empty(column: str) -> pl.Expr:
    return pl.col(column).str.len_bytes() != 0


def _empty_as_null(column: str) -> pl.Expr:
    return pl.when(_not_empty(column)).then(pl.col(column)).alias(column)


def _fast_pass(run: _Run, data: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """One query: each compiled field's acceptance and value, and the all-accepted mask.

    An empty cell means None to Pydantic. Readers give null already, so rather
    than rewrite every column, a cell holding "" is simply left undecided here
    (the slow path reads it as None).
    """
    compiled = run.compiled
    # A row is certain only when every present field is compiled and accepts it.
    certain = run.constant_ok and len(compiled) == len(run.present)
    if not compiled:
        everything = pl.repeat(certain, data.height, dtype=pl.Boolean, eager=True)
        return pl.DataFrame(height=data.height), everything.alias(_ALL)
    every = pl.all_horizontal(pl.col(f.ok) for f in compiled) if certain else pl.lit(False)
    query = (
        data.lazy()
        .select(*(pl.col(f.key).alias(f.raw) for f in compiled if f.key is not None))
        .select(
            *(f.compiled.accept.alias(f.ok) for f in compiled if f.compiled is not None),
            *(f.compiled.value.alias(f.value) for f in compiled if f.compiled is not None),
        )
        .with_columns(every.alias(_ALL))
    )
    # In memory (Polars 2 would otherwise choose its streaming engine for a lazy query).
    stage = query.collect(engine="in-memory")
    return stage, stage.get_column(_ALL)


def _slow_rows(run: _Run, data: pl.DataFrame, stage: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """The undecided ``rows``: their text and fast verdicts, then Pydantic's verdicts."""
    present = run.present
    # Whole-frame gathers: a gather per column costs a query each.
    texts = data.select(pl.col(f.key).alias(f.raw) for f in present if f.key)
    oks = stage.select(f.ok for f in present if f.compiled is not None).get_columns()
    gathered = texts.hstack(oks)[rows].get_columns() if present else []
    slow = pl.DataFrame([rows.alias(_POS), *gathered]).with_columns(
        *(pl.lit(False).alias(f.ok) for f in present if f.compiled is None),
        *(_empty_as_null(f.raw) for f in present),
    )
    pending = [f for f in present if not slow.get_column(f.ok).all()]
    if pending:
        slow = _decide(slow, pending)
    verdicts = [pl.col(f.ok) | pl.col(f.rok) if f.rok in slow.columns else pl.col(f.ok)
                for f in present]  # fmt: skip
    return slow.with_columns(pl.all_horizontal([*verdicts, pl.lit(run.constant_ok)]).alias(_ALL))


_Placed = dict[int, tuple[pl.Series, list[Any]]]


def _keep_rescued(run: _Run, all_ok: pl.Series, rescued: pl.DataFrame) -> tuple[pl.Series, _Placed]:
    """Mark rescued rows kept; note where Pydantic's values go in the accepted frame.

    Returns the slice's keep mask and, per compiled field, the places of its
    Pydantic values among the slice's kept rows, with those values.
    """
    rows = rescued.get_column(_POS)
    keep = all_ok.clone().scatter(rows, True)
    # A rescued row's place among the accepted rows of all slices so far.
    place = keep.cast(pl.Int64).cum_sum().gather(rows) - 1 + run.kept
    local: _Placed = {}
    for state in run.present:
        # Rows whose value for this field the compiled plan did not give.
        if state.compiled is None:
            positions, rids = place, rescued.get_column(state.rid)
        else:
            from_python = ~rescued.get_column(state.ok)
            if not from_python.any():
                continue  # every value compiled: no Pydantic columns for this field
            positions = place.filter(from_python)
            rids = rescued.get_column(state.rid).filter(from_python)
        state.py_positions.append(positions)
        values = [state.results[r][1] for r in rids.to_list()]
        state.py_values.extend(values)
        if state.compiled is not None:
            local[state.index] = (positions - run.kept, values)
    return keep, local


def _place(run: _Run, part: pl.DataFrame, local: _Placed) -> pl.DataFrame:
    """Put Pydantic's values into the slice's accepted rows where they fit the dtype.

    No whole-column scatter is then needed at the end; a field whose values need
    another dtype is left to the final assembly, which sees the whole column.
    """
    placed: list[pl.Series] = []
    for state in run.compiled:
        if state.index not in local:
            continue
        positions, values = local[state.index]
        column = part.get_column(state.spec.name)
        others = to_series(column.name, values, state.spec)
        if others.dtype == column.dtype:
            placed.append(column.scatter(positions, others))
        else:
            state.unplaced = True
    return part.with_columns(placed) if placed else part


def _rejected_part(run: _Run, data: pl.DataFrame, numbers: pl.Series, bad: pl.DataFrame) -> None:
    """Quarantine the rows of ``bad``: original text, row number, ``_errors``."""
    fragments: list[pl.Expr] = []
    for state in run.fields:
        if state.absent is not None:
            fragments.append(pl.lit(_fragment(state.absent[2]), dtype=pl.String))
        elif state.err in bad.columns:
            fragments.append(pl.col(state.err))
            for rid, n in Counter(bad.get_column(state.rid).drop_nulls().to_list()).items():
                for entry in state.results[rid][2]:
                    run.counts[(entry["column"], entry["code"])] += n
        if state.absent is not None:
            for entry in state.absent[2]:
                run.counts[(entry["column"], entry["code"])] += bad.height
    if run.constant_errors:
        fragments.append(pl.lit(_fragment(run.constant_errors), dtype=pl.String))
        for entry in run.constant_errors:
            run.counts[(entry["column"], entry["code"])] += bad.height
    errors = (
        pl.concat_str(
            [pl.lit("["), pl.concat_str(fragments, separator=",", ignore_nulls=True), pl.lit("]")]
        )
        if fragments
        else pl.lit("[]")
    )
    rows = bad.get_column(_POS)
    run.rejected_parts.append(
        data[rows].with_columns(
            numbers.gather(rows).alias(ROW_NUMBER),
            bad.with_columns(errors.alias(ERRORS)).get_column(ERRORS),
        )
    )


def _run_slice(run: _Run, data: pl.DataFrame, numbers: pl.Series) -> None:
    stage, all_ok = _fast_pass(run, data)
    keep = all_ok
    local: _Placed = {}
    undecided = (~all_ok).arg_true()
    bad = pl.DataFrame({_POS: pl.Series([], dtype=pl.UInt32)})
    if len(undecided):
        slow = _slow_rows(run, data, stage, undecided)
        rescued = slow.filter(pl.col(_ALL))
        if rescued.height:
            keep, local = _keep_rescued(run, all_ok, rescued)
        bad = slow.filter(~pl.col(_ALL))
    # Accepted rows need only their values (and the text of extras kept).
    columns = [stage.get_column(f.value).alias(f.spec.name) for f in run.compiled]
    if run.extras_kept:
        columns += data.select(_empty_as_null(c) for c in run.extras_kept).get_columns()
    kept = data.height if len(undecided) == 0 else int(keep.sum())
    run.keep_parts.append(keep)
    if columns:
        part = pl.DataFrame(columns)
        if len(undecided):
            part = _place(run, part.filter(keep), local)
        run.valid_parts.append(part)
    run.kept += kept
    _rejected_part(run, data, numbers, bad)


def _decimal_literals(state: _Field, data: pl.DataFrame, keep: pl.Series) -> list[Any]:
    """The accepted cells of a Decimal field as Pydantic reads canonical text."""
    assert state.key is not None
    cells = data.get_column(state.key).filter(keep).to_list()
    return [Decimal(c) if c else None for c in cells]


def _column(
    state: _Field, fast: pl.DataFrame | None, height: int, data: pl.DataFrame, run: _Run
) -> pl.Series:
    name = state.spec.name
    if state.key is None:
        assert state.absent is not None
        if state.spec.info.default_factory is not None:
            # A factory runs once per row in Pydantic; so it does here.
            values = [state.checker.absent()[1] for _ in range(height)]
        else:
            values = [state.absent[1]] * height
        return to_series(name, values, state.spec)
    if state.compiled is None:  # Pydantic decided every row of this field
        return to_series(name, state.py_values, state.spec)
    positions = (
        pl.concat(state.py_positions) if state.py_positions else pl.Series([], dtype=pl.Int64)
    )
    assert fast is not None
    if not state.unplaced:  # every slice's values are in place already
        return fast.get_column(name)
    exact = None
    if state.spec.kind == "decimal":
        # The typed column has the field's scale, not each literal's exponent.
        exact = lambda: _decimal_literals(state, data, pl.concat(run.keep_parts))  # noqa: E731
    return combine(state.spec, fast.get_column(name), positions, state.py_values, exact)


def _shadowing_extra(plan: ModelPlan, columns: list[str]) -> str | None:
    """Why ``extra='allow'`` sends this frame row by row, if it does.

    An extra column named like a field that reads another column (an alias)
    is kept by Pydantic as an extra, and ``model_dump`` then gives the extra's
    text under the field's name. Rare enough that Pydantic itself decides.
    """
    if plan.extra != "allow":
        return None
    used = plan.consumed_columns(columns)
    names = set(plan.output_fields)
    shadowing = [c for c in columns if c != ROW_NUMBER and c not in used and c in names]
    if not shadowing:
        return None
    return f"extra column {shadowing[0]!r} shadows the field of that name in model_dump"


class ColumnarValidator:
    """A model compiled once, applied to any number of frames.

    Compiling (the per-field expressions and Pydantic's single-field models)
    and Pydantic's cache of undecided values outlive one frame, so a stream of
    batches pays for them once; each :meth:`validate` is otherwise independent.
    """

    def __init__(self, model: type[BaseModel], *, slice_rows: int = SLICE_ROWS) -> None:
        self.model = model
        self.plan = plan_model(model)
        self.slice_rows = max(1, slice_rows)
        self._fallback = model_fallback_reason(self.plan)
        self._prepared: dict[tuple[str, ...], list[_Field]] = {}

    def _fields(self, columns: list[str]) -> list[_Field]:
        key = tuple(columns)
        if key not in self._prepared:
            self._prepared[key] = _prepare_fields(self.plan, columns)
        for field in self._prepared[key]:
            field.checker.trim(CACHE_LIMIT)
        # Fresh per-frame state; the compiled expressions and checkers are shared.
        return [
            dataclasses.replace(f, results=[], py_positions=[], py_values=[], unplaced=False)
            for f in self._prepared[key]
        ]

    def validate(self, frame: pl.DataFrame) -> ValidationResult:
        """Validate ``frame``; the result does not depend on earlier frames."""
        plan, model = self.plan, self.model
        reason = self._fallback or _shadowing_extra(plan, frame.columns)
        if reason is not None:
            result = validate_reference(frame, model, plan=plan)
            report = dataclasses.replace(
                result.report,
                engine="columnar",
                fallback_reasons={s.name: reason for s in plan.fields},
            )
            return dataclasses.replace(result, report=report)
        data, numbers = prepare_input(frame)
        columns = data.columns
        fields = self._fields(columns)
        output = output_columns(plan, columns)
        specs = {f.spec.name: f for f in fields}
        extras_kept = [c for c in output if c not in specs]
        extras = [c for c in columns if c not in plan.consumed_columns(columns)]
        extra_errors: list[ErrorEntry] = []
        if plan.extra == "forbid":
            extra_errors = [
                {"column": c, "code": "extra_column", "message": "Extra inputs are not permitted"}
                for c in extras
            ]
        run = _Run(
            fields=fields,
            extras_kept=extras_kept,
            constant_ok=not extra_errors and all(f.absent is None or f.absent[0] for f in fields),
            constant_errors=extra_errors,
        )
        step = self.slice_rows
        for offset in range(0, max(data.height, 1), step):
            _run_slice(run, data.slice(offset, step), numbers.slice(offset, step))

        fast = (
            pl.concat(run.valid_parts, how="vertical", rechunk=False) if run.valid_parts else None
        )
        run.valid_parts.clear()
        out: list[pl.Series] = []
        for name in output:
            if name in specs:
                out.append(_column(specs[name], fast, run.kept, data, run).alias(name))
            else:  # an extra column kept by extra='allow': Pydantic keeps the text
                assert fast is not None
                out.append(fast.get_column(name))
        valid_frame = pl.DataFrame(out) if out else pl.DataFrame(height=run.kept)
        rejected = pl.concat(run.rejected_parts, how="vertical", rechunk=False)
        report = ValidationReport(
            total=data.height,
            valid_count=valid_frame.height,
            rejected_count=rejected.height,
            error_counts={k: n for k, n in run.counts.items() if n},
            columnar_fields=tuple(f.spec.name for f in fields if f.compiled is not None),
            fallback_fields=tuple(f.spec.name for f in fields if f.compiled is None),
            engine="columnar",
            fallback_reasons={f.spec.name: f.reason for f in fields if f.reason is not None},
        )
        return ValidationResult(valid=valid_frame, rejected=rejected, report=report)


def validate_columnar(
    frame: pl.DataFrame, model: type[BaseModel], *, slice_rows: int = SLICE_ROWS
) -> ValidationResult:
    """Validate ``frame`` with the compiled plan, Pydantic deciding what it cannot.

    ``slice_rows`` bounds the rows processed at once; the result does not
    depend on it.
    """
    return ColumnarValidator(model, slice_rows=slice_rows).validate(frame)
