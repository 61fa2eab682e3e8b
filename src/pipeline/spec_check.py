"""``pipeline spec check``: prove a spec can run, without running it.

Loads the schema, compiles every step and quality rule, and pushes the
input's column schema through the steps on an empty frame, so a column that
does not exist at some step is reported with the step's name, the columns
that do exist there and the nearest one — before any data is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.context import RunContext
from pipeline.errors import PipelineError, SpecError
from pipeline.execution.common import lineage_through, proven_columns
from pipeline.infer import TypeInferrer
from pipeline.io import ROW_NUMBER, open_source
from pipeline.io.files import FileSource
from pipeline.schema import load_model, validate
from pipeline.spec import PipelineSpec
from pipeline.specfile import nearest
from pipeline.steps import Step, compile_steps

__all__ = ["SpecCheck", "check_spec"]

# Polars words it "unable to find column "x"" (an expression) or ""x" not found" (rename).
_MISSING = re.compile(r'unable to find column "([^"]+)"|^"([^"]+)" not found')


@dataclass(slots=True)
class SpecCheck:
    """What the check found: the columns after each step (names and types)."""

    name: str
    spec_hash: str | None
    input_columns: list[tuple[str, str]]
    steps: list[dict[str, Any]] = field(default_factory=list)
    quality_rules: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "ok": True,
            "name": self.name,
            "spec_hash": self.spec_hash,
            "input_columns": [{"name": n, "type": t} for n, t in self.input_columns],
            "steps": self.steps,
            "quality_rules": self.quality_rules,
        }


def _input_schema(spec: PipelineSpec, steps: list[Step], base: Path | None) -> pl.Schema:
    """The typed columns validation produces (schema), or the types a run infers.

    Without a schema the source is read (in chunks, bounded memory) and typed
    as a run types it: the check pushed every CSV column through the steps as
    text, so ``length(zip)`` passed the check and failed the run on the Int64
    the run proved, and ``amount + 1`` the other way round; JSON Lines and
    SQLite sources were not checked at all (found by review).
    """
    if spec.schema_ref is not None:
        model = load_model(spec.schema_ref, base_dir=base)
        names = [f.alias or name for name, f in model.model_fields.items()]
        empty = pl.DataFrame({n: pl.Series([], dtype=pl.String) for n in names})
        return validate(empty, model).valid.schema
    source = open_source(spec.source.uri, spec.source.format)
    if isinstance(source, FileSource) and not source.path.exists():
        raise SpecError(
            "without a schema the input columns come from the source, which cannot be read now",
            dataset=source.location,
            hint="declare `schema:` or check the spec where the source exists",
        )
    opaque = bool(spec.quality.rules) or any(step.kind == "python" for step in steps)
    for exact in (False, True):  # the fast reader first, as a run reads
        batches = source.read_batches(options=dict(spec.source.options), exact=exact)
        columns = list(batches.columns)
        # As a run proves them (execution.common.Typing): rules and python code may
        # read any column.
        proven = columns if opaque else proven_columns(lineage_through(steps, columns), columns)
        inferrer = TypeInferrer(columns, infer=proven)
        for text, typed in batches:
            if typed is not None:  # a typed source (Parquet, a table) keeps its own types
                return pl.Schema({n: t for n, t in typed.schema.items() if n != ROW_NUMBER})
            inferrer.update(text)
        if batches.shape_ok:
            break  # else ragged records: the exact reader sets them apart, as in a run
    return inferrer.schema()


def check_spec(spec: PipelineSpec) -> SpecCheck:
    """Check a loaded spec end to end; raise :class:`SpecError` at the first problem."""
    base = spec.spec_path.parent if spec.spec_path else None
    steps = compile_steps(list(spec.steps), base_dir=base)
    schema = _input_schema(spec, steps, base)
    report = SpecCheck(spec.name, spec.spec_hash, [(n, str(t)) for n, t in schema.items()])
    frame = pl.DataFrame(schema={ROW_NUMBER: pl.Int64, **dict(schema)}).lazy()
    ctx = RunContext(pipeline_id=spec.name)
    rules: list[Any] = []
    if spec.quality.rules:
        from pipeline.quality import parse_rules

        rules = parse_rules(spec.quality.rules)
        report.quality_rules = len(rules)
    if spec.quality.stage == "input":
        _check_rule_columns(rules, frame, "the input")
    for step in steps:
        available = [c for c in frame.collect_schema() if c != ROW_NUMBER]
        try:
            frame = step.apply(frame, ctx)
            after = frame.collect_schema()
            # Over the empty frame: Polars checks some types only when it runs an
            # expression (length() of an Int64 column planned, then failed the run).
            frame.collect()
        except PipelineError:
            raise
        except pl.exceptions.ColumnNotFoundError as exc:
            missing = _MISSING.search(str(exc))
            column = (missing.group(1) or missing.group(2)) if missing else "?"
            guess = nearest(column, available)
            raise SpecError(
                f"column {column!r} does not exist at this step; it has "
                f"{', '.join(available) or 'no columns'}",
                step=step.name,
                column=column,
                hint=f"did you mean {guess!r}?"
                if guess
                else "check the earlier select/rename steps",
            ) from None
        except pl.exceptions.PolarsError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SpecError(
                f"the step does not fit the columns it gets ({first})", step=step.name
            ) from None
        report.steps.append(
            {
                "name": step.name,
                "kind": step.kind,
                "columns": [
                    {"name": n, "type": str(t)} for n, t in after.items() if n != ROW_NUMBER
                ],
                **({"fingerprint": step.fingerprint} if step.fingerprint else {}),
            }
        )
    if spec.quality.stage == "output":
        _check_rule_columns(rules, frame, "the output")
    return report


def _check_rule_columns(rules: list[Any], frame: pl.LazyFrame, where: str) -> None:
    columns = set(frame.collect_schema()) - {ROW_NUMBER}
    for rule in rules:
        named = [getattr(rule, "column", None), *(getattr(rule, "columns", None) or [])]
        for column in named:
            if isinstance(column, str) and column not in columns:
                guess = nearest(column, columns)
                raise SpecError(
                    f"quality rule {rule.id!r} checks column {column!r}, "
                    f"which {where} does not have",
                    column=column,
                    hint=f"did you mean {guess!r}?"
                    if guess
                    else "set quality.stage to where the column exists",
                )
