"""The event callback that turns each finished run into spans and hands them to an exporter
(OTLP over HTTP by default, configured by the standard ``OTEL_EXPORTER_OTLP_*`` variables).

Imported only when telemetry is on: it needs ``opentelemetry-sdk`` (and, for OTLP,
``opentelemetry-exporter-otlp-proto-http``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from agents.records import RunRecord
from telemetry.spans import ToolTimes, emit_run

if TYPE_CHECKING:
    from memory.runs import RunStore
    from orchestrator.events import Event

log = logging.getLogger("steward.telemetry")

SCOPE = "steward"
"""The instrumentation scope of every span."""


_shared: TracerProvider | None = None
_shared_lock = threading.Lock()


def provider_for(exporter: SpanExporter, *, batch: bool = True) -> TracerProvider:
    """A tracer provider (service ``steward``) sending its spans to ``exporter``: in the
    background when ``batch`` (flushed at exit), else as each span ends."""
    provider = TracerProvider(resource=Resource.create({"service.name": "steward"}))
    processor: SpanProcessor = (
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    provider.add_span_processor(processor)
    return provider


def otlp_provider() -> TracerProvider:
    """The process's one provider exporting over OTLP/HTTP (endpoint, headers and timeout
    from the ``OTEL_EXPORTER_OTLP_*`` variables), made on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _shared = provider_for(OTLPSpanExporter())
        return _shared


class RunTracer:
    """An ``EventCallback``: on ``run_finished`` it builds the run's spans from the event's
    record (and the tool-call times of the run store's action journal) and exports them.
    Any failure is logged, never raised: telemetry cannot break a run."""

    def __init__(
        self,
        provider: TracerProvider | None = None,
        *,
        store: RunStore | Path | str | None = None,
    ) -> None:
        """``provider`` defaults to the process's OTLP one (:func:`otlp_provider`); tests pass
        :func:`provider_for` an in-memory exporter. ``store`` is where the action journal is
        read (default: the data folder's run store)."""
        self.store = store
        self.provider = provider or otlp_provider()
        self.tracer = self.provider.get_tracer(SCOPE)

    def __call__(self, event: Event) -> None:
        if event.kind != "run_finished":
            return
        try:
            record = event.data.get("record")
            if not isinstance(record, RunRecord):
                record = RunRecord.model_validate(record)
            self.export(record)
        except Exception as exc:  # telemetry must never break a run
            log.warning("run %s: no telemetry spans (%s: %s)", event.run_id,
                        type(exc).__name__, exc)  # fmt: skip

    def export(self, record: RunRecord) -> int:
        """Build and end the spans of ``record`` (they go to the exporter); how many."""
        return emit_run(self.tracer, record, self._tool_times(record.run_id))

    def _tool_times(self, run_id: str) -> dict[str, ToolTimes]:
        from memory.runs import RunStore

        runs = self.store if isinstance(self.store, RunStore) else RunStore(self.store)
        try:
            if not runs.db["actions"].exists():
                return {}
            rows = runs.db.query(
                "select id, app, status, error, started_at, ended_at from actions "
                "where run_id = ? and started_at > 0",
                [run_id],
            )
            return {str(r["id"]): _times(r) for r in rows}
        finally:
            if runs is not self.store:
                runs.close()

    def force_flush(self, timeout_ms: int = 30_000) -> bool:
        """Export what is waiting; whether it finished in time."""
        return bool(self.provider.force_flush(timeout_ms))


def _times(row: dict[str, Any]) -> ToolTimes:
    return ToolTimes(
        started_at=float(row["started_at"] or 0.0),
        ended_at=float(row["ended_at"] or row["started_at"] or 0.0),
        app=str(row["app"] or ""),
        status=str(row["status"] or ""),
        error=row["error"],
    )
