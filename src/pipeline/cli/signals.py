"""How the CLI process answers SIGTERM and SIGINT.

A stop request while a run works ends it as Ctrl-C does: its staged files are
removed and the audit log records the failure (exit 130). Once the run's
outcome is final (published and logged, or failed and logged), a stop changes
nothing: it is ignored so that the exit code agrees with the evidence (a
SIGTERM during the interpreter's shutdown gave 143 or 130 after a run the audit
log called completed; found by review). Only the CLI owns the process's
signals; the library leaves them alone.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["settled", "stop_on_term"]


def stop_on_term() -> None:
    """From now on SIGTERM interrupts the run (a KeyboardInterrupt, as SIGINT does)."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(_signum: int, _frame: object) -> None:
    # A second SIGTERM must not interrupt the clean-up the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def settled() -> None:
    """The run's outcome is final: stop requests are ignored until the process exits."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
