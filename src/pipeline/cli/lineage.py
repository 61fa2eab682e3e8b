"""`pipeline lineage ...`: query the lineage store, draw it, flush the OpenLineage spool.

Thin over :mod:`pipeline.lineage`: parse, call, render. ``--json`` prints one
JSON object on stdout; tables and messages go to stderr. Exit codes: 0 done,
1 flush left events undelivered (they stay spooled), 2 usage, configuration or
store errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.render import emit_json, styled
from pipeline.errors import LineageError, PipelineError
from pipeline.lineage.graph import GraphFormat, lineage_graph, render
from pipeline.lineage.openlineage import DEFAULT_SPOOL, LineageEmitter
from pipeline.lineage.tracker import LineageTracker

app = typer.Typer(
    help="Query lineage (ancestors, descendants, impact, history), draw it, flush OpenLineage.",
    no_args_is_help=True,
)
err = Console(stderr=True, markup=False)

StoreOpt = Annotated[
    Path, typer.Option("--store", help="Lineage store (SQLite) written by `pipeline run`.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback on errors.")]
DatasetArg = Annotated[str, typer.Argument(help="Dataset location as given to `run`.")]


def _guard(debug: bool, work: Callable[[], int]) -> None:
    try:
        code = work()
    except PipelineError as exc:
        if debug:
            raise
        err.print(styled(("error: ", "red"), (str(exc), None)), highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except Exception as exc:
        if debug:
            raise
        err.print(
            styled(("error: ", "red"), (f"{type(exc).__name__}: {exc}", None)), highlight=False
        )
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def _open(store: Path) -> LineageTracker:
    if not store.is_file():
        raise LineageError(
            "no lineage store here",
            dataset=str(store),
            hint="pass --store PATH (`pipeline run` writes lineage.db beside the audit log)",
        )
    return LineageTracker(store=store)


def _emit_json(data: dict[str, Any]) -> None:
    emit_json(data, indent=2)


def _short(value: str | None) -> str:
    return "-" if value is None else value[:12]


def _walk_tables(result: dict[str, Any], title: str) -> None:
    table = Table(title=f"{title} of {result['dataset']['location']}")
    for col in ("depth", "dataset", "namespace"):
        table.add_column(col, overflow="fold")
    for d in result["datasets"]:
        table.add_row(str(d["depth"]), d["location"], d["namespace"])
    err.print(table)
    runs = Table(title="runs")
    for col in ("run", "job", "status", "as_of", "read (hash)", "wrote (hash)"):
        runs.add_column(col, overflow="fold")
    for r in result.get("runs", []):
        runs.add_row(
            r["run_id"], r["job"], r["status"], r["as_of"] or "-",
            "\n".join(f"{i['location']} ({_short(i['hash'])})" for i in r["inputs"]),
            "\n".join(f"{o['location']} ({_short(o['hash'])})" for o in r["outputs"]),
        )  # fmt: skip
    err.print(runs)


def _walk_command(name: str, method: str, title: str) -> None:
    def command(
        dataset: DatasetArg,
        store: StoreOpt = Path("lineage.db"),
        as_json: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        def work() -> int:
            with _open(store) as tracker:
                result = getattr(tracker, method)(dataset)
            if as_json:
                _emit_json(result)
            else:
                _walk_tables(result, title)
            return 0

        _guard(debug, work)

    command.__doc__ = f"{title} of DATASET. Example: pipeline lineage {name} out/x.csv --json"
    app.command(name)(command)


_walk_command("ancestors", "ancestors", "Upstream datasets and the runs that made them")
_walk_command("descendants", "descendants", "Downstream datasets")
_walk_command("impact", "impact", "Datasets, jobs and runs affected by a change")


@app.command()
def history(
    dataset: DatasetArg,
    store: StoreOpt = Path("lineage.db"),
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Versions of DATASET, oldest first. Example: pipeline lineage history raw.csv"""

    def work() -> int:
        with _open(store) as tracker:
            result = tracker.history(dataset)
        if as_json:
            _emit_json(result)
            return 0
        table = Table(title=f"versions of {result['dataset']['location']}")
        for col in ("#", "sha256", "records", "as_of", "produced by", "read by"):
            table.add_column(col, overflow="fold")
        for v in result["versions"]:
            table.add_row(
                str(v["version"]), _short(v["hash"]), str(v["records"]), v["as_of"] or "-",
                ", ".join(v["produced_by"]) or "-", ", ".join(v["read_by"]) or "-",
            )  # fmt: skip
        err.print(table)
        return 0

    _guard(debug, work)


@app.command()
def graph(
    dataset: Annotated[
        str | None, typer.Argument(help="Centre the picture on this dataset (default: all).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="mermaid or dot.", case_sensitive=False)
    ] = "mermaid",
    store: StoreOpt = Path("lineage.db"),
    debug: DebugOpt = False,
) -> None:
    """Draw the lineage graph on stdout. Example: pipeline lineage graph --format dot | dot -Tsvg"""

    def work() -> int:
        choice = fmt.lower()
        if choice not in ("mermaid", "dot"):
            raise LineageError(
                f"unknown graph format {fmt!r}", hint="use --format mermaid or --format dot"
            )
        with _open(store) as tracker:
            picture = render(lineage_graph(tracker.store.conn, dataset), _format(choice))
        sys.stdout.write(picture)
        return 0

    _guard(debug, work)


def _format(choice: str) -> GraphFormat:
    return "dot" if choice == "dot" else "mermaid"


@app.command()
def flush(
    spool: Annotated[
        Path, typer.Option("--spool", help="Spool file of undelivered OpenLineage events.")
    ] = Path(DEFAULT_SPOOL),
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Re-send spooled OpenLineage events through the configured transport (OPENLINEAGE_URL, ...).

    Example: OPENLINEAGE_URL=http://marquez:5000 pipeline lineage flush --spool out/ol.jsonl
    """

    def work() -> int:
        emitter = LineageEmitter.from_environment(spool_path=spool)
        if emitter.client is None and emitter.unavailable is None:
            raise LineageError(
                "no OpenLineage transport is configured (or OPENLINEAGE_DISABLED=true)",
                hint="set OPENLINEAGE_URL, OPENLINEAGE__TRANSPORT__* or an openlineage.yml, "
                "then run `pipeline lineage flush` again",
            )
        result = emitter.flush()
        emitter.close()
        if as_json:
            _emit_json(result.to_dict())
        else:
            err.print(f"delivered {result.delivered}, still spooled {result.remaining}")
            for error in result.errors:
                err.print(
                    styled(("not delivered: ", "yellow"), (str(error), None)), highlight=False
                )
        return 0 if result.ok else 1

    _guard(debug, work)
