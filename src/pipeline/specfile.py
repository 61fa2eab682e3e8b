"""Loading a YAML spec file: line numbers, ``${VAR}`` interpolation, relative paths.

The file is parsed twice by PyYAML: once into nodes (to know the line of
every key, and to refuse duplicate keys, which YAML would silently
collapse) and once into data. Errors become one :class:`SpecError` naming
the key path, its line and, for an unknown key, the nearest valid one.
``${VAR}`` is replaced from the environment *after* the spec hash is taken,
so a rotated password does not change the spec's identity, and a value from
the environment never appears in an error or in evidence.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rfc8785

from pipeline.errors import SpecError
from pipeline.hashing import sha256_bytes
from pipeline.redaction import register_secret

# PyYAML is imported by the functions that parse: the CLI imports this module for
# every command, and `pipeline run --input ...` reads no YAML.
if TYPE_CHECKING:
    import yaml

__all__ = [
    "LoadedYaml",
    "interpolate",
    "load_yaml",
    "nearest",
    "parse_yaml",
    "spec_error",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

Path_ = tuple[str | int, ...]


class LoadedYaml:
    """Parsed spec data with the line of every key path and the spec's hash."""

    def __init__(self, path: Path, data: dict[str, Any], lines: dict[Path_, int]) -> None:
        self.path = path
        self.data = data
        self.lines = lines
        self.sha256 = sha256_bytes(rfc8785.dumps(data))

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        """The line of the deepest known prefix of ``loc``."""
        return _line_of(self.lines, tuple(loc))


def load_yaml(path: Path) -> LoadedYaml:
    """Read and parse a spec file; :class:`SpecError` on anything but a YAML mapping."""
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            "the spec file does not exist", dataset=display, hint="check the path to the spec file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            f"the spec file cannot be read ({type(exc).__name__})", dataset=display
        ) from None
    node, data = parse_yaml(text, display, "spec")
    if not isinstance(data, dict) or node is None:
        raise SpecError(
            "the spec must be a YAML mapping with keys like version, source, sink",
            dataset=display,
            line=1,
        )
    lines: dict[Path_, int] = {}
    try:
        _walk(node, (), lines, display)
        _check_values(data, (), lines, display)
    except RecursionError:
        raise _too_deep(display) from None
    return LoadedYaml(path, data, lines)


def parse_yaml(text: str, display: str, what: str) -> tuple[yaml.Node | None, Any]:
    """The document's nodes (for line numbers) and its data, or one :class:`SpecError`
    (``what`` names the file: "spec", "rules file"). Aliases that expand past
    :data:`_MAX_VALUES` values are refused before anything walks the expansion."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_expansion(node, display)
        data = yaml.safe_load(text)
    except RecursionError:
        raise _too_deep(display) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise SpecError(
            f"the {what} is not valid YAML ({problem})",
            dataset=display,
            line=mark.line + 1 if mark is not None else None,
            hint="fix the YAML syntax at that line (indentation, quotes, colons)",
        ) from None
    return node, data


def _too_deep(display: str) -> SpecError:
    """PyYAML and the walks here recurse per nesting level; a file nested
    thousands deep ended in a RecursionError traceback."""
    return SpecError(
        "the YAML nests deeper than it can be read",
        dataset=display,
        hint="a pipeline spec or rules file nests a few levels; check for runaway brackets",
    )


_MAX_VALUES = 100_000
"""A spec holds hundreds of values. YAML aliases can make a short file expand
exponentially ("billion laughs": 9 lines became 10**8 values, and `spec check`
never returned), and the spec hash, the line map and the validation walk the
expansion; past this many values the file is refused."""


def _check_expansion(node: yaml.Node | None, display: str) -> None:
    """Refuse a YAML document whose aliases expand past :data:`_MAX_VALUES` values,
    before anything walks the expansion (the parsed data shares repeated parts,
    so parsing itself stays cheap)."""
    import yaml

    count = 0
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        count += 1
        if count > _MAX_VALUES:
            raise SpecError(
                f"the YAML expands to more than {_MAX_VALUES:,} values",
                dataset=display,
                hint="a pipeline spec or rules file needs far fewer; this usually means "
                "YAML aliases (*name) that repeat other aliases - write the values out",
            )
        if isinstance(current, yaml.MappingNode):
            stack.extend(value for _key, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], display: str) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key_node.tag != "tag:yaml.org,2002:str":
                # `2023:` is a number and `on:`/`yes:` a boolean to YAML: keys are names.
                raise SpecError(
                    f"the key {key!r} is not text to YAML (it reads as {_kind(key_node.tag)})",
                    dataset=display,
                    line=key_node.start_mark.line + 1,
                    key=".".join(map(str, (*path, key))),
                    hint=f"quote it: '{key}'",
                )
            if key in seen:
                raise SpecError(
                    f"key {key!r} appears twice",
                    dataset=display,
                    line=key_node.start_mark.line + 1,
                    key=".".join(map(str, (*path, key))),
                    hint="remove one of them; YAML would silently keep only the last",
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, display)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines, display)


def _line_of(lines: dict[Path_, int], loc: Path_) -> int | None:
    """The line of the deepest prefix of ``loc`` that ``lines`` knows."""
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def _kind(tag: str) -> str:
    return {
        "tag:yaml.org,2002:int": "a number",
        "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:bool": "true/false",
        "tag:yaml.org,2002:null": "null",
        "tag:yaml.org,2002:timestamp": "a date",
        "tag:yaml.org,2002:binary": "binary data",
    }.get(tag, tag.rsplit(":", 1)[-1])


_JSON_INT = 2**53 - 1
"""The largest integer canonical JSON (RFC 8785, the spec's hash) holds exactly."""


def _check_values(value: Any, path: Path_, lines: dict[Path_, int], display: str) -> None:
    """Every value is one JSON holds: the spec is hashed as canonical JSON, and its
    models take text, numbers and booleans. YAML's dates, binary, NaN and huge integers
    ended in a canonicalization traceback (found by review)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_values(item, (*path, key), lines, display)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_values(item, (*path, index), lines, display)
        return
    problem = None
    if isinstance(value, date | bytes):
        what = "a date" if isinstance(value, date) else "binary data"
        problem, hint = f"the value reads as {what} to YAML", "quote it to give it as text"
    elif isinstance(value, float) and not math.isfinite(value):
        problem, hint = "the value is not a finite number", "give a number, or quote it as text"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _JSON_INT:
        problem = "the number is too large to hold exactly"
        hint = f"numbers here stay within ±{_JSON_INT}; quote it to give it as text"
    if problem is not None:
        key = ".".join(map(str, path))
        raise SpecError(
            problem, dataset=display, line=_line_of(lines, path), key=key or None, hint=hint
        )


def interpolate(value: Any, loaded: LoadedYaml, path: Path_ = ()) -> Any:
    """Replace ``${VAR}`` in every string from the environment (``$${`` escapes)."""
    if isinstance(value, dict):
        return {k: interpolate(v, loaded, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, loaded, (*path, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    escaped = value.replace("$${", "\x00")

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise SpecError(
                f"environment variable {name} is not set",
                dataset=str(loaded.path),
                line=loaded.line_of(path),
                key=".".join(map(str, path)),
                hint=f"export {name}=... before running (its value is never printed or logged)",
            )
        register_secret(os.environ[name])  # never echoed: see pipeline.redaction
        return os.environ[name]

    return _VAR.sub(substitute, escaped).replace("\x00", "${")


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The closest valid key to a mistyped one, if any is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return found[0] if found else None


def spec_error(
    loaded: LoadedYaml,
    loc: Iterable[str | int],
    message: str,
    *,
    valid: Iterable[str] = (),
    hint: str | None = None,
) -> SpecError:
    """A :class:`SpecError` at ``loc`` with its line; suggests the nearest valid key."""
    loc = tuple(loc)
    key = ".".join(str(p) for p in loc) or None
    if valid and loc and isinstance(loc[-1], str):
        guess = nearest(loc[-1], valid)
        if guess is not None and hint is None:
            hint = f"did you mean {guess!r}? valid keys here: {', '.join(sorted(valid))}"
        elif hint is None:
            hint = f"valid keys here: {', '.join(sorted(valid))}"
    return SpecError(
        message, dataset=str(loaded.path), line=loaded.line_of(loc), key=key, hint=hint
    )
