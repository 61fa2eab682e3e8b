"""Collecting a field's constraints from its metadata and the model config.

Only constraints whose meaning the compiler reproduces exactly are collected; any
other metadata (validators, predicates, unknown markers) makes the field fall
back to Pydantic, with the reason recorded in the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

import annotated_types as at
from pydantic import AllowInfNan, Strict, StringConstraints
from pydantic.config import ConfigDict

from pipeline.schema.fields import FieldSpec

__all__ = ["KNOWN_KEYS", "Unsupported", "collect_constraints"]

KNOWN_KEYS: Final = frozenset(
    {
        "gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern",
        "strip_whitespace", "to_lower", "to_upper", "strict", "allow_inf_nan",
        "max_digits", "decimal_places",
    }
)  # fmt: skip

_ANNOTATED_TYPES = (at.Gt, at.Ge, at.Lt, at.Le, at.MultipleOf, at.MinLen, at.MaxLen, at.Interval)
_CONFIG_STR_KEYS: Final = {
    "str_strip_whitespace": "strip_whitespace",
    "str_to_lower": "to_lower",
    "str_to_upper": "to_upper",
    "str_min_length": "min_length",
    "str_max_length": "max_length",
}


class Unsupported(Exception):  # noqa: N818 - a signal inside the compiler, never raised out
    """Raised while compiling a field the compiler cannot reproduce exactly."""


def _items(item: Any) -> dict[str, Any]:
    if isinstance(item, (*_ANNOTATED_TYPES, Strict, AllowInfNan, StringConstraints)):
        return {
            f.name: getattr(item, f.name)
            for f in dataclasses.fields(item)
            if getattr(item, f.name) is not None
        }
    if type(item).__name__ == "_PydanticGeneralMetadata":
        return {k: v for k, v in vars(item).items() if v is not None}
    raise Unsupported(f"annotation {type(item).__name__}")


def collect_constraints(spec: FieldSpec, config: ConfigDict | Mapping[str, Any]) -> dict[str, Any]:
    """Return the field's constraints as one dict; raise :class:`Unsupported` otherwise."""
    found: dict[str, Any] = {}
    for item in spec.metadata:
        for key, value in _items(item).items():
            if key not in KNOWN_KEYS:
                raise Unsupported(f"constraint {key}")
            if key in found and found[key] != value:
                raise Unsupported(f"constraint {key} given twice")
            found[key] = value
    if spec.kind == "str":
        for config_key, key in _CONFIG_STR_KEYS.items():
            value = config.get(config_key)
            if value is not None and value is not False and key not in found:
                found[key] = value
    if config.get("strict"):
        found.setdefault("strict", True)
    if config.get("regex_engine", "rust-regex") != "rust-regex" and "pattern" in found:
        raise Unsupported("regex_engine python-re")
    return {k: v for k, v in found.items() if v is not None}
