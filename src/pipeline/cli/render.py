"""Shared rendering for CLI commands: errors, JSON, exit codes.

Human text goes to stderr; with ``--json`` exactly one JSON object goes to
stdout. A traceback appears only with ``--debug``.
"""

from __future__ import annotations

import json
import sys
import traceback
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from pipeline.errors import ConfigError, PipelineError

__all__ = ["emit_json", "fail", "parse_as_of", "stderr", "styled"]

# markup=False: paths, column names and messages come from users' data and files;
# a "[/]" in a file name must print as text, not be parsed as Rich markup.
stderr = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def styled(*parts: tuple[str, str | None]) -> Text:
    """Text from (text, style) parts; user text is never parsed as markup."""
    out = Text()
    for text, style in parts:
        out.append(text, style=style)
    return out


def parse_as_of(text: str | None) -> datetime | None:
    """``--as-of``: an RFC 3339 time with a zone (``Z`` for UTC), or None when not given."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--as-of {text!r} is not an RFC 3339 time",
            key="as_of",
            hint="write it like 2024-01-31T00:00:00Z",
        ) from None
    if moment.tzinfo is None:
        raise ConfigError("--as-of needs a time zone", key="as_of", hint="append Z for UTC")
    return moment


_emitted = False


def emit_json(payload: dict[str, Any], *, indent: int | None = None) -> None:
    """Print one JSON object on stdout (every command's JSON goes through here)."""
    global _emitted
    sys.stdout.write(json.dumps(payload, indent=indent, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
    _emitted = True


def json_emitted() -> bool:
    """Whether this process printed its JSON object already."""
    return _emitted


def fail(error: BaseException, *, debug: bool, as_json: bool = False, run: bool = False) -> int:
    """Report ``error`` as one paragraph (traceback with --debug); return its exit code.

    ``run``: the JSON is a run's result (every field, see :func:`no_run`); other
    commands print ``success`` and ``errors`` only."""
    if debug:
        cause = error.__cause__ if error.__cause__ is not None else error
        traceback.print_exception(cause, file=sys.stderr)
    if isinstance(error, PipelineError):
        code = error.exit_code
        text = str(error)
        errors = [error.to_dict()]
    else:
        code = 2
        text = f"unexpected {type(error).__name__}. Hint: run again with --debug and report it."
        errors = [{"code": type(error).__name__}]
    stderr.print(styled(("error: ", "bold red"), (text, None)))
    if as_json:
        emit_json(no_run(errors) if run else {"success": False, "errors": errors})
    return code


def no_run(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON result of a run that never started (bad options, a spec that does not
    load): every field a result has, unknown ones null, so a caller parses one shape
    (it was only ``success`` and ``errors``; found by review)."""
    from pipeline.result import PipelineResult

    out: dict[str, Any] = {
        name: None if field.is_required() else field.get_default(call_default_factory=True)
        for name, field in PipelineResult.model_fields.items()
    }
    out.update(success=False, errors=errors)
    return out
