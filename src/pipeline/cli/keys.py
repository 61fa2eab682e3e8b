"""`pipeline keys ...`: create the Ed25519 key pair that signs audit checkpoints.

Thin over :mod:`pipeline.audit.keys`. ``--json`` prints one JSON object on
stdout; everything human goes to stderr. Exit 0 ok, 2 usage or I/O.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.audit.keys import DEFAULT_KEY_NAME, generate_keypair
from pipeline.cli.render import emit_json
from pipeline.errors import PipelineError

app = typer.Typer(
    help="Create and manage audit signing keys.",
    no_args_is_help=True,
    add_completion=False,
)

_err = Console(stderr=True, highlight=False, markup=False)


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Directory for audit.key and audit.pub.")],
    name: Annotated[
        str, typer.Option("--name", help="Key name, bound into every signature.")
    ] = DEFAULT_KEY_NAME,
    force: Annotated[bool, typer.Option("--force", help="Replace existing key files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Write OUT/audit.key (private, mode 0600) and OUT/audit.pub (verifier key).

    Example: pipeline keys generate --out keys/ && pipeline run ... --signing-key keys/audit.key
    """
    try:
        pair = generate_keypair(out, name=name, overwrite=force)
    except PipelineError as exc:
        if debug:
            raise
        if as_json:
            emit_json({"ok": False, "error": exc.to_dict()})
        _err.print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        emit_json(
            {
                "ok": True,
                "private_key": str(pair.private_path),
                "public_key": str(pair.public_path),
                "vkey": pair.vkey,
            }
        )
    _err.print(
        f"wrote {pair.private_path} (keep it secret) and {pair.public_path}\n"
        f"verifier key: {pair.vkey}",
        soft_wrap=True,
        markup=False,
    )
