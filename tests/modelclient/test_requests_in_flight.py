"""How busy the embedded server is, read from a vLLM-style ``/metrics`` page served on
127.0.0.1; and ``steward train``'s warning before it trains beside a busy server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.train_flow import busy_warning
from modelclient.metrics import requests_in_flight

METRICS = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="smollm2-135m-instruct"} 3.0
vllm:num_requests_waiting{engine="0",model_name="smollm2-135m-instruct"} 2.0
vllm:num_requests_waiting_by_reason{engine="0",model_name="m",reason="capacity"} 7.0
vllm:num_requests_running{engine="1",model_name="smollm2-135m-instruct"} 1.0
"""


@pytest.fixture
def metrics_server() -> Iterator[tuple[str, list[str]]]:
    pages = [METRICS]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages[0].encode()
            self.send_response(200 if self.path == "/metrics" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", pages
    finally:
        server.shutdown()
        server.server_close()


def test_running_and_waiting_requests_of_every_engine_are_counted(
    metrics_server: tuple[str, list[str]],
) -> None:
    url, pages = metrics_server
    assert requests_in_flight(url) == 6  # 3 + 2 + 1; the by-reason breakdown is not added
    pages[0] = METRICS.replace("3.0", "0.0").replace("2.0", "0.0").replace("} 1.0", "} 0.0")
    assert requests_in_flight(url) == 0
    pages[0] = "# no vLLM gauges here\nprocess_cpu_seconds_total 12.0\n"
    assert requests_in_flight(url) is None


def test_a_server_that_cannot_be_asked_says_nothing() -> None:
    with socket_closed() as port:
        assert requests_in_flight(f"http://127.0.0.1:{port}/v1", timeout_s=1) is None
    assert requests_in_flight("not a url") is None


def test_the_train_flow_warns_while_the_server_is_busy(
    metrics_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cli import train_flow
    from local import server as local_server
    from local.settings import ServerInfo

    url, pages = metrics_server
    info = ServerInfo.model_construct(base_url=url)
    monkeypatch.setattr(local_server, "running_server", lambda settings: info)
    said: list[str] = []
    train_flow._check_idle(object(), said.append)
    assert said == [busy_warning(6)] and "steward serve --stop" in said[0]
    pages[0] = METRICS.replace("3.0", "0.0").replace("2.0", "0.0").replace("} 1.0", "} 0.0")
    train_flow._check_idle(object(), said.append)
    monkeypatch.setattr(local_server, "running_server", lambda settings: None)
    train_flow._check_idle(object(), said.append)
    assert len(said) == 1  # idle, or no server: nothing to say


class socket_closed:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *args: object) -> None:
        pass
