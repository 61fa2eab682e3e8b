"""Reading a Pydantic model's declaration: fields, input columns, types and constraints.

Both engines use this plan: the reference engine for the output column names and
dtypes, the columnar engine to decide per field what it can compile exactly.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import AliasChoices, AliasPath, AwareDatetime, BaseModel, NaiveDatetime
from pydantic.fields import FieldInfo

__all__ = ["FieldSpec", "Kind", "ModelPlan", "plan_model"]

Kind = Literal[
    "str",
    "int",
    "float",
    "decimal",
    "bool",
    "date",
    "datetime",
    "time",
    "uuid",
    "enum",
    "literal",
    "other",
]

_SIMPLE_KINDS: dict[object, Kind] = {
    str: "str",
    int: "int",
    float: "float",
    Decimal: "decimal",
    bool: "bool",
    dt.date: "date",
    dt.datetime: "datetime",
    dt.time: "time",
    uuid.UUID: "uuid",
}


@dataclass(frozen=True)
class FieldSpec:
    """One model field as the engines see it."""

    name: str
    info: FieldInfo
    #: Input keys Pydantic looks up, in its order; ``None`` when a key form
    #: (a nested AliasPath) cannot name a flat column.
    input_keys: tuple[str, ...] | None
    kind: Kind
    base: Any
    nullable: bool
    metadata: tuple[Any, ...]
    #: ``"aware"``/``"naive"`` for AwareDatetime/NaiveDatetime, else ``None``.
    tz_mode: str | None = None

    @property
    def required(self) -> bool:
        """True when an absent column is a ``missing`` error rather than a default."""
        return self.info.is_required()


@dataclass(frozen=True)
class ModelPlan:
    """The fields of a model plus the model-wide settings the engines need."""

    model: type[BaseModel]
    fields: tuple[FieldSpec, ...]
    extra: str
    #: Names written to the accepted frame, in model_dump order (extras come after).
    output_fields: tuple[str, ...]
    computed_fields: tuple[str, ...] = field(default_factory=tuple)

    def consumed_columns(self, columns: Sequence[str]) -> set[str]:
        """Return the frame columns that some field reads (the rest are extras)."""
        present = set(columns)
        used: set[str] = set()
        for spec in self.fields:
            for key in spec.input_keys or ():
                if key in present:
                    used.add(key)
                    break
        return used

    def column_for(self, spec: FieldSpec, columns: Sequence[str]) -> str | None:
        """Return the frame column Pydantic reads for ``spec``, or ``None`` if absent."""
        present = set(columns)
        for key in spec.input_keys or ():
            if key in present:
                return key
        return None


def _input_keys(name: str, info: FieldInfo, model: type[BaseModel]) -> tuple[str, ...] | None:
    config = model.model_config
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    by_alias = config.get("validate_by_alias", True) is not False
    aliases: list[str] = []
    alias: Any = info.validation_alias if info.validation_alias is not None else info.alias
    choices: list[Any] = list(alias.choices) if isinstance(alias, AliasChoices) else [alias]
    for choice in choices:
        if choice is None:
            continue
        if isinstance(choice, AliasPath):
            if len(choice.path) != 1 or not isinstance(choice.path[0], str):
                return None
            choice = choice.path[0]
        aliases.append(str(choice))
    keys: list[str] = aliases if by_alias else []
    if not aliases or by_name:
        keys.append(name)
    return tuple(dict.fromkeys(keys))


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """Strip ``Annotated`` and ``Optional`` layers: (base, nullable, metadata)."""
    metadata: list[Any] = []
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                if isinstance(item, FieldInfo):
                    metadata.extend(item.metadata)
                    # A Field() inside Annotated may carry more than constraints.
                    if item.alias or item.validation_alias:
                        metadata.append(item)
                else:
                    metadata.append(item)
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1 and len(typing.get_args(annotation)) == 2:
                nullable = True
                annotation = args[0]
                continue
        return annotation, nullable, metadata


def _kind(base: Any) -> tuple[Kind, str | None]:
    if typing.get_origin(base) is Literal:
        return "literal", None
    if base is AwareDatetime:
        return "datetime", "aware"
    if base is NaiveDatetime:
        return "datetime", "naive"
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return "enum", None
    return _SIMPLE_KINDS.get(base, "other"), None


def plan_model(model: type[BaseModel]) -> ModelPlan:
    """Read ``model`` into a :class:`ModelPlan`."""
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        base, nullable, inner = _unwrap(info.annotation)
        kind, tz_mode = _kind(base)
        specs.append(
            FieldSpec(
                name=name,
                info=info,
                input_keys=_input_keys(name, info, model),
                kind=kind,
                base=base,
                nullable=nullable,
                metadata=(*info.metadata, *inner),
                tz_mode=tz_mode,
            )
        )
    output = tuple(s.name for s in specs if not s.info.exclude)
    computed = tuple(model.model_computed_fields)
    return ModelPlan(
        model=model,
        fields=tuple(specs),
        extra=str(model.model_config.get("extra") or "ignore"),
        output_fields=output,
        computed_fields=computed,
    )
