"""Turning spec data (lists of dicts) into rule models, with errors a user can act on.

Pydantic's own messages name a location like ``0.not_null.colum``; here each
problem becomes one :class:`~pipeline.errors.SpecError` naming the rule (its
id and position), the key at fault and the nearest valid key.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from pipeline.errors import SpecError
from pipeline.quality.rules import QualityRule, RuleBase

__all__ = ["RULE_TYPES", "QualitySection", "Stage", "parse_quality", "parse_rules"]

Stage = Literal["input", "output"]

_ADAPTER: TypeAdapter[QualityRule] = TypeAdapter(QualityRule)


def _rule_models() -> dict[str, type[RuleBase]]:
    union = get_args(QualityRule)[0]
    models: dict[str, type[RuleBase]] = {}
    for model in get_args(union):
        tag = get_args(model.model_fields["rule"].annotation)[0]
        models[str(tag)] = model
    return models


_MODELS = _rule_models()
RULE_TYPES: tuple[str, ...] = tuple(sorted(_MODELS))
"""Every rule type name a spec may use."""


class QualitySection(BaseModel):
    """A spec's ``quality`` section: where rules run and the rules themselves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: Stage = Field(default="output", description="Check the input or the output.")
    rules: list[QualityRule] = Field(default_factory=list)


def _nearest(word: str, options: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return found[0] if found else None


def _label(index: int, raw: Any) -> str:
    rule_id = raw.get("id") if isinstance(raw, Mapping) else None
    where = f"quality[{index}]"
    return f"{where} (id {rule_id!r})" if isinstance(rule_id, str) else where


# A typo'd key also shows up as a missing one; report the typo, which explains both.
_PRIORITY = {"union_tag_not_found": 0, "union_tag_invalid": 0, "extra_forbidden": 1, "missing": 2}


def _spec_error(index: int, raw: Any, exc: ValidationError, more: int) -> SpecError:
    error = min(exc.errors(), key=lambda e: _PRIORITY.get(e["type"], 3))
    kind = error["type"]
    loc = [str(part) for part in error["loc"]]
    label = _label(index, raw)
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    tag = raw.get("rule") if isinstance(raw, Mapping) else None
    model = _MODELS.get(tag) if isinstance(tag, str) else None
    valid_keys = sorted(model.model_fields) if model else []
    if kind == "union_tag_not_found":
        return SpecError(
            f"{label} has no `rule` key{tail}",
            key="rule",
            hint=f"add `rule:` with one of {', '.join(RULE_TYPES)}",
        )
    if kind == "union_tag_invalid":
        near = _nearest(str(tag), RULE_TYPES)
        guess = f"; did you mean {near!r}?" if near else ""
        return SpecError(
            f"{label} has an unknown rule type {tag!r}{guess}{tail}",
            key="rule",
            hint=f"use one of {', '.join(RULE_TYPES)}",
        )
    if kind in ("model_type", "model_attributes_type", "dict_type") and len(loc) <= 1:
        return SpecError(
            f"{label} is not a mapping of keys to values{tail}",
            hint="write each rule as {id: ..., rule: ..., column: ...}",
        )
    # loc is (tag, key, ...) inside the union member; keep the key path after the tag.
    key_path = loc[1:] if loc and loc[0] == tag else loc
    key = key_path[0] if key_path else None
    dotted = ".".join(key_path)
    if kind == "extra_forbidden" and key is not None:
        near = _nearest(key, valid_keys)
        guess = f"; did you mean {near!r}?" if near else ""
        return SpecError(
            f"{label}: unknown key {key!r} for a {tag} rule{guess}{tail}",
            key=key,
            hint=f"valid keys for {tag}: {', '.join(valid_keys)}",
        )
    if kind == "missing" and key is not None:
        return SpecError(
            f"{label}: the {tag} rule needs the key {key!r}{tail}",
            key=key,
            hint=f"valid keys for {tag}: {', '.join(valid_keys)}",
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    # SpecError prints `key 'x'` itself; name only a deeper path here.
    where = f"{dotted}: " if len(key_path) > 1 else ""
    return SpecError(
        f"{label}: {where}{message}{tail}",
        key=key,
        hint=f"valid keys for {tag}: {', '.join(valid_keys)}" if valid_keys else None,
    )


def parse_rules(items: Sequence[Mapping[str, Any] | RuleBase]) -> list[QualityRule]:
    """Parse a spec's list of rule dicts (models pass through); SpecError on the first bad one.

    Rule ids must be unique: they are the reason codes of quarantined rows.
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise SpecError(
            "the quality rules must be a list",
            key="quality",
            hint="write `quality:` as a YAML list",
        )
    rules: list[QualityRule] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        if isinstance(raw, RuleBase):
            rule: QualityRule = _ADAPTER.validate_python(raw.model_dump())
        else:
            try:
                rule = _ADAPTER.validate_python(raw)
            except ValidationError as exc:
                raise _spec_error(index, raw, exc, exc.error_count() - 1) from None
        if rule.id in seen:
            raise SpecError(
                f"quality[{index}]: the rule id {rule.id!r} is already used by "
                f"quality[{seen[rule.id]}]",
                key="id",
                hint="give every rule its own id; ids are the reason codes in the quarantine",
            )
        seen[rule.id] = index
        rules.append(rule)
    return rules


def parse_quality(section: Any) -> QualitySection:
    """Parse a spec's ``quality`` value: a list of rules, or ``{stage, rules}``."""
    if section is None:
        return QualitySection()
    if isinstance(section, Mapping):
        unknown = [k for k in section if k not in ("stage", "rules")]
        if unknown:
            near = _nearest(str(unknown[0]), ["stage", "rules"])
            guess = f"; did you mean {near!r}?" if near else ""
            raise SpecError(
                f"quality: unknown key {unknown[0]!r}{guess}",
                key=str(unknown[0]),
                hint="`quality` is a list of rules, or a mapping with `stage` and `rules`",
            )
        stage = section.get("stage", "output")
        if stage not in ("input", "output"):
            raise SpecError(
                f"quality.stage must be 'input' or 'output', not {stage!r}",
                key="stage",
                hint="write `stage: input` to check before the steps, `output` (default) after",
            )
        return QualitySection(stage=stage, rules=parse_rules(section.get("rules") or []))
    return QualitySection(rules=parse_rules(section))
