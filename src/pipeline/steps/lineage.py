"""Column-level lineage through a chain of steps.

Each step states how its output columns derive from its input columns; the
chain of those statements gives, for every output column, the source columns
it comes from (``direct``: IDENTITY or TRANSFORMATION, with a masking flag)
and the source columns that decided which rows exist or their order
(``indirect``: FILTER, GROUP_BY, SORT), as OpenLineage's columnLineage facet
describes them. A python step that declares nothing is recorded as opaque.
It also keeps every source column a step *read* (an expression, a key, a
cast), even one whose result a later step drops: inference needs to know which
columns' types can change what a run computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["ColumnLineage", "Derivation"]


@dataclass(frozen=True, slots=True)
class Derivation:
    """One source column feeding an output column."""

    source: str
    type: str  # DIRECT | INDIRECT
    subtype: str  # IDENTITY | TRANSFORMATION | FILTER | GROUP_BY | SORT
    masking: bool = False


@dataclass(frozen=True, slots=True)
class ColumnLineage:
    """Current columns → source derivations, plus row-level (indirect) influences."""

    direct: dict[str, tuple[Derivation, ...]]
    indirect: tuple[Derivation, ...] = ()
    opaque_steps: tuple[str, ...] = field(default=())
    read: tuple[str, ...] = ()
    """Source columns some step read so far (first-read order, no repeats)."""

    @classmethod
    def identity(cls, columns: list[str]) -> ColumnLineage:
        """Lineage at the start: every column is itself."""
        return cls({c: (Derivation(c, "DIRECT", "IDENTITY"),) for c in columns})

    def _sources(
        self, columns: list[str], subtype: str, masking: bool = False
    ) -> tuple[Derivation, ...]:
        out: dict[tuple[str, str], Derivation] = {}
        for column in columns:
            for d in self.direct.get(column, ()):
                kind = subtype if subtype != "IDENTITY" else d.subtype
                out.setdefault(
                    (d.source, kind), Derivation(d.source, "DIRECT", kind, masking or d.masking)
                )
        return tuple(out.values())

    def derive(
        self, column: str, read: list[str], subtype: str, *, masking: bool = False
    ) -> ColumnLineage:
        """``column`` is now computed from ``read``."""
        direct = dict(self.direct)
        direct[column] = self._sources(read, subtype, masking)
        return replace(self, direct=direct, read=self._reading(read))

    def _reading(self, columns: list[str]) -> tuple[str, ...]:
        sources = [d.source for d in self._sources(columns, "IDENTITY")]
        return tuple(dict.fromkeys((*self.read, *sources)))

    def touch(self, columns: list[str], subtype: str) -> ColumnLineage:
        """Columns rewritten in place from themselves."""
        lin = self
        for column in columns:
            lin = lin.derive(column, [column], subtype)
        return lin

    def rename(self, mapping: dict[str, str]) -> ColumnLineage:
        """Columns renamed (identity)."""
        return replace(self, direct={mapping.get(c, c): d for c, d in self.direct.items()})

    def select(self, columns: list[str]) -> ColumnLineage:
        """Only these columns remain."""
        return replace(self, direct={c: self.direct.get(c, ()) for c in columns})

    def filtered_by(self, columns: list[str], subtype: str) -> ColumnLineage:
        """Rows were filtered, grouped or ordered by ``columns``."""
        extra = tuple(
            Derivation(d.source, "INDIRECT", subtype) for d in self._sources(columns, "IDENTITY")
        )
        merged = dict.fromkeys(self.indirect + extra)
        return replace(self, indirect=tuple(merged), read=self._reading(columns))

    def opaque(self, step: str, declared: dict[str, list[str]] | None) -> ColumnLineage:
        """A python step: its declaration (output → inputs) if any, else opaque."""
        if declared is None:
            return replace(self, opaque_steps=(*self.opaque_steps, step))
        direct = {out: self._sources(list(ins), "TRANSFORMATION") for out, ins in declared.items()}
        return replace(self, direct=direct)

    def columns(self, final: list[str]) -> dict[str, list[Derivation]]:
        """Lineage of each final column (unknown columns map to nothing)."""
        return {c: list(self.direct.get(c, ())) for c in final}
