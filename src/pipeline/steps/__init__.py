"""Transform steps: declared in a spec (:mod:`.models`), compiled to runnable
LazyFrame functions (:mod:`.compile`), with column lineage (:mod:`.lineage`)."""

from __future__ import annotations

from pipeline.steps.compile import Step, compile_steps, parse_dtype
from pipeline.steps.lineage import ColumnLineage, Derivation
from pipeline.steps.models import STEP_KINDS, StepModel, normalise_step

__all__ = [
    "STEP_KINDS",
    "ColumnLineage",
    "Derivation",
    "Step",
    "StepModel",
    "compile_steps",
    "normalise_step",
    "parse_dtype",
]
