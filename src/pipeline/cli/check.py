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
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer

from pipeline.cli.render import emit_json, fail, parse_as_of, stderr, styled
from pipeline.context import utc_now
from pipeline.errors import ConfigError, InputError, PipelineError, SpecError
from pipeline.specfile import parse_yaml

# The quality engine is imported inside the functions: every `pipeline` command
# imports this module to register `check`, and `pipeline run` must not pay for it.
if TYPE_CHECKING:
    from pipeline.quality import QualityOutcome, QualitySection

__all__ = ["check", "load_rules_file"]


def load_rules_file(path: Path) -> QualitySection:
    """Read a rules YAML: a list of rules, ``{stage, rules}``, or a spec with ``quality:``."""
    from pipeline.quality import parse_quality

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read the rules file ({exc.strerror or exc})",
            dataset=str(path),
            hint="check the --rules path",
        ) from None
    _node, data = parse_yaml(text, str(path), "rules file")
    if isinstance(data, dict) and "quality" in data:
        data = data["quality"]
    try:
        return parse_quality(data)
    except SpecError as error:
        error.dataset = str(path)
        raise


def _typed(
    input_path: str,
    schema: str | None,
    steps: list[Any] | None = None,
    options: dict[str, Any] | None = None,
    base_dir: Path | None = None,
    as_of: datetime | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Read and validate exactly as a run does (then run the steps, in memory, when the
    rules judge the output); return the rows the rules see and the counts."""
    from pipeline.context import RunContext
    from pipeline.execution.common import run_steps, validate_frame
    from pipeline.io import open_source
    from pipeline.schema import Validator, load_model
    from pipeline.steps import compile_steps

    read = open_source(input_path).read(options=options)
    validator = Validator(load_model(schema)) if schema is not None else None
    frame, rejected, _report = validate_frame(read.frame, read.columns, validator, read.typed_frame)
    counts = {
        "input_records": read.records,
        "malformed_records": len(read.malformed),
        "rejected_records": rejected.height,
    }
    if steps:
        ctx = RunContext(pipeline_id="check", as_of=as_of or utc_now())
        frame, filtered = run_steps(frame, compile_steps(steps, base_dir=base_dir), ctx)
        counts["filtered_records"] = sum(filtered.values())
    counts["valid_records"] = frame.height
    return frame, counts


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
    spec_path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[SPEC.yaml]", help="A pipeline spec: its source, schema and rules."
        ),
    ] = None,
    input_path: Annotated[
        str | None, typer.Option("--input", "-i", help="Dataset file or URI, e.g. data/claims.csv.")
    ] = None,
    rules_path: Annotated[
        Path | None,
        typer.Option("--rules", "-r", help="Rules YAML: a list of rules or a spec's quality:."),
    ] = None,
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
    """Check a dataset against schema and quality rules; nothing is written.

    Examples: pipeline check examples/claims/pipeline.yaml
              pipeline check --input data/claims.csv --rules rules.yaml --json
    """
    from pipeline.quality import evaluate, parse_quality
    from pipeline.quality.render import results_table

    try:
        moment = parse_as_of(as_of) or utc_now()
        if spec_path is not None:
            from pipeline.spec_loader import load_spec

            spec = load_spec(spec_path)
            section = parse_quality({"stage": spec.quality.stage, "rules": spec.quality.rules})
            input_path = spec.source.uri
            frame, counts = _typed(
                spec.source.uri, schema or spec.schema_ref,
                list(spec.steps) if section.stage == "output" else None,
                dict(spec.source.options), spec_path.parent, moment,
            )  # fmt: skip
        elif input_path is None or rules_path is None:
            raise ConfigError(
                "give a spec file, or both --input and --rules",
                hint="e.g. pipeline check --input data/claims.csv --rules rules.yaml",
            )
        else:
            section = load_rules_file(rules_path)
            frame, counts = _typed(input_path, schema)
        outcome = evaluate(frame, section.rules, as_of=moment, metrics=False)
    except PipelineError as error:
        raise typer.Exit(fail(error, debug=debug, as_json=as_json)) from None
    stderr.print(results_table(outcome.results, title=f"quality: {input_path}"))
    state = ("passed", "green") if outcome.passed else ("failed", "red")
    stderr.print(
        styled(
            ("check ", None),
            state,
            (
                f": {counts['valid_records']} rows checked, "
                f"{len(outcome.failed_errors)} error rule(s) and "
                f"{len(outcome.failed_warnings)} warning rule(s) failed",
                None,
            ),
        )
    )
    if as_json:
        emit_json(_payload(input_path, counts, outcome))
    if not outcome.passed:
        raise typer.Exit(1)
