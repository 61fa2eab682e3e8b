"""``load_spec(path)``: a YAML spec file to a checked :class:`PipelineSpec`.

Owns turning the file's data into models and every error into one
:class:`SpecError` with key, line and nearest valid key; the YAML mechanics
(lines, interpolation) are in :mod:`pipeline.specfile`.
"""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ValidationError

from pipeline.errors import SpecError
from pipeline.spec import (
    PipelineSpec,
)
from pipeline.specfile import LoadedYaml, interpolate, load_yaml, spec_error
from pipeline.steps.models import STEP_KINDS, normalise_step

__all__ = ["load_spec", "parse_spec"]

_TOP_KEYS = {
    "version",
    "name",
    "mode",
    "source",
    "schema",
    "max_rejected_ratio",
    "quality",
    "steps",
    "sink",
    "quarantine",
    "audit",
    "lineage",
}
# Keys whose values are paths relative to the spec's folder.
_PATHS = (
    ("source", "uri"),
    ("sink", "uri"),
    ("quarantine", "uri"),
    ("audit", "path"),
    ("audit", "signing_key"),
    ("lineage", "store"),
)


def load_spec(path: str | Path) -> PipelineSpec:
    """Load, interpolate, resolve and check a spec file."""
    spec_path = Path(path)
    loaded = load_yaml(spec_path)
    return parse_spec(loaded)


def parse_spec(loaded: LoadedYaml) -> PipelineSpec:
    """Build the :class:`PipelineSpec` from parsed YAML (see :func:`load_spec`)."""
    raw = loaded.data
    for key in raw:
        if key not in _TOP_KEYS:
            raise spec_error(loaded, (key,), f"unknown key {key!r}", valid=_TOP_KEYS)
    data = interpolate(raw, loaded)
    data = _quality_section(data, loaded)
    data["steps"] = _steps(data.get("steps"), loaded)
    base = loaded.path.parent
    for section, key in _PATHS:
        block = data.get(section)
        if isinstance(block, dict) and isinstance(block.get(key), str):
            block[key] = _resolve(block[key], base)
    quality = data.get("quality")
    if isinstance(quality, dict) and isinstance(quality.get("rules"), list):
        # A reference rule's dataset is a location like the source's: same resolution.
        for rule in quality["rules"]:
            if isinstance(rule, dict) and isinstance(rule.get("dataset"), str):
                rule["dataset"] = _resolve(rule["dataset"], base)
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(exc, loaded) from None
    _check_quality(spec, loaded)
    return spec.model_copy(update={"spec_path": loaded.path.resolve(), "spec_hash": loaded.sha256})


def _resolve(value: str, base: Path) -> str:
    """A relative path resolves against the spec's folder; URIs and absolute paths stay.

    A ``sqlite://`` location names a local file too: a relative database path in
    it (``sqlite://ref.db?table=t``) resolves the same way.
    """
    parts = urlsplit(value)
    if parts.scheme.lower() == "sqlite":
        from pipeline.io.sqlite import split_sqlite_uri

        db = Path(split_sqlite_uri(value)[0]).expanduser()
        if not str(db) or db.is_absolute():
            return value
        # Percent-encoded: a spec folder holding "?" or "#" stays part of the path.
        resolved = quote((base / db).resolve().as_posix(), safe="/")
        query = f"?{parts.query}" if parts.query else ""
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        return f"sqlite://{resolved}{query}{fragment}"
    if len(parts.scheme) > 1:
        return value
    path = Path(value)
    return str(path if path.is_absolute() else (base / path).resolve())


def _quality_section(data: dict[str, Any], loaded: LoadedYaml) -> dict[str, Any]:
    quality = data.get("quality")
    if isinstance(quality, list):
        data["quality"] = {"rules": quality}
    elif quality is not None and not isinstance(quality, dict):
        raise spec_error(
            loaded,
            ("quality",),
            "quality must be a list of rules or a mapping with stage and rules",
        )
    return data


def _steps(items: Any, loaded: LoadedYaml) -> list[dict[str, Any]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise spec_error(loaded, ("steps",), "steps must be a list, one step a item")
    out = []
    for index, item in enumerate(items):
        data = normalise_step(item)
        kinds = [k for k in (item if isinstance(item, dict) else {}) if k in STEP_KINDS]
        if not isinstance(item, dict) or not kinds:
            first = next(iter(item), "?") if isinstance(item, dict) else str(item)
            raise spec_error(
                loaded,
                ("steps", index, first),
                f"step {index + 1} has no known step kind",
                valid=STEP_KINDS,
            )
        if len(kinds) > 1:
            raise spec_error(
                loaded,
                ("steps", index),
                f"step {index + 1} names two kinds ({', '.join(kinds)})",
                hint="write one step per list item",
            )
        model = STEP_KINDS[kinds[0]]
        for key in item:
            if key not in model.model_fields or key == "kind":
                raise spec_error(
                    loaded,
                    ("steps", index, key),
                    f"unknown key {key!r} in a {kinds[0]} step",
                    valid=[k for k in model.model_fields if k != "kind"],
                )
        out.append(data)
    return out


def _from_validation(exc: ValidationError, loaded: LoadedYaml) -> SpecError:
    # An unknown key explains a "missing" one next to it (a typo), so report it first.
    first = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    tagged = tuple(first["loc"])
    # Pydantic puts the union member's tag into the loc of step errors; drop it.
    loc = tuple(
        p
        for i, p in enumerate(tagged)
        if not (i == 2 and tagged[:1] == ("steps",) and p in STEP_KINDS)
    )
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    where = ".".join(str(p) for p in loc)
    if first["type"] == "extra_forbidden":
        valid = _keys_at(tagged[:-1])
        return spec_error(loaded, loc, f"unknown key {loc[-1]!r}{suffix}", valid=valid)
    if first["type"] == "missing":
        return spec_error(
            loaded,
            loc,
            f"required key {where!r} is missing{suffix}",
            hint=f"add {loc[-1]}: to the spec",
        )
    return spec_error(
        loaded,
        loc,
        f"{where}: {first['msg']}{suffix}",
        hint="see `pipeline spec schema` for the allowed values",
    )


def _keys_at(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the mapping at ``loc`` (a validation error's location, union tags
    included) takes, walked down :class:`PipelineSpec`'s fields: a misspelt key deep
    in a step (``dedupe: {kep: last}``) had no nearest-key suggestion (found by review)."""
    current: Any = PipelineSpec
    for part in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            fields = current.model_fields
            field = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
            if field is None:
                return []
            current = field.annotation
        elif origin in (list, tuple) and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict and isinstance(part, str):
            current = get_args(current)[1]
        elif origin in (Union, UnionType) and isinstance(part, str):
            # A tagged union's member, by its `kind` tag (the steps).
            members = [a for a in get_args(current) if isinstance(a, type)]
            current = next(
                (m for m in members if issubclass(m, BaseModel) and _tag(m) == part), None
            )
            if current is None:
                return []
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items() if not f.exclude]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``Annotated[X, ...]`` and ``X | None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _tag(model: type[BaseModel]) -> object:
    field = model.model_fields.get("kind")
    return field.default if field is not None else None


def _check_quality(spec: PipelineSpec, loaded: LoadedYaml) -> None:
    """Quality rules are checked by their own models (``pipeline.quality``)."""
    if not spec.quality.rules:
        return
    from pipeline.quality import parse_rules

    try:
        parse_rules(spec.quality.rules)
    except SpecError as error:
        if error.line is None:
            index = getattr(error, "index", None)
            loc: tuple[str | int, ...] = (
                ("quality", index) if isinstance(index, int) else ("quality",)
            )
            error.line = loaded.line_of(loc)
            error.dataset = str(loaded.path)
        raise
