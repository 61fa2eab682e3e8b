"""The `pipeline` command: a thin Typer layer over the library.

Each command group lives in its own module (``run``, ``audit``, ``keys``,
``lineage``, ...) and defines a ``typer.Typer`` named ``app``; this module
only assembles them and maps :class:`~pipeline.errors.PipelineError` to exit
codes.
"""

from __future__ import annotations

import typer

from pipeline.cli import audit, keys, lineage

app = typer.Typer(
    name="pipeline",
    help="Run regulated ETL jobs and verify the evidence they leave.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(lineage.app, name="lineage")


def main() -> None:
    """Console-script entry point."""
    app()
