"""LineageEmitter: send a run's OpenLineage events; never block or fail the run.

Configuration is the openlineage-python client's own, untouched:
``openlineage.yml`` (cwd or ``~/.openlineage``), ``OPENLINEAGE_CONFIG``,
``OPENLINEAGE__TRANSPORT__*``, ``OPENLINEAGE_URL`` (+ ``OPENLINEAGE_API_KEY``,
``OPENLINEAGE_ENDPOINT``) and ``OPENLINEAGE_DISABLED=true``. The job namespace
is ``OPENLINEAGE_NAMESPACE`` (default ``regulated-data-pipelines``). With no
transport configured at all the emitter is off (the client's fallback would
only print events to a log).

Each event is delivered by the client's transport in a worker thread that the
run waits on for at most ``timeout`` seconds. Whatever is not delivered by
then (refused connection, HTTP error, timeout, broken configuration) is written
to the :class:`~pipeline.lineage.spool.Spool` and reported in the returned
:class:`EmitResult`, which the runner notes in the audit log;
``pipeline lineage flush`` re-sends the spool later.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pipeline.lineage.models import RunLineage, openlineage_run_id
from pipeline.lineage.spool import FlushResult, Spool
from pipeline.lineage.store import job_namespace

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient

__all__ = ["DEFAULT_SPOOL", "EmitResult", "LineageEmitter"]

DEFAULT_SPOOL = "openlineage.spool.jsonl"
log = logging.getLogger(__name__)
_CREDENTIALS = re.compile(r"(://[^/\s:@]*:)[^@\s/]*@")


def _clean(message: str) -> str:
    # Transport errors can echo URLs; keep passwords out of audit logs.
    return _CREDENTIALS.sub(r"\1***@", message)[:500]


@dataclass(frozen=True)
class EmitResult:
    """The fate of one event: ``delivered``, ``spooled`` (with why) or ``disabled``."""

    event_type: str
    run_id: str
    status: Literal["delivered", "spooled", "disabled"]
    reason: str | None = None
    spool_path: str | None = None

    @property
    def delivered(self) -> bool:
        """Whether the transport accepted the event."""
        return self.status == "delivered"

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready details for an audit entry (no cell values, no credentials)."""
        out: dict[str, Any] = {"event": self.event_type, "run_id": self.run_id}
        out["status"] = self.status
        if self.reason is not None:
            out["reason"] = self.reason
        if self.spool_path is not None:
            out["spool"] = self.spool_path
        return out


_NOT_CONFIGURATION = frozenset({"OPENLINEAGE_DISABLED", "OPENLINEAGE_NAMESPACE"})


def _may_be_configured() -> bool:
    """Whether any of the client's configuration sources exists, checked without
    importing the client (~0.5 s of start-up every run would otherwise pay).

    Deliberately wide: any ``OPENLINEAGE*`` variable (``OPENLINEAGE_URL``,
    ``OPENLINEAGE_CONFIG``, ``OPENLINEAGE__TRANSPORT__*`` …) or an
    ``openlineage.yml`` where the client looks; the client then decides.
    """
    if any(k.startswith("OPENLINEAGE") and k not in _NOT_CONFIGURATION for k in os.environ):
        return True
    try:
        places = (Path.cwd() / "openlineage.yml", Path("~/.openlineage/openlineage.yml"))
        return any(place.expanduser().is_file() for place in places)
    except (OSError, RuntimeError):  # a deleted working directory, no home: let the client look
        return True


class LineageEmitter:
    """Emits START / COMPLETE / FAIL events for runs through an OpenLineage client."""

    def __init__(
        self,
        client: OpenLineageClient | None,
        *,
        spool_path: str | Path = DEFAULT_SPOOL,
        timeout: float = 10.0,
        namespace: str | None = None,
        unavailable: str | None = None,
    ) -> None:
        self.client = client
        self.spool = Spool(spool_path)
        self.timeout = timeout
        self.namespace = namespace or job_namespace()
        # Why no client could be built (a configuration error): events are
        # spooled, not dropped, so fixing the configuration and flushing recovers them.
        self.unavailable = unavailable

    @classmethod
    def from_environment(
        cls, spool_path: str | Path = DEFAULT_SPOOL, *, timeout: float = 10.0
    ) -> LineageEmitter:
        """Build an emitter from the client's standard configuration; never raises."""
        if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
            return cls(None, spool_path=spool_path, timeout=timeout)
        if not _may_be_configured():
            return cls(None, spool_path=spool_path, timeout=timeout)
        from openlineage.client import OpenLineageClient

        try:
            # Unconfigured, the client warns and falls back to printing events to the
            # console; we stay quiet and off instead (checked just below).
            client_log = logging.getLogger("openlineage.client.client")
            previous = client_log.level
            client_log.setLevel(logging.ERROR)
            try:
                client = OpenLineageClient()
            finally:
                client_log.setLevel(previous)
            transport = client.config.transport or {}
            configured = bool(transport.get("type")) or bool(os.environ.get("OPENLINEAGE_URL"))
        except Exception as exc:  # why broad: any config problem must not fail a run
            return cls(
                None, spool_path=spool_path, timeout=timeout,
                unavailable=f"OpenLineage configuration error: {_clean(str(exc))}",
            )  # fmt: skip
        if not configured:
            return cls(None, spool_path=spool_path, timeout=timeout)
        return cls(client, spool_path=spool_path, timeout=timeout)

    @property
    def enabled(self) -> bool:
        """Whether events are produced at all (False when disabled or unconfigured)."""
        return self.client is not None or self.unavailable is not None

    # -- a run's events -------------------------------------------------------------

    def start(self, run: RunLineage, *, event_time: datetime | None = None) -> EmitResult:
        """Emit START: the job, its input and output names and schemas."""
        return self._emit(run, "START", event_time=event_time)

    def complete(self, run: RunLineage, *, event_time: datetime | None = None) -> EmitResult:
        """Emit COMPLETE with every facet (statistics, versions, column lineage, quality)."""
        return self._emit(run, "COMPLETE", event_time=event_time)

    def fail(
        self,
        run: RunLineage,
        error_message: str,
        *,
        stack_trace: str | None = None,
        event_time: datetime | None = None,
    ) -> EmitResult:
        """Emit FAIL with an ``errorMessage`` facet (message only; no cell values in it)."""
        return self._emit(
            run, "FAIL", event_time=event_time, error=error_message, stack_trace=stack_trace
        )

    def _emit(
        self,
        run: RunLineage,
        state: str,
        *,
        event_time: datetime | None,
        error: str | None = None,
        stack_trace: str | None = None,
    ) -> EmitResult:
        run_id = openlineage_run_id(run.run_id)
        if not self.enabled:
            return EmitResult(state, run_id, "disabled")
        from pipeline.lineage.events import build_event  # the event classes load with it

        try:
            event = build_event(
                run, state, namespace=self.namespace, event_time=event_time, error=error,
                stack_trace=stack_trace,
            )  # fmt: skip
        except Exception as exc:  # why broad: a lineage bug must not fail the run
            log.warning("could not build OpenLineage %s event: %s", state, exc)
            return EmitResult(state, run_id, "spooled", reason=f"event not built: {exc}")
        return self.emit(event, state, run_id)

    def emit(self, event: Any, state: str = "OTHER", run_id: str = "") -> EmitResult:
        """Deliver one client event object, or spool it; return what happened."""
        client = self.client
        reason = self.unavailable
        if client is not None:
            reason = self._within_deadline(lambda: client.emit(event))
        if reason is None:
            return EmitResult(state, run_id, "delivered")
        from openlineage.client.serde import Serde

        try:
            # After client.emit the event carries the client's additions (tags,
            # environment facets): the spool holds exactly what would have gone out.
            self.spool.append(Serde.to_dict(event), reason)
        except OSError as exc:
            reason = f"{reason}; spool {self.spool.path} not writable: {exc}"
            log.warning("OpenLineage event lost: %s", reason)
        return EmitResult(state, run_id, "spooled", reason=reason, spool_path=str(self.spool.path))

    def _within_deadline(self, work: Callable[[], object]) -> str | None:
        outcome: dict[str, str | None] = {}

        def target() -> None:
            try:
                work()
                outcome["error"] = None
            except Exception as exc:  # why broad: reported, then spooled
                outcome["error"] = _clean(f"{type(exc).__name__}: {exc}")

        worker = threading.Thread(target=target, name="openlineage-emit", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if "error" not in outcome:
            return f"not delivered within {self.timeout:g} s"
        return outcome["error"]

    # -- the spool ------------------------------------------------------------------

    def flush(self) -> FlushResult:
        """Re-send every spooled event in order through the configured transport."""
        client = self.client
        if client is None:
            why = self.unavailable or "no OpenLineage transport is configured (or it is disabled)"
            result = FlushResult(remaining=len(self.spool))
            result.errors.append(why)
            return result
        # Spooled events are plain JSON; transports serialize dicts as is
        # (Serde.to_dict passes dicts through), so they go out byte-for-byte.
        transport = client.transport
        return self.spool.flush(
            lambda event: self._within_deadline(lambda: transport.emit(cast(Any, event)))
        )

    def close(self) -> None:
        """Release the transport (HTTP sessions); events already returned are settled."""
        if self.client is not None:
            try:
                self.client.close(timeout=self.timeout)
            except Exception as exc:  # why broad: closing must not fail a run
                log.debug("closing the OpenLineage client failed: %s", exc)
