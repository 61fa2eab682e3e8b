"""Pydantic itself, on just the values or models the compiler cannot decide.

:class:`FieldChecker` validates one field's text through a one-field model that
carries the field exactly as declared (annotation, constraints, alias, config
and its info-free field validators), so its verdict, value and messages are the
full model's. :func:`model_fallback_reason` names what forces a whole model
onto the reference engine (row-level validators, serializers, computed fields).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError, create_model, field_validator

from pipeline.schema.codes import ErrorEntry, error_entries
from pipeline.schema.fields import FieldSpec, ModelPlan

__all__ = ["Checked", "FieldChecker", "model_fallback_reason"]

#: ``(accepted, dumped value, errors)`` for one input value.
Checked = tuple[bool, Any, list[ErrorEntry]]


def _takes_info(func: Callable[..., Any], mode: str) -> bool:
    try:
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return True
    return len(params) >= (3 if mode == "wrap" else 2)


def _field_decorators(model: type[BaseModel], name: str) -> list[Any]:
    decorators = model.__pydantic_decorators__.field_validators.values()
    return [d for d in decorators if name in d.info.fields or "*" in d.info.fields]


def model_fallback_reason(plan: ModelPlan) -> str | None:
    """Return why ``plan.model`` must run row by row, or ``None`` if fields can split."""
    model = plan.model
    decorators = model.__pydantic_decorators__
    if getattr(model, "__pydantic_root_model__", False):
        return "root model"
    if decorators.model_validators:
        return "model validator"
    if decorators.field_serializers or decorators.model_serializers:
        return "serializer"
    if plan.computed_fields:
        return "computed field"
    if getattr(model, "__pydantic_post_init__", None):
        return "model_post_init"
    for spec in plan.fields:
        if spec.input_keys is None:
            return f"alias path on field {spec.name}"
        for dec in _field_decorators(model, spec.name):
            if _takes_info(dec.func, dec.info.mode):
                return f"validator {dec.cls_var_name} reads other fields"
        for item in spec.metadata:
            func = getattr(item, "func", None)
            if callable(func) and _takes_info(
                func, "wrap" if "Wrap" in type(item).__name__ else ""
            ):
                return f"validator on field {spec.name} reads other fields"
    return None


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
            func = dec.func
            wrapped = classmethod(func.__func__) if inspect.ismethod(func) else staticmethod(func)
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

    def _run(self, payload: dict[str, Any], redact: list[str | None]) -> Checked:
        try:
            instance = self._model.model_validate(payload)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            return False, None, error_entries(errors, redact)
        return True, instance.model_dump().get(self.spec.name), []

    def check(self, value: str | None) -> Checked:
        """Validate one cell (``None`` for empty) as the full model would."""
        cached = self._cache.get(value)
        if cached is None:
            assert self.key is not None
            cached = self._run({self.key: value}, [value])
            self._cache[value] = cached
        return cached

    def trim(self, limit: int) -> None:
        """Forget cached verdicts once there are more than ``limit`` (bounded memory
        for a validator that serves a whole stream of batches)."""
        if len(self._cache) > limit:
            self._cache.clear()

    def absent(self) -> Checked:
        """Validate the field with its column absent (default or ``missing``)."""
        return self._run({}, [])
