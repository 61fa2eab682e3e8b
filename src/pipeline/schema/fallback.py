"""Pydantic itself, on just the values or models the compiler cannot decide.

:class:`FieldChecker` validates one field's text through a one-field model that
carries the field exactly as declared (annotation, constraints, alias, config
and its info-free field validators), so its verdict, value and messages are the
full model's. :func:`model_fallback_reason` names what forces a whole model
onto the reference engine (row-level validators, serializers, computed fields).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError, create_model, field_validator

from pipeline.schema.codes import ErrorEntry, error_entries
from pipeline.schema.fields import FieldSpec, ModelPlan

__all__ = ["Checked", "FieldChecker", "model_fallback_reason"]

#: ``(accepted, dumped value, errors)`` for one input value.
Checked = tuple[bool, Any, list[ErrorEntry]]


def _field_decorators(model: type[BaseModel], name: str) -> list[Any]:
    decorators = model.__pydantic_decorators__.field_validators.values()
    return [d for d in decorators if name in d.info.fields or "*" in d.info.fields]


def model_fallback_reason(plan: ModelPlan) -> str | None:
    """Return why ``plan.model`` must run row by row, or ``None`` if fields can split."""
    model = plan.model
    decorators = model.__pydantic_decorators__
    if getattr(model, "__pydantic_root_model__", False):
        return "root model"
    if decorators.model_validators or decorators.root_validators:
        return "model validator"
    if decorators.validators:
        # Pydantic v1's @validator: found by review, a one-field model never ran it.
        return "v1-style @validator"
    if decorators.field_serializers or decorators.model_serializers:
        return "serializer"
    if plan.computed_fields:
        return "computed field"
    if getattr(model, "__pydantic_post_init__", None):
        return "model_post_init"
    if getattr(model.model_validate, "__func__", None) is not _MODEL_VALIDATE:
        return "model_validate is overridden"
    core = _core_fields(model)
    if core is None:
        return "a model schema this engine does not know"
    if core.typed_extras:
        return "typed extra fields (__pydantic_extra__)"
    for spec in plan.fields:
        if spec.input_keys is None:
            return f"alias path on field {spec.name}"
        if _reads_info(core.fields.get(spec.name), core.definitions, set()):
            return f"validator on field {spec.name} reads other fields"
        if _factory_takes_data(spec):
            return f"default_factory of field {spec.name} reads other fields"
    return None


_MODEL_VALIDATE = getattr(BaseModel.model_validate, "__func__", None)


@dataclass(frozen=True, slots=True)
class _CoreFields:
    """What a model's core schema says of its fields."""

    fields: dict[str, Any]  # field name -> its schema
    definitions: dict[str, Any]  # ref -> the shared schema it names
    typed_extras: bool


def _core_fields(model: type[BaseModel]) -> _CoreFields | None:
    """The field schemas of ``model``'s core schema; None for a shape not known here."""
    schema: Any = model.__pydantic_core_schema__
    definitions: dict[str, Any] = {}
    if schema.get("type") == "definitions":
        definitions = {d["ref"]: d for d in schema.get("definitions", []) if "ref" in d}
        schema = schema.get("schema", {})
    while schema.get("type") == "definition-ref" and schema.get("schema_ref") in definitions:
        schema = definitions[schema["schema_ref"]]
    inner = schema.get("schema", {}) if schema.get("type") == "model" else {}
    if inner.get("type") != "model-fields":
        return None
    fields = {name: f.get("schema") for name, f in inner.get("fields", {}).items()}
    return _CoreFields(fields, definitions, inner.get("extras_schema") is not None)


def _reads_info(schema: Any, definitions: dict[str, Any], seen: set[str]) -> bool:
    """Whether a field's core schema holds a validator Pydantic passes ``info``.

    Such a validator can read the other fields (``info.data``), which a one-field
    model does not have. Read from the schema Pydantic runs, not from the
    annotation, so a validator inside a union member, a type alias or a nested
    ``Annotated`` is found too (found by review: those ran with ``info.data`` empty).
    """
    if isinstance(schema, dict):
        if schema.get("type") == "with-info":
            return True
        ref = schema.get("schema_ref") if schema.get("type") == "definition-ref" else None
        if ref is not None:
            if ref in seen or ref not in definitions:
                return False
            seen.add(ref)
            return _reads_info(definitions[ref], definitions, seen)
        return any(_reads_info(v, definitions, seen) for k, v in schema.items() if k != "metadata")
    if isinstance(schema, list | tuple):
        return any(_reads_info(v, definitions, seen) for v in schema)
    return False


def _factory_takes_data(spec: FieldSpec) -> bool:
    """Whether the field's ``default_factory`` is given the validated data (Pydantic's
    own answer: `list`, `dict` or `datetime.now` are not, though builtins show no
    signature; found by review)."""
    return bool(getattr(spec.info, "default_factory_takes_validated_data", False))


class FieldChecker:
    """Pydantic's verdict for one field, one input value at a time, with a cache."""

    def __init__(self, model: type[BaseModel], spec: FieldSpec, key: str | None) -> None:
        self.spec = spec
        self.key = key
        validators: dict[str, Any] = {}
        decorators = _field_decorators(model, spec.name)
        #: True when the field has decorator validators (run only by Pydantic).
        self.has_validators = bool(decorators)
        for dec in decorators:
            # The validator stays bound to the model it was declared on: rebound to the
            # one-field model, `cls.ALLOWED` or `cls._helper(v)` failed (found by review).
            wrapped = staticmethod(dec.func)
            # field_validator's overloads cannot express a mode chosen at run time.
            rebind: Any = field_validator
            validators[dec.cls_var_name] = rebind(spec.name, mode=dec.info.mode)(wrapped)
        definition: Any = (spec.info.annotation, copy.copy(spec.info))
        self._model: type[BaseModel] = create_model(
            f"{model.__name__}_{spec.name}",
            __config__=model.model_config,
            __validators__=validators,
            **{spec.name: definition},
        )
        self._cache: dict[str | None, Checked] = {}

    def _run(self, payload: dict[str, str | None]) -> Checked:
        try:
            instance = self._model.model_validate(payload)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            return False, None, error_entries(errors, payload)
        # by_alias=False: a model configured to serialize by alias dumps under the
        # alias, and the value was lost (found by review).
        return True, instance.model_dump(by_alias=False).get(self.spec.name), []

    def check(self, value: str | None) -> Checked:
        """Validate one cell (``None`` for empty) as the full model would."""
        cached = self._cache.get(value)
        if cached is None:
            assert self.key is not None
            cached = self._run({self.key: value})
            self._cache[value] = cached
        return cached

    def trim(self, limit: int) -> None:
        """Forget cached verdicts once there are more than ``limit`` (bounded memory
        for a validator that serves a whole stream of batches)."""
        if len(self._cache) > limit:
            self._cache.clear()

    def absent(self) -> Checked:
        """Validate the field with its column absent (default or ``missing``)."""
        return self._run({})
