"""The `pipeline` command: a thin Typer layer over the library.

Each command group lives in its own module (``run``, ``audit``, ``keys``,
``lineage``, ...) and defines a ``typer.Typer`` named ``app`` or a command
function; this module only assembles them. The seed README's bare form
``pipeline --input IN --output OUT --audit AUDIT`` is the ``run`` command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from pipeline import __version__
from pipeline.cli import audit, keys, lineage, spec
from pipeline.cli.check import check
from pipeline.cli.render import emit_json, fail, json_emitted, no_run
from pipeline.cli.run import run
from pipeline.cli.signals import settled, stop_on_term
from pipeline.errors import InterruptedRunError
from pipeline.interrupts import settle_after_runs

__all__ = ["app", "main"]

app = typer.Typer(
    name="pipeline",
    help="Run regulated ETL jobs and verify the evidence they leave.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("run")(run)
app.command("check")(check)
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(lineage.app, name="lineage")
app.add_typer(spec.app, name="spec")

_GLOBAL_FLAGS = {"--help", "-h", "--version"}


def _with_implicit_run(argv: Sequence[str]) -> list[str]:
    """``pipeline --input …`` (the seed form) means ``pipeline run --input …``."""
    args = list(argv)
    if args and args[0].startswith("-") and args[0] not in _GLOBAL_FLAGS:
        return ["run", *args]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``pipeline``)."""
    args = _with_implicit_run(sys.argv[1:] if argv is None else argv)
    # SIGTERM (a scheduler stopping the job) ends a run as Ctrl-C does (cli.signals).
    stop_on_term()
    # One run per process: a stop after a run's commit is ignored, never delivered late.
    settle_after_runs()
    try:
        app(args=args, prog_name="pipeline")
    except KeyboardInterrupt:
        # A stop before a command got going (SIGTERM while Typer builds it gave a
        # traceback; found by review): one line and the shell's code for SIGINT.
        settled()
        stopped = InterruptedRunError(
            "the command was stopped (SIGINT or SIGTERM) before it finished",
            hint="a run stopped this early logged and wrote nothing; run the command again",
        )
        is_run = bool(args) and args[0] == "run"
        raise SystemExit(fail(stopped, debug=False, as_json="--json" in args, run=is_run)) from None
    except SystemExit as exc:
        # With --json, stdout holds one JSON object even when the command line itself
        # is wrong (Typer printed an unknown option's usage error on stderr only, and
        # stdout stayed empty; found by review). Typer's own text is on stderr.
        if "--json" in args and exc.code not in (0, None) and not json_emitted():
            errors = [
                {
                    "code": "UsageError",
                    "message": "the command line is not valid (the usage error is on stderr)",
                }
            ]
            emit_json(no_run(errors) if args[0] == "run" else {"success": False, "errors": errors})
        raise


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pipeline (regulated-data-pipelines) {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Run regulated ETL jobs and verify the evidence they leave."""
