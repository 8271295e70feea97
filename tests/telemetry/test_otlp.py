"""With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, a run's spans go over OTLP/HTTP: a tiny local
receiver takes the exporter's POSTs and decodes them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http", reason="the telemetry extra is not installed"
)

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import telemetry
from memory.runs import RunStore
from telemetry import tracer as tracer_module
from tests.telemetry.runs import run


class Receiver(HTTPServer):
    """Accepts OTLP/HTTP trace exports (protobuf) and keeps what it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, ExportTraceServiceRequest]] = []
        self.got = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.requests.append((self.path, self.headers["Content-Type"], request))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.server.got.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.setattr(tracer_module, "_shared", None)  # a provider for this endpoint
    try:
        yield server
    finally:
        if tracer_module._shared is not None:
            tracer_module._shared.shutdown()
        server.shutdown()
        server.server_close()


def test_spans_are_exported_over_otlp_http(receiver: Receiver, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    seen: list[str] = []
    on_event = telemetry.with_telemetry(lambda event: seen.append(event.kind), store)
    assert on_event is not None
    record = run(tmp_path, on_event, store)
    assert seen[0] == "run_started" and seen[-1] == "run_finished"  # the first callback too
    assert tracer_module._shared is not None and tracer_module._shared.force_flush(10_000)
    assert receiver.got.wait(10)
    spans = []
    for path, content_type, request in receiver.requests:
        assert path == "/v1/traces" and content_type == "application/x-protobuf"
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert service["service.name"] == "steward"
            for scope in resource_spans.scope_spans:
                assert scope.scope.name == "steward"
                spans += list(scope.spans)
    names = sorted(s.name for s in spans)
    assert names.count("invoke_workflow steward") == 1
    assert names.count("invoke_agent <app:notes>") == 1 and "execute_tool send" in names
    root = next(s for s in spans if s.name == "invoke_workflow steward")
    attributes = {a.key: a.value for a in root.attributes}
    assert attributes["gen_ai.conversation.id"].string_value == record.run_id
    assert attributes["gen_ai.usage.input_tokens"].int_value == record.usage.prompt_tokens
    assert root.start_time_unix_nano == int(record.started_at * 1e9)
    store.close()
