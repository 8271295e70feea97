"""A tiny OTLP/HTTP trace receiver on 127.0.0.1 for the telemetry tests: it takes the
exporter's POSTs (protobuf), keeps them decoded and answers as a collector does."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


class Receiver(HTTPServer):
    """Accepts OTLP/HTTP trace exports (protobuf) and keeps what it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, ExportTraceServiceRequest]] = []
        self.got = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def spans(self) -> list[Span]:
        """Every span received, checking each request is a trace export of service
        ``steward`` under the ``steward`` scope."""
        out: list[Span] = []
        for path, content_type, request in self.requests:
            assert path == "/v1/traces" and content_type == "application/x-protobuf"
            for resource_spans in request.resource_spans:
                resource = resource_spans.resource.attributes
                service = {a.key: a.value.string_value for a in resource}
                assert service["service.name"] == "steward"
                for scope in resource_spans.scope_spans:
                    assert scope.scope.name == "steward"
                    out += list(scope.spans)
        return out


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


def attributes(span: Span) -> dict[str, Any]:
    """A span's attributes as plain values."""
    out: dict[str, Any] = {}
    for a in span.attributes:
        which = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, which) if which else None
    return out
