"""Stop requests (SIGINT, SIGTERM) held back while a run's evidence is written.

A stop that lands between the first rename of a commit and the run's closing
audit entry would leave the files and the evidence disagreeing: an output
replaced with no closing entry, or a ``completed`` entry beside exit 130 (both
found by review). So a run holds stops from its commit on, and while it logs a
failure, until it has returned; around its opening entry it holds them too, so
that a run either never started or logs its stop.

A held stop is not lost: when the hold ends it goes to the handler that was
there before, so a program that runs pipelines gets its Ctrl-C or its SIGTERM
handler called once the run is over (found by review: the hold dropped them).
The CLI, which exits after its one run, calls :func:`settle_after_runs`: from a
run's commit on, stops are ignored until the process exits, so the exit code is
the logged outcome's.

Python runs signal handlers on the main thread only, so only a run there holds
them (one on another thread is never interrupted by a signal).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["settle_after_runs", "stops_held"]

_STOPS = (signal.SIGINT, signal.SIGTERM)
_SETTLE = {"after_runs": False}


def settle_after_runs() -> None:
    """For a process that exits after its run (the CLI): once a run's outcome is being
    made final, stops are ignored until the process exits, never delivered."""
    _SETTLE["after_runs"] = True


@contextlib.contextmanager
def stops_held(*, final: bool) -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block; a stop that arrived then goes to the
    previous handler when the block ends.

    ``final``: the block makes a run's outcome final; after :func:`settle_after_runs`
    stops stay ignored when it ends, and one that arrived is dropped.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def hold(signum: int, _frame: Any) -> None:
        arrived.append(signum)

    previous = {stop: signal.getsignal(stop) for stop in _STOPS}
    for stop in _STOPS:
        signal.signal(stop, hold)
    try:
        yield
    finally:
        if final and _SETTLE["after_runs"]:
            for stop in _STOPS:
                signal.signal(stop, signal.SIG_IGN)
        else:
            for stop, handler in previous.items():
                # None: a handler not set from Python; the default is the closest.
                signal.signal(stop, signal.SIG_DFL if handler is None else handler)
            if arrived:
                signal.raise_signal(arrived[0])
