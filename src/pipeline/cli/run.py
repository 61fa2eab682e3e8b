"""`pipeline run` (and the seed's bare `pipeline --input ...` form)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from pipeline.cli.render import emit_json, fail, parse_as_of, stderr, styled
from pipeline.cli.signals import settled
from pipeline.errors import (
    ConfigError,
    InterruptedRunError,
    PipelineError,
    RunInterrupted,
    error_for_code,
)
from pipeline.result import PipelineResult
from pipeline.runner import INTERRUPTED, execute
from pipeline.spec import PipelineConfig
from pipeline.spec_loader import load_spec

__all__ = ["run"]


def _summary(result: PipelineResult) -> None:
    state = ("succeeded", "green") if result.success else ("failed", "red")
    filtered = sum(result.filtered_records.values())
    # A failed run's counts are what it computed; say which files it did not publish.
    written = "" if result.output_hash else " (not written)"
    stderr.print(
        styled(
            (f"run {result.run_id} ", None),
            state,
            (
                f": {result.input_records} in → {result.output_records} out{written}, "
                f"{result.rejected_records} rejected, {filtered} filtered",
                None,
            ),
        )
    )
    if result.quality:
        stderr.print(_quality_table(result.quality))
    if result.output_hash:
        stderr.print(f"  output  {result.output_path}  sha256:{result.output_hash}")
    if result.rejected_records and result.quarantine_hash:
        stderr.print(f"  rejected rows → {result.quarantine_path}")
    elif result.rejected_records:
        stderr.print("  rejected rows: the quarantine was not written")
    stderr.print(f"  audit   {result.audit_path}")


def _quality_table(rules: list[dict[str, Any]]) -> Table:
    """The run's quality results: rule id, type, severity, failing rows, pass ratio, status."""
    table = Table(title="quality", title_justify="left")
    for name in ("rule id", "rule", "severity"):
        table.add_column(name)
    for name in ("failed rows", "pass ratio"):
        table.add_column(name, justify="right")
    table.add_column("status")
    for r in rules:
        ratio = r.get("ratio")
        status = (
            ("pass", "green")
            if r["passed"]
            else (("FAIL", "red") if r["severity"] == "error" else ("warn", "yellow"))
        )
        table.add_row(
            Text(str(r["id"])),
            Text(str(r["rule"])),
            Text(str(r["severity"])),
            str(r["failed_rows"]),
            "-" if ratio is None else f"{ratio:.4%}",
            Text(status[0], style=status[1]),
        )
    return table


def run(
    spec_path: Annotated[
        Path | None,
        typer.Argument(
            metavar="[SPEC.yaml]",
            help="A pipeline spec file (instead of --input/--output/--audit).",
        ),
    ] = None,
    input_path: Annotated[
        str | None,
        typer.Option("--input", "-i", help="Source file or URI, e.g. data/sample_input.csv."),
    ] = None,
    output_path: Annotated[
        str | None, typer.Option("--output", "-o", help="Output file (.csv, .parquet, .jsonl).")
    ] = None,
    audit_path: Annotated[
        Path | None, typer.Option("--audit", "-a", help="Append-only audit log (JSON Lines).")
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema", help="Pydantic model validating rows, e.g. examples.claims.model:Claim."
        ),
    ] = None,
    quarantine: Annotated[
        str | None,
        typer.Option("--quarantine", help="Rejected rows (default OUTPUT-STEM.rejected.csv)."),
    ] = None,
    max_rejected_ratio: Annotated[
        float | None,
        typer.Option("--max-rejected-ratio", help="Fail (exit 1) when more rows are rejected."),
    ] = None,
    pipeline_id: Annotated[
        str | None, typer.Option("--pipeline-id", help="Job name (default: output stem).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who runs it (default: the OS user).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why it runs; recorded in the audit log.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Pin the run time, RFC 3339 with zone, e.g. 2024-01-31T00:00:00Z."
        ),
    ] = None,
    signing_key: Annotated[
        Path | None, typer.Option("--signing-key", help="Ed25519 key signing checkpoints.")
    ] = None,
    lineage_store: Annotated[
        Path | None,
        typer.Option(
            "--lineage-store",
            help="Lineage SQLite store (default lineage.db beside the audit log).",
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="batch, streaming or auto (default: the spec's, else batch)."),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="Validation engine: columnar or reference.")
    ] = "columnar",
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Accept a source with no records.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Run a pipeline: read, validate, transform, write, and record audit and lineage.

    Examples: pipeline run --input data/sample_input.csv --output out/output.csv \\
                --audit out/audit.jsonl
              pipeline run examples/claims/pipeline.yaml --as-of 2024-12-31T00:00:00Z --json
    """
    options = {
        "input_path": input_path,
        "output_path": output_path,
        "audit_path": audit_path,
        "schema": schema,
        "quarantine_path": quarantine,
        "max_rejected_ratio": max_rejected_ratio,
        "pipeline_id": pipeline_id,
        "actor": actor,
        "reason": reason,
        "signing_key": signing_key,
        "lineage_store": lineage_store,
        "mode": mode,
        "engine": engine,
        "allow_empty": allow_empty or None,
        "progress": not as_json and sys.stderr.isatty(),
    }
    try:
        options["as_of"] = parse_as_of(as_of)
        if spec_path is not None:
            config = load_spec(spec_path).to_config(**options)
        else:
            missing = [
                f"--{k.removesuffix('_path')}"
                for k in ("input_path", "output_path", "audit_path")
                if options[k] is None
            ]
            if missing:
                raise ConfigError(
                    f"missing option{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                    hint="give a spec file or --input, --output and --audit "
                    "(see `pipeline run --help`)",
                )
            config = PipelineConfig(**{k: v for k, v in options.items() if v is not None})
    except PipelineError as error:
        raise typer.Exit(fail(error, debug=debug, as_json=as_json, run=True)) from None
    except ValueError as exc:
        config_error = ConfigError(_first_pydantic_error(exc), hint="see `pipeline run --help`")
        raise typer.Exit(fail(config_error, debug=debug, as_json=as_json, run=True)) from None
    try:
        outcome = execute(config)
        settled()
    except PipelineError as error:
        settled()
        raise typer.Exit(fail(error, debug=debug, as_json=as_json, run=True)) from None
    except RunInterrupted as stop:
        settled()
        # The run logged its failure; say so in one paragraph, not a traceback, and
        # with --json print the result the run logged (not a run that never started).
        if as_json:
            emit_json(stop.result.model_dump(mode="json"))
        raise typer.Exit(fail(InterruptedRunError(INTERRUPTED), debug=False)) from None
    # A plain KeyboardInterrupt (before the run's first entry) goes on to main(), which
    # says so for every command.
    result = outcome.result
    if as_json:
        emit_json(result.model_dump(mode="json"))
    if outcome.error is not None:
        fail(outcome.error, debug=debug)
        _summary(result)
        raise typer.Exit(outcome.error.exit_code)
    if not result.success:
        raise typer.Exit(error_for_code(str(result.errors[0].get("code"))).exit_code)
    if not as_json:
        _summary(result)


def _first_pydantic_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"option {where or '?'}: {first.get('msg')}"
    return str(exc)
