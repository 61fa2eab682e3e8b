"""`pipeline check`: schema and quality rules on a dataset, without transforming or writing it.

Reads the input through the connector layer, validates it (the schema if
given, else the same type inference a run uses), evaluates the rules and
reports: a Rich table on stderr, one JSON object on stdout with ``--json``.
Exit 0 when every error-severity rule passes, 1 when one fails, 2 for usage,
spec or I/O errors.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
import yaml

from pipeline.cli.render import emit_json, fail, stderr
from pipeline.context import utc_now
from pipeline.errors import ConfigError, InputError, PipelineError, SpecError
from pipeline.quality import QualityOutcome, QualitySection, evaluate, parse_quality
from pipeline.quality.render import results_table

__all__ = ["check", "load_rules_file"]


def load_rules_file(path: Path) -> QualitySection:
    """Read a rules YAML: a list of rules, ``{stage, rules}``, or a spec with ``quality:``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read the rules file ({exc.strerror or exc})",
            dataset=str(path),
            hint="check the --rules path",
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(
            f"the rules file is not valid YAML ({getattr(exc, 'problem', None) or 'syntax error'})",
            dataset=str(path),
            line=None if mark is None else mark.line + 1,
        ) from None
    if isinstance(data, dict) and "quality" in data:
        data = data["quality"]
    try:
        return parse_quality(data)
    except SpecError as error:
        error.dataset = str(path)
        raise


def _typed(input_path: str, schema: str | None) -> tuple[pl.DataFrame, dict[str, int]]:
    """Read and validate like a run does; return the valid typed rows and the counts."""
    from pipeline.infer import infer_types
    from pipeline.io import ROW_NUMBER, open_source
    from pipeline.schema import load_model, validate

    read = open_source(input_path).read()
    counts = {"input_records": read.records, "malformed_records": len(read.malformed)}
    if schema is None:
        frame = read.typed_frame if read.typed_frame is not None else read.frame
        if read.typed_frame is None:
            typed = infer_types(read.frame, read.columns)
            frame = typed.with_columns(read.frame.get_column(ROW_NUMBER))
        counts["rejected_records"] = 0
    else:
        result = validate(read.frame, load_model(schema))
        frame = result.valid
        counts["rejected_records"] = result.rejected.height
    counts["valid_records"] = frame.height
    return frame, counts


def _as_of(text: str | None) -> datetime:
    """The moment freshness is judged at: --as-of (RFC 3339 with a zone), else now."""
    if text is None:
        return utc_now()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigError(
            f"--as-of {text!r} is not an RFC 3339 time with a zone",
            key="as_of",
            hint="write it like 2024-01-31T00:00:00Z",
        )
    return moment


def _payload(input_path: str, counts: dict[str, int], outcome: QualityOutcome) -> dict[str, Any]:
    return {
        "success": outcome.passed,
        "input": input_path,
        **counts,
        "quarantined_records": outcome.quarantined_rows,
        "quality": outcome.to_dict(),
        "errors": [
            {"code": "QualityGateError", "rule": r.id, "failed_rows": r.failed_rows}
            for r in outcome.failed_errors
        ],
    }


def check(
    input_path: Annotated[
        str, typer.Option("--input", "-i", help="Dataset file or URI, e.g. data/claims.csv.")
    ],
    rules_path: Annotated[
        Path,
        typer.Option("--rules", "-r", help="Rules YAML: a list of rules or a spec's quality:."),
    ],
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema", help="Pydantic model validating rows, e.g. examples.models:Claim."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Time freshness is judged at, e.g. 2024-01-31T00:00:00Z."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Check a dataset against schema and quality rules; nothing is transformed or written.

    Example: pipeline check --input data/claims.csv --rules rules.yaml --json
    """
    try:
        moment = _as_of(as_of)
        section = load_rules_file(rules_path)
        frame, counts = _typed(input_path, schema)
        outcome = evaluate(frame, section.rules, as_of=moment, metrics=False)
    except PipelineError as error:
        raise typer.Exit(fail(error, debug=debug, as_json=as_json)) from None
    stderr.print(results_table(outcome.results, title=f"quality: {input_path}"))
    state = "[green]passed[/]" if outcome.passed else "[red]failed[/]"
    stderr.print(
        f"check {state}: {counts['valid_records']} rows checked, "
        f"{len(outcome.failed_errors)} error rule(s) and "
        f"{len(outcome.failed_warnings)} warning rule(s) failed",
        markup=True,
    )
    if as_json:
        emit_json(_payload(input_path, counts, outcome))
    if not outcome.passed:
        raise typer.Exit(1)
