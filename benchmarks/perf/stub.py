"""A fast OpenAI-compatible stub for the perf bench: raw asyncio HTTP/1.1 on 127.0.0.1.

Run in its own process (``PerfStub`` starts it) so its work never competes with the process
being measured for the GIL. Every chat answer waits a fixed latency, taken from the model
name: ``perf-50ms`` waits 50 ms, any other name 0 ms. The answers come from
:mod:`benchmarks.perf.answers`. ``GET /stats`` reports how many requests were served, by
purpose, and the seconds spent serving them (latency included): the bench subtracts that
as the time spent waiting on the model; ``GET /requests`` returns the chat request bodies
(for baselines that replay them). ``POST /reset`` zeroes the counters.

Started as ``python -m benchmarks.perf.stub`` (or by ``main``), it prints ``PORT <n>`` and
serves until stdin closes or it is terminated.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from types import TracebackType
from typing import Any

from benchmarks.perf.answers import Answers

_KEEP_BODIES = 2000
_MAIN = "import sys; from benchmarks.perf.stub import main; main(sys.argv[1:])"
_LATENCY = re.compile(r"-(\d+(?:\.\d+)?)ms$")


def latency_of(model: str) -> float:
    """Seconds of latency encoded in a model name (``perf-50ms`` -> 0.05)."""
    match = _LATENCY.search(model)
    return float(match.group(1)) / 1000 if match else 0.0


def model_name(latency_ms: float) -> str:
    """The model name that asks the stub for ``latency_ms`` per answer."""
    return f"perf-{latency_ms:g}ms"


class _Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.bodies: list[bytes] = []
        self.requests = 0
        self.service_s = 0.0
        self.connections = 0
        self.by_purpose: dict[str, int] = {}

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "service_s": self.service_s,
            "connections": self.connections,
            "by_purpose": dict(self.by_purpose),
        }


class _Server:
    def __init__(self) -> None:
        self.answers = Answers()
        self.stats = _Stats()
        self.counter = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    if line[:15].lower() == "content-length:":
                        length = int(line[15:].strip())
                body = await reader.readexactly(length) if length else b""
                started = time.perf_counter()
                status, payload = await self.route(method, path, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                writer.write(
                    b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n"
                    % (status, len(data))
                    + data
                )
                await writer.drain()
                if path.endswith("/chat/completions"):
                    self.stats.service_s += time.perf_counter() - started
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path.endswith("/chat/completions") and method == "POST":
            if len(self.stats.bodies) < _KEEP_BODIES:
                self.stats.bodies.append(body)
            return 200, await self.chat(json.loads(body))
        if path.endswith("/stats"):
            return 200, self.stats.as_dict()
        if path.endswith("/requests"):
            return 200, b"[" + b",".join(self.stats.bodies) + b"]"
        if path.endswith("/reset"):
            self.stats.reset()
            return 200, {}
        if path.endswith("/models"):
            return 200, {"object": "list", "data": [{"id": "perf", "object": "model"}]}
        return 404, {"error": {"message": f"no route {path}", "type": "NotFoundError"}}

    async def chat(self, body: dict[str, Any]) -> bytes:
        model = str(body.get("model", ""))
        purpose, content = self.answers.answer(body)
        self.stats.requests += 1
        self.stats.by_purpose[purpose] = self.stats.by_purpose.get(purpose, 0) + 1
        self.counter += 1
        delay = latency_of(model)
        if delay:
            await asyncio.sleep(delay)
        prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages") or []) // 4
        completion = max(1, len(content) // 4)
        return json.dumps(
            {
                "id": f"chatcmpl-perf-{self.counter}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        ).encode()


async def serve(port: int = 0) -> None:
    """Serve on 127.0.0.1:``port`` (0: any free port), print ``PORT <n>``, run until stdin ends."""
    server = _Server()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", port, backlog=512)
    bound = listener.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {bound}\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # the parent closes stdin to stop us
    listener.close()
    os._exit(0)  # open keep-alive connections die with the process, without tracebacks


class PerfStub:
    """Starts the stub in a subprocess; a context manager. ``url`` includes ``/v1``."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> PerfStub:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"perf stub did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _get(self, path: str, method: str = "GET") -> dict[str, Any]:
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return dict(json.loads(resp.read()))

    def stats(self) -> dict[str, Any]:
        """Requests served, by purpose, and seconds spent serving them since the last reset."""
        return self._get("/stats")

    def reset(self) -> None:
        self._get("/reset", method="POST")

    def requests(self) -> list[dict[str, Any]]:
        """The chat request bodies served since the last reset (the first 2000)."""
        with urllib.request.urlopen(f"{self.url}/requests", timeout=10) as resp:
            return list(json.loads(resp.read()))

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> PerfStub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str]) -> None:
    """Entry point of the stub process: ``[port]``."""
    asyncio.run(serve(int(argv[0]) if argv else 0))


if __name__ == "__main__":
    main(sys.argv[1:])
