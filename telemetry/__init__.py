"""OpenTelemetry traces of runs, exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set and the optional ``telemetry`` extra
(``opentelemetry-sdk``, ``opentelemetry-exporter-otlp-proto-http``) is installed.

Each finished run becomes a trace built from its record: a span for the run, one per subtask,
one per model call and one per tool call, with explicit start and end times. Without the
variable, or without the SDK, nothing is imported and the run's event callback is unchanged:
the run costs nothing extra. ``OTEL_SDK_DISABLED=true`` turns it off too.

    orchestrator = Orchestrator(..., on_event=with_telemetry(progress))
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memory.runs import RunStore
    from orchestrator.events import Event, EventCallback

log = logging.getLogger("steward.telemetry")

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
"""Either turns telemetry on (the standard OpenTelemetry variables)."""
MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter")
"""What exporting needs (the ``telemetry`` extra)."""

__all__ = ["enabled", "telemetry_callback", "with_telemetry"]

_lock = threading.Lock()
_warned = False


def requested() -> bool:
    """An OTLP endpoint is set and the SDK is not disabled."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(os.environ.get(name, "").strip() for name in ENDPOINT_VARS)


def sdk_installed() -> bool:
    """The SDK and the OTLP/HTTP exporter can be imported (checked without importing them)."""
    for name in MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def enabled() -> bool:
    """Runs are traced: an endpoint is set and the SDK is installed. An endpoint without the
    SDK is logged once as a warning saying what to install."""
    global _warned
    if not requested():
        return False
    if sdk_installed():
        return True
    with _lock:
        if not _warned:
            _warned = True
            log.warning(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed; "
                "no traces are exported (pip install 'steward[telemetry]')"
            )
    return False


def telemetry_callback(store: RunStore | Path | str | None = None) -> EventCallback | None:
    """An event callback that exports each finished run's spans over OTLP, or ``None`` when
    telemetry is off (:func:`enabled`). ``store`` is the run store whose action journal gives
    the tool calls' times (default: the data folder's)."""
    if not enabled():
        return None
    from telemetry.tracer import RunTracer

    return RunTracer(store=store)


def with_telemetry(
    on_event: EventCallback | None, store: RunStore | Path | str | None = None
) -> EventCallback | None:
    """``on_event``, followed by the telemetry callback when telemetry is on; ``on_event``
    itself (the same object) when it is off."""
    tracer = telemetry_callback(store)
    if tracer is None:
        return on_event
    if on_event is None:
        return tracer
    first = on_event

    def both(event: Event) -> None:
        first(event)
        tracer(event)

    both.tracer = tracer  # type: ignore[attr-defined]
    return both
