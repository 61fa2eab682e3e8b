"""Stop requests (SIGINT, SIGTERM) held back while a run's evidence is written.

A stop that lands between the first rename of a commit and the run's closing
audit entry would leave the files and the evidence disagreeing: an output
replaced with no closing entry, or a ``completed`` entry beside exit 130 (both
found by review). From its commit on, and while it logs a failure, a run holds
stops and drops them: the run ends a moment later with its outcome logged.
Around its opening entry it holds them too, but delivers one that arrived once
the entry is written, so that a run either never started or logs its stop.

Python runs signal handlers on the main thread only, so only a run there holds
them (one on another thread is never interrupted by a signal). The previous
handlers come back when the hold ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["stops_held"]

_STOPS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stops_held(*, deliver: bool) -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block.

    ``deliver``: a stop that arrived is delivered to the previous handler when the
    block ends (it only waited); otherwise it is dropped (the outcome is final).
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
        for stop, handler in previous.items():
            # None: a handler not set from Python; the default is the closest.
            signal.signal(stop, signal.SIG_DFL if handler is None else handler)
        if deliver and arrived:
            signal.raise_signal(arrived[0])
