"""A tiny OpenAI-compatible chat server on 127.0.0.1 for tests (stdlib only, runs in a thread).

It behaves like a cooperative model: with a schema in ``response_format`` (or described in the
prompt by :func:`modelclient.structured.schema_prompt`), or with a forced tool call, it answers
with a small valid instance. Scripted answers (``push``) take precedence, except for the
client's probe requests, which are always answered by the capability rules. Failures can be
injected (``fail``) and each structured feature can be honoured, ignored or rejected (400).
"""

from __future__ import annotations

import collections
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from modelclient.examples import example_instance
from modelclient.probe import PROBE_SCHEMA
from modelclient.structured import schema_in_prompt

logger = logging.getLogger("steward.modelclient.stub")

Support = Literal["honour", "ignore", "reject"]
Failure = Literal[
    "400", "500", "503", "429", "hang", "disconnect", "empty_choices", "truncated", "bad_json"
]
StubAnswer = str | dict[str, Any] | Callable[[dict[str, Any]], "str | dict[str, Any]"]
_Response = tuple[int, dict[str, Any] | None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    stub: StubServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def do_GET(self) -> None:
        stub = self.server.stub
        if self.path.rstrip("/").endswith("/models"):
            names = sorted(stub.models or {stub.model})
            data = [{"id": n, "object": "model", "owned_by": "stub"} for n in names]
            self._send(200, {"object": "list", "data": data})
        elif self.path.rstrip("/") in ("/health", "/v1/health"):
            self._send(200, {})
        elif self.path.rstrip("/") == "/metrics":
            text = stub.metrics().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
        else:
            self._send(404, _error(f"no route {self.path}", "NotFoundError"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, _error(f"no route {self.path}", "NotFoundError"))
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, _error("request body is not JSON", "BadRequestError"))
            return
        status, payload = self.server.stub._handle(body)
        if payload is None:  # hang or disconnect: close without an answer
            self.close_connection = True
            return
        headers = {"Retry-After": "0"} if status == 429 else {}
        self._send(status, payload, headers)

    def _send(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


def _words(text: str) -> int:
    return max(1, len(text.split()))


class StubServer:
    """An OpenAI-compatible stub on 127.0.0.1; use as a context manager or ``start``/``stop``.

    ``models`` limits the accepted model names (others get 404); by default any name works.
    ``latency_s`` delays every answer. ``requests`` keeps every chat request body received;
    ``max_in_flight`` is the most requests handled at once.
    """

    def __init__(
        self,
        answers: Iterable[StubAnswer] = (),
        *,
        model: str = "stub-model",
        models: Iterable[str] | None = None,
        latency_s: float = 0.0,
        json_schema: Support = "honour",
        json_object: Support = "honour",
        tools: Support = "honour",
        default_answer: str = "Hello from the stub.",
        hang_s: float = 30.0,
    ) -> None:
        self.model = model
        self.models = set(models) if models is not None else None
        self.latency_s = latency_s
        self.json_schema: Support = json_schema
        self.json_object: Support = json_object
        self.tools: Support = tools
        self.default_answer = default_answer
        self.hang_s = hang_s
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._answers: collections.deque[StubAnswer] = collections.deque(answers)
        self._failures: collections.deque[Failure] = collections.deque()
        self._lock = threading.Lock()
        self._recent_prompts: collections.deque[str] = collections.deque(maxlen=64)
        self._cache_queried = 0
        self._cache_hits = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL including ``/v1``."""
        if self._server is None:
            raise RuntimeError("StubServer is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> StubServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.stub = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="stub-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release hanging requests."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def push(self, *answers: StubAnswer) -> None:
        """Queue scripted answers: strings, dicts (sent as JSON) or ``fn(request_body)``."""
        with self._lock:
            self._answers.extend(answers)

    def fail(self, kind: Failure, times: int = 1) -> None:
        """Make the next ``times`` chat requests fail in the given way."""
        with self._lock:
            self._failures.extend([kind] * times)

    def metrics(self) -> str:
        """vLLM's prefix-cache counters, simulated: a prompt's tokens (4 characters each) are
        looked up, and those of its longest common prefix with a recent prompt are found."""
        with self._lock:
            queried, hits = self._cache_queried, self._cache_hits
        return (
            f'vllm:prefix_cache_queries_total{{engine="0",model_name="{self.model}"}} {queried}\n'
            f'vllm:prefix_cache_hits_total{{engine="0",model_name="{self.model}"}} {hits}\n'
        )

    def _count_prefix(self, body: dict[str, Any]) -> None:
        text = "".join(str(m.get("content") or "") for m in body.get("messages") or [])
        best = max((_common(text, seen) for seen in self._recent_prompts), default=0)
        self._cache_queried += len(text) // 4
        self._cache_hits += best // 4
        self._recent_prompts.append(text)

    def _handle(self, body: dict[str, Any]) -> _Response:
        with self._lock:
            self._count_prefix(body)
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            failure = self._failures.popleft() if self._failures else None
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            return self._respond(body, failure)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _respond(self, body: dict[str, Any], failure: Failure | None) -> _Response:
        if failure == "hang":
            self._stopping.wait(self.hang_s)
            return 0, None
        if failure == "disconnect":
            return 0, None
        if failure in ("400", "500", "503", "429"):
            return int(failure), _error(f"injected {failure}", "InjectedError")
        name = str(body.get("model", ""))
        if self.models is not None and name not in self.models:
            return 404, _error(f"The model `{name}` does not exist.", "NotFoundError")
        fmt = body.get("response_format") or {}
        kind = fmt.get("type")
        tools = body.get("tools") or []
        for used, support, what in (
            (kind == "json_schema", self.json_schema, "response_format json_schema"),
            (kind == "json_object", self.json_object, "response_format json_object"),
            (bool(tools), self.tools, "tools"),
        ):
            if used and support == "reject":
                return 400, _error(f"{what} is not supported by this server", "BadRequestError")
        content, tool_calls = self._answer(body, kind, tools)
        finish = "tool_calls" if tool_calls else "stop"
        if failure == "truncated" and content:
            content, finish = content[: len(content) // 2], "length"
        elif failure == "bad_json":
            content = "{this is not json"
        messages = body.get("messages") or []
        prompt_tokens = sum(_words(str(m.get("content") or "")) for m in messages)
        completion_tokens = _words(content or json.dumps(tool_calls))
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        choices = [{"index": 0, "message": message, "finish_reason": finish}]
        return 200, {
            "id": f"chatcmpl-stub-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": name or self.model,
            "choices": [] if failure == "empty_choices" else choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _answer(
        self, body: dict[str, Any], kind: str | None, tools: list[dict[str, Any]]
    ) -> tuple[str | None, list[dict[str, Any]] | None]:
        fmt_schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
        tool_schema = _forced_tool(body, tools)
        prompt_schema = _prompt_schema(body)
        is_probe = PROBE_SCHEMA in (fmt_schema, prompt_schema, tool_schema and tool_schema[1])
        with self._lock:
            item = self._answers.popleft() if self._answers and not is_probe else None
        if item is not None:
            value = item(body) if callable(item) else item
            return (value if isinstance(value, str) else json.dumps(value)), None
        if kind == "json_schema" and self.json_schema == "honour" and fmt_schema is not None:
            return json.dumps(example_instance(fmt_schema)), None
        if tool_schema is not None and self.tools == "honour":
            name, params = tool_schema
            call = {"name": name, "arguments": json.dumps(example_instance(params))}
            return None, [{"id": "call_stub_1", "type": "function", "function": call}]
        if kind == "json_object" and self.json_object == "honour":
            return json.dumps(example_instance(prompt_schema) if prompt_schema else {}), None
        if prompt_schema is not None:
            block = json.dumps(example_instance(prompt_schema), indent=1)
            return f"Sure, here it is:\n```json\n{block}\n```", None
        return self.default_answer, None


def _forced_tool(body: dict[str, Any], tools: list[dict[str, Any]]) -> tuple[str, Any] | None:
    choice = body.get("tool_choice")
    wanted = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    for tool in tools:
        function = tool.get("function") or {}
        auto = wanted is None and choice in (None, "required", "auto")
        if auto or function.get("name") == wanted:
            return str(function.get("name")), function.get("parameters") or {}
    return None


def _prompt_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    for message in reversed(body.get("messages") or []):
        schema = schema_in_prompt(str(message.get("content") or ""))
        if schema is not None:
            return schema
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _common(a: str, b: str) -> int:
    """Length of the common prefix of ``a`` and ``b``."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
