"""ScriptedModel, FunctionModel and the network guard."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from core.errors import ModelOutputError
from core.usage import CallRecord
from modelclient import (
    ChatMessage,
    FunctionModel,
    Model,
    NetworkBlockedError,
    ScriptedModel,
    ScriptExhaustedError,
    StubServer,
    block_network,
)

SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
}
MSGS = [ChatMessage(role="user", content="are we there yet")]


async def test_scripted_returns_answers_in_order() -> None:
    model = ScriptedModel(["first", {"ok": True}, lambda msgs: f"echo {msgs[-1].content}"])
    assert isinstance(model, Model)
    assert (await model.complete(MSGS)).text == "first"
    out = await model.complete(MSGS, schema=SCHEMA, role="steward", purpose="plan")
    assert out.data == {"ok": True} and out.text == '{"ok": true}'
    assert (await model.complete(MSGS)).text == "echo are we there yet"
    assert model.remaining == 0
    assert [c.schema for c in model.calls] == [None, SCHEMA, None]
    rec = out.record
    assert (rec.mode, rec.role, rec.purpose, rec.model) == (
        "scripted",
        "steward",
        "plan",
        "scripted",
    )
    assert rec.usage.prompt_tokens > 0 and rec.usage.completion_tokens > 0
    assert rec.usage.calls == 1 and rec.attempts == 1


async def test_scripted_reasks_on_invalid_answers() -> None:
    records: list[CallRecord] = []
    model = ScriptedModel(["not json", {"ok": "yes"}, {"ok": False}], tracer=records.append)
    out = await model.complete(MSGS, schema=SCHEMA)
    assert out.data == {"ok": False}
    assert out.record.usage.calls == 3
    last = model.calls[-1].messages
    assert [m.role for m in last] == ["user", "assistant", "user", "assistant", "user"]
    assert "no JSON object" in last[2].content
    assert "'yes' is not of type 'boolean'" in last[4].content
    assert records == [out.record]


async def test_scripted_gives_up_after_max_reasks() -> None:
    model = ScriptedModel(["a", "b", "c"], max_reasks=1)
    with pytest.raises(ModelOutputError, match="after 2 answer"):
        await model.complete(MSGS, schema=SCHEMA)
    assert model.remaining == 1


async def test_scripted_raises_exceptions_and_reports_exhaustion() -> None:
    records: list[CallRecord] = []
    model = ScriptedModel([TimeoutError("slow")], tracer=records.append)
    with pytest.raises(TimeoutError):
        await model.complete(MSGS)
    assert records[0].error == "slow"
    with pytest.raises(ScriptExhaustedError, match="ran out of its 1 answers"):
        await model.complete(MSGS)


async def test_function_model_sync_async_and_delay() -> None:
    seen: list[Any] = []

    def sync_fn(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        seen.append(schema)
        return {"ok": True} if schema else "plain"

    async def async_fn(messages: list[ChatMessage], schema: dict[str, Any] | None) -> str:
        await asyncio.sleep(0)
        return '```json\n{"ok": false}\n```'

    assert (await FunctionModel(sync_fn).complete(MSGS)).text == "plain"
    assert (await FunctionModel(sync_fn).complete(MSGS, schema=SCHEMA)).data == {"ok": True}
    assert seen == [None, SCHEMA]
    slow = FunctionModel(async_fn, name="slow", delay_s=0.05)
    outs = await asyncio.gather(*(slow.complete(MSGS, schema=SCHEMA) for _ in range(4)))
    assert all(o.data == {"ok": False} for o in outs)
    assert all(o.record.usage.latency_s >= 0.05 for o in outs)
    assert sum(o.record.usage.latency_s for o in outs) < 4 * 0.05 + 1  # they overlapped
    assert len(slow.calls) == 4 and outs[0].record.model == "slow"


def test_network_guard_blocks_non_loopback() -> None:
    with socket.socket() as sock, pytest.raises(NetworkBlockedError, match=r"203\.0\.113\.9"):
        sock.connect(("203.0.113.9", 80))
    with pytest.raises(OSError):
        socket.create_connection(("203.0.113.9", 80), timeout=1)
    with socket.socket(socket.AF_INET6) as sock, pytest.raises(NetworkBlockedError):
        sock.connect_ex(("2001:db8::1", 80, 0, 0))


async def test_network_guard_blocks_asyncio_but_allows_loopback() -> None:
    with pytest.raises(OSError):
        await asyncio.open_connection("203.0.113.9", 80)
    with StubServer() as stub:
        port = int(stub.url.rsplit(":", 1)[1].split("/")[0])
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()


def test_block_network_restores_socket() -> None:
    before = socket.socket.connect
    with block_network():
        assert socket.socket.connect is not before
    assert socket.socket.connect is before
