"""Models for tests, and a guard against real network access.

``ScriptedModel`` and ``FunctionModel`` go through the same call loop as the real client:
answers given a schema are parsed and validated, invalid ones trigger the same re-asks, and
every call fills a ``CallRecord`` (mode ``scripted``, token counts estimated from word counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from modelclient.base import ChatMessage
from modelclient.engine import CallTally, ModelBase, Reply, Tracer

ScriptItem = (
    str | dict[str, Any] | BaseException | Callable[[list[ChatMessage]], str | dict[str, Any]]
)
AnswerFn = Callable[
    [list[ChatMessage], dict[str, Any] | None],
    str | dict[str, Any] | Awaitable[str | dict[str, Any]],
]


class ScriptExhaustedError(RuntimeError):
    """A ``ScriptedModel`` was asked more often than it has answers."""


class NetworkBlockedError(ConnectionRefusedError):
    """A unit test tried to connect to a non-loopback address."""


@dataclass
class ModelCall:
    """One request a test model received (re-asks are separate calls)."""

    messages: list[ChatMessage]
    schema: dict[str, Any] | None
    schema_name: str


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _as_text(answer: str | dict[str, Any]) -> str:
    return answer if isinstance(answer, str) else json.dumps(answer)


class _TestModel(ModelBase):
    """Shared bookkeeping: ``calls``, fake usage and a fixed prompt overhead."""

    def __init__(
        self, name: str, *, max_reasks: int, tracer: Tracer | None, overhead_chars: int
    ) -> None:
        super().__init__(name, max_reasks=max_reasks, tracer=tracer)
        self.calls: list[ModelCall] = []
        self.overhead_chars = overhead_chars

    async def prompt_overhead(
        self, schema: dict[str, Any] | None, schema_name: str = "output"
    ) -> int:
        """``overhead_chars`` for any schema (to act like a client in a fallback mode), else 0.
        Nothing is actually added to the messages."""
        return 0 if schema is None else self.overhead_chars

    def _start(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any] | None,
        schema_name: str,
        tally: CallTally,
    ) -> None:
        self.calls.append(ModelCall(list(messages), schema, schema_name))
        tally.mode = "scripted"
        tally.attempts += 1
        tally.prompt_tokens += sum(_words(m.content) for m in messages)

    @staticmethod
    def _finish(answer: str | dict[str, Any], tally: CallTally) -> Reply:
        text = _as_text(answer)
        tally.completion_tokens += _words(text)
        return Reply(text=text)


class ScriptedModel(_TestModel):
    """Returns scripted answers in order, one per request (re-asks included).

    Each item is a string, a dict (sent as JSON), an exception instance (raised), or a
    callable taking the messages and returning a string or dict. ``overhead_chars`` is what
    ``prompt_overhead`` reports for any schema.
    """

    def __init__(
        self,
        responses: Sequence[ScriptItem],
        name: str = "scripted",
        *,
        max_reasks: int = 2,
        tracer: Tracer | None = None,
        overhead_chars: int = 0,
    ) -> None:
        super().__init__(name, max_reasks=max_reasks, tracer=tracer, overhead_chars=overhead_chars)
        self.responses = list(responses)
        self._next = 0

    @property
    def remaining(self) -> int:
        """Answers not used yet."""
        return len(self.responses) - self._next

    async def _answer(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any] | None,
        schema_name: str,
        tally: CallTally,
    ) -> Reply:
        if self._next >= len(self.responses):
            last = messages[-1].content[:200] if messages else ""
            raise ScriptExhaustedError(
                f"ScriptedModel {self.name!r} ran out of its {len(self.responses)} answers; "
                f"request {self._next + 1} ended with: {last!r}"
            )
        item = self.responses[self._next]
        self._next += 1
        self._start(messages, schema, schema_name, tally)
        if isinstance(item, BaseException):
            raise item
        answer = item(list(messages)) if callable(item) else item
        return self._finish(answer, tally)


class FunctionModel(_TestModel):
    """Answers with ``fn(messages, schema)``, sync or async, after an optional delay.
    ``overhead_chars`` is what ``prompt_overhead`` reports for any schema."""

    def __init__(
        self,
        fn: AnswerFn,
        name: str = "function",
        *,
        delay_s: float = 0.0,
        max_reasks: int = 2,
        tracer: Tracer | None = None,
        overhead_chars: int = 0,
    ) -> None:
        super().__init__(name, max_reasks=max_reasks, tracer=tracer, overhead_chars=overhead_chars)
        self.fn = fn
        self.delay_s = delay_s

    async def _answer(
        self,
        messages: list[ChatMessage],
        schema: dict[str, Any] | None,
        schema_name: str,
        tally: CallTally,
    ) -> Reply:
        self._start(messages, schema, schema_name, tally)
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        answer = self.fn(list(messages), schema)
        if inspect.isawaitable(answer):
            answer = await answer
        return self._finish(answer, tally)


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like are local
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def block_network() -> Iterator[None]:
    """Within the block, connecting a socket to a non-loopback address raises
    ``NetworkBlockedError``; loopback (local stub servers) stays allowed."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_loopback(address):
            raise NetworkBlockedError(f"network access to {address!r} is blocked in unit tests")
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_loopback(address):
            raise NetworkBlockedError(f"network access to {address!r} is blocked in unit tests")
        return original_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
