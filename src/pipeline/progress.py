"""Rich progress on stderr for stages that take more than a moment.

Off unless asked for (the CLI asks when stderr is a terminal and ``--json``
is not given), so library use and pipes stay quiet.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

# rich is imported only when a display is shown (a disabled reporter is what
# library runs and pipes get): importing it costs a plain run tens of ms.
if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["ProgressReporter", "StageProgress", "make_progress"]


class StageProgress(Protocol):
    """What a stage reports to: bytes done."""

    def advance(self, amount: int) -> None:
        """Record ``amount`` more bytes done."""


class _Silent:
    def advance(self, amount: int) -> None:
        """Discard the report."""


class _RichTask:
    def __init__(self, progress: Progress, task: int) -> None:
        self.progress = progress
        self.task = task

    def advance(self, amount: int) -> None:
        self.progress.advance(self.task, amount)  # type: ignore[arg-type]


class ProgressReporter:
    """Opens one progress line per stage; silent when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<10}"),
                BarColumn(),
                DownloadColumn(),
                console=Console(stderr=True),
                transient=False,
            )

    @contextmanager
    def stage(self, name: str, total: int | None = None) -> Iterator[StageProgress]:
        """Show ``name`` while the block runs; ``total`` bytes when known."""
        if self._progress is None:
            yield _Silent()
            return
        task = self._progress.add_task(name, total=total)
        try:
            yield _RichTask(self._progress, task)
        finally:
            self._progress.update(task, completed=total or 1, total=total or 1)

    def __enter__(self) -> ProgressReporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def make_progress(enabled: bool) -> ProgressReporter:
    """Return a reporter; a disabled one costs nothing."""
    return ProgressReporter(enabled)
