"""`pipeline spec check|schema`: validate a spec without running it; export its JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.render import emit_json, fail, stderr, styled
from pipeline.errors import PipelineError
from pipeline.spec import PipelineSpec
from pipeline.spec_loader import load_spec

__all__ = ["app"]

app = typer.Typer(
    help="Check pipeline spec files and export their JSON Schema.", no_args_is_help=True
)


@app.command("check")
def check(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC.yaml", help="The spec file to check.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on stdout.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Check a spec: keys, types, expressions, modules, and every column after every step.

    Example: pipeline spec check examples/claims/pipeline.yaml
    """
    # Imported here, not at the top: every `pipeline` command imports this module.
    from pipeline.spec_check import check_spec

    try:
        report = check_spec(load_spec(spec_path))
    except PipelineError as error:
        raise typer.Exit(fail(error, debug=debug, as_json=as_json)) from None
    if as_json:
        emit_json(report.to_dict())
        return
    stderr.print(
        styled(
            ("ok", "green"),
            (f": {spec_path} ({report.name}, spec sha256:{report.spec_hash})", None),
        )
    )
    for step in report.steps:
        columns = ", ".join(c["name"] for c in step["columns"])
        stderr.print(f"  {step['name']:<16} → {columns}")
    if report.quality_rules:
        stderr.print(f"  {report.quality_rules} quality rule(s) parse and name existing columns")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of spec files (for editor completion).

    Example: pipeline spec schema > pipeline.schema.json
    """
    document = PipelineSpec.model_json_schema(by_alias=True)
    for hidden in ("spec_path", "spec_hash"):
        document.get("properties", {}).pop(hidden, None)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "regulated-data-pipelines spec, version 1"
    emit_json(document, indent=2)
