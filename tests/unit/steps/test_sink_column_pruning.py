"""Which streaming output plans keep their columns to the end (a Polars 2.1 ordering bug).

See ``pipeline.io.base.sink_optimizations``: a plan whose every output column is
computed may come back out of order from a scan with column pruning on.
"""

from __future__ import annotations

import inspect

import polars as pl

from pipeline.execution.streaming import _passes_a_column_through
from pipeline.io.base import sink_optimizations
from pipeline.steps import ColumnLineage

START = ColumnLineage.identity(["a", "b"])


def _fields(*names: str) -> list[tuple[str, str]]:
    return [(name, "String") for name in names]


def test_a_passed_through_or_renamed_column_keeps_pruning_on() -> None:
    assert _passes_a_column_through(START, _fields("a", "b"))
    assert _passes_a_column_through(START.rename({"a": "z"}), _fields("z"))
    derived = START.derive("y", ["b"], "TRANSFORMATION")
    assert _passes_a_column_through(derived.select(["a", "y"]), _fields("a", "y"))


def test_every_column_computed_turns_pruning_off() -> None:
    derived = START.derive("y", ["b"], "TRANSFORMATION").select(["y"])
    assert not _passes_a_column_through(derived, _fields("y"))
    recomputed = START.touch(["a", "b"], "TRANSFORMATION")
    assert not _passes_a_column_through(recomputed, _fields("a", "b"))
    # Computed from two columns: not a pass-through even if one is kept as is elsewhere.
    combined = START.derive("y", ["a", "b"], "TRANSFORMATION").select(["y"])
    assert not _passes_a_column_through(combined, _fields("y"))


def test_an_undeclared_python_step_turns_pruning_off() -> None:
    opaque = START.opaque("py", None)
    assert not _passes_a_column_through(opaque, _fields("a", "b"))


def test_the_flags_differ_only_in_projection_pushdown() -> None:
    on, off = sink_optimizations(True), sink_optimizations(False)
    assert on.projection_pushdown and not off.projection_pushdown
    # Pruning on: exactly what ``collect`` uses when given nothing.
    default = inspect.signature(pl.LazyFrame.collect).parameters["optimizations"].default
    assert str(on) == str(default)
