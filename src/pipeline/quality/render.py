"""A Rich table of rule results for stderr (CLI `check` and `run`); counts only, no values."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from pipeline.quality.results import RuleResult

__all__ = ["results_table"]


def _status(result: RuleResult) -> Text:
    if result.passed:
        return Text("pass", style="green")
    if result.severity == "error":
        return Text("FAIL", style="red")
    return Text("warn", style="yellow")


def results_table(results: Sequence[RuleResult], *, title: str = "quality") -> Table:
    """Return one row per rule: id, type, columns, severity, failing rows, pass ratio, status."""
    table = Table(title=title, title_justify="left")
    # Rule ids are what a reader acts on (they are the quarantine codes): never cut them.
    widest = max((len(r.id) for r in results), default=7)
    table.add_column("rule id", no_wrap=True, min_width=widest)
    for name in ("rule", "column(s)", "severity"):
        table.add_column(name, overflow="fold")
    for name in ("failed rows", "pass ratio", "mostly"):
        table.add_column(name, justify="right")
    table.add_column("status")
    for r in results:
        table.add_row(
            r.id,
            r.rule,
            ", ".join(r.columns),
            r.severity,
            str(r.failed_rows) if r.ratio is not None else "-",
            f"{r.ratio:.4%}" if r.ratio is not None else "-",
            "" if r.mostly is None else f"{r.mostly:g}",
            _status(r),
        )
    return table
