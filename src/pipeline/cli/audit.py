"""`pipeline audit ...`: verify, prove, show and export an audit log.

Thin over :mod:`pipeline.audit`: each command parses, calls the library and
renders. ``--json`` prints one JSON object on stdout; everything human goes
to stderr. Exit codes: 0 ok, 1 tamper or failed check, 2 usage or I/O.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from pipeline.audit import (
    load_verifier,
    prove_inclusion,
    read_entries,
    verify_log,
)
from pipeline.audit.export import EntryFilter, export_entries, filter_entries
from pipeline.audit.note import Verifier
from pipeline.cli.render import emit_json
from pipeline.errors import PipelineError

app = typer.Typer(
    help="Verify, prove, show and export tamper-evident audit logs.",
    no_args_is_help=True,
    add_completion=False,
)

_err = Console(stderr=True, highlight=False, markup=False)

AuditArg = Annotated[Path, typer.Argument(help="The audit log (JSON Lines).", metavar="AUDIT")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback on errors.")]
KeysOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--public-key",
        help="Pinned verifier key: a file (audit.pub) or name+id+key. Repeat after a rotation.",
    ),
]


def _fail(exc: PipelineError, as_json: bool, debug: bool) -> NoReturn:
    if debug:
        raise exc
    if as_json:
        emit_json({"ok": False, "error": exc.to_dict()})
    _err.print(f"error: {exc}", markup=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _run(as_json: bool, debug: bool, body: Callable[[], int]) -> None:
    try:
        code = body()
    except PipelineError as exc:
        _fail(exc, as_json, debug)
    raise typer.Exit(code)


def _verifiers(keys: list[str] | None) -> list[Verifier]:
    return [load_verifier(k) for k in keys or []]


def _parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an RFC 3339 time", param_hint=option) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def verify(
    audit: AuditArg,
    public_key: KeysOpt = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="A signed checkpoint kept where the log's writer cannot change it.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check every entry, link, Merkle root and signature of AUDIT.

    Example: pipeline audit verify out/audit.jsonl --public-key keys/audit.pub
    """

    def body() -> int:
        verifiers = _verifiers(public_key)
        trusted = None
        if checkpoint is not None:
            try:
                trusted = checkpoint.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                # Not UTF-8 is no checkpoint: a usage error (2), not a tamper finding (1).
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise PipelineError(
                    f"cannot read checkpoint {checkpoint}: {reason}",
                    hint="pass a file holding one signed-note checkpoint",
                ) from exc
        report = verify_log(audit, public_keys=verifiers, trusted_checkpoint=trusted)
        if as_json:
            emit_json(report.to_dict())
        if report.finding is None:
            signed = (
                f", {report.checkpoints_verified} signed checkpoint(s) verified"
                if verifiers
                else " (signatures not checked: pass --public-key)"
            )
            _err.print(f"OK: {report.entries} entries intact{signed}.", soft_wrap=True)
            for warning in report.warnings:
                _err.print(f"warning: {warning}", soft_wrap=True)
            if report.recoveries:
                _err.print(f"note: {report.recoveries} torn tail(s) recovered.")
            return 0
        f = report.finding
        where = f" at seq {f.seq}" if f.seq is not None else ""
        _err.print(f"TAMPERED: {f.kind}{where}: {f.message}.", soft_wrap=True, markup=False)
        return 1

    _run(as_json, debug, body)


@app.command()
def prove(
    audit: AuditArg,
    seq: Annotated[int, typer.Option("--seq", help="The entry's seq (0-based).")],
    public_key: KeysOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Print an RFC 9162 inclusion proof of entry SEQ against the latest checkpoint.

    Example: pipeline audit prove out/audit.jsonl --seq 3 --public-key keys/audit.pub
    """

    def body() -> int:
        doc = prove_inclusion(audit, seq, public_keys=_verifiers(public_key))
        emit_json(doc)
        if not as_json:
            _err.print(
                f"entry {seq} is leaf {doc['leaf_index']} of {doc['tree_size']}; "
                f"{len(doc['proof'])} proof hashes",
                soft_wrap=True,
            )
        return 0

    _run(as_json, debug, body)


def _filter(
    run: str | None,
    pipeline_id: str | None,
    action: str | None,
    actor: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
) -> EntryFilter:
    return EntryFilter(
        run_id=run,
        pipeline_id=pipeline_id,
        action=action,
        actor=actor,
        status=status,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
    )


RunOpt = Annotated[str | None, typer.Option("--run", help="Only this run_id.")]
PipeOpt = Annotated[str | None, typer.Option("--pipeline", help="Only this pipeline_id.")]
ActionOpt = Annotated[str | None, typer.Option("--action", help="Only this action.")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Only this actor.")]
StatusOpt = Annotated[str | None, typer.Option("--status", help="Only this status.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="From this RFC 3339 time.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Up to this RFC 3339 time.")]


@app.command()
def show(
    audit: AuditArg,
    run: RunOpt = None,
    pipeline_id: PipeOpt = None,
    action: ActionOpt = None,
    actor: ActorOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Show the last N.")] = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show entries as a table (filters: run, pipeline, action, actor, status, time).

    Example: pipeline audit show out/audit.jsonl --action write_csv --since 2024-01-01
    """
    flt = _filter(run, pipeline_id, action, actor, status, since, until)

    def body() -> int:
        entries = list(filter_entries(read_entries(audit), flt))
        if limit is not None:
            entries = entries[-limit:] if limit > 0 else []
        if as_json:
            emit_json({"count": len(entries), "entries": [e.to_dict() for e in entries]})
            return 0
        table = Table(title=f"{audit} ({len(entries)} entries)")
        for col in ("seq", "timestamp", "actor", "run", "stage", "action", "status", "records"):
            table.add_column(col, justify="right" if col in ("seq", "records") else "left")
        for e in entries:
            table.add_row(
                str(e.seq),
                e.timestamp,
                e.actor or "",
                e.run_id or "",
                e.stage,
                e.action,
                e.status,
                "" if e.record_count is None else str(e.record_count),
            )
        _err.print(table)
        return 0

    _run(as_json, debug, body)


@app.command()
def export(
    audit: AuditArg,
    fmt: Annotated[
        str, typer.Option("--format", help="csv or jsonl (a human-readable review copy).")
    ] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    run: RunOpt = None,
    pipeline_id: PipeOpt = None,
    action: ActionOpt = None,
    actor: ActorOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Export entries as CSV or JSON Lines for review (21 CFR Part 11 §11.10(b)).

    Example: pipeline audit export out/audit.jsonl --format csv --out audit-review.csv
    """
    if fmt not in ("csv", "jsonl"):
        raise typer.BadParameter("choose csv or jsonl", param_hint="--format")
    kind: Literal["csv", "jsonl"] = "csv" if fmt == "csv" else "jsonl"
    flt = _filter(run, pipeline_id, action, actor, status, since, until)
    if out is None and as_json:
        raise typer.BadParameter("--json needs --out (stdout carries the result)")

    def body() -> int:
        entries = filter_entries(read_entries(audit), flt)
        summary: dict[str, Any]
        if out is None:
            count = export_entries(entries, sys.stdout, kind)
        else:
            try:
                with out.open("w", encoding="utf-8", newline="") as fh:
                    count = export_entries(entries, fh, kind)
            except OSError as exc:
                raise PipelineError(f"cannot write {out}: {exc.strerror}") from exc
        summary = {"ok": True, "format": kind, "count": count, "out": str(out) if out else None}
        if as_json:
            emit_json(summary)
        _err.print(f"exported {count} entries as {kind}" + (f" to {out}" if out else ""))
        return 0

    _run(as_json, debug, body)
