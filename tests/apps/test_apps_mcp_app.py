"""MCP servers as apps, against the test server (``test_apps_mcp_server``) over stdio and
over streamable HTTP (both protocol eras): tools and their hints, text and structured results,
tool errors, results of megabytes, and calls that do not block the caller's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.mcp import McpApp, McpServerConfig, McpServers
from core.errors import ToolError
from tests.apps.test_apps_mcp_server import TOOLS, http_server, pids, stdio_config, wait_gone


@pytest.fixture(scope="module")
def stdio_notes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[McpApp, Path]]:
    folder = tmp_path_factory.mktemp("notes")
    servers = McpServers.start({"notes": stdio_config(folder, env={"BAD_SCHEMA": "1"})})
    assert servers.unavailable == {}
    yield servers.apps["notes"], folder
    servers.close()
    assert all(wait_gone(pid) for pid in pids(folder))


def test_tools_come_from_tools_list_with_their_hints(stdio_notes: tuple[McpApp, Path]) -> None:
    app, _ = stdio_notes
    tools = {t.name: t for t in app.tools}
    assert set(tools) == TOOLS
    assert app.description.startswith("A notebook kept in a file")  # the server's instructions
    assert tools["get_note"].parameters["required"] == ["title"]
    hints = {n: (t.read_only, t.idempotent, t.destructive) for n, t in tools.items()}
    assert hints["get_note"] == (True, True, False)  # readOnlyHint: read-only and idempotent
    assert hints["put_note"] == (False, True, True)  # idempotentHint, destructiveHint
    assert hints["append_log"] == (False, False, False)  # destructiveHint false
    assert hints["crash"] == (False, False, True)  # no hints: MCP's defaults
    assert not app.restorable and app.snapshot() == {}


def test_a_tool_with_a_schema_that_is_not_json_schema_is_left_out_with_why(
    stdio_notes: tuple[McpApp, Path],
) -> None:
    app, _ = stdio_notes
    [problem] = app.problems
    assert problem.startswith("MCP server 'notes': tool 'broken' left out:")
    assert "not valid JSON Schema" in problem and "no-such-type" in problem
    assert set(app.call("info", {})) == {"notes", "log"}  # the other tools work


def test_calls_return_text_and_structured_results(stdio_notes: tuple[McpApp, Path]) -> None:
    app, folder = stdio_notes
    assert app.call("put_note", {"title": "todo", "text": "milk"}) == {"result": "saved todo"}
    assert app.call("get_note", {"title": "todo"}) == {"result": "milk"}
    info = app.call("info", {})
    assert info["notes"] >= 1 and set(info) == {"notes", "log"}
    assert '"todo": "milk"' in (folder / "store.json").read_text()


def test_an_error_the_tool_reports_is_a_tool_error(stdio_notes: tuple[McpApp, Path]) -> None:
    app, _ = stdio_notes
    with pytest.raises(ToolError, match="no note called 'nothing'"):
        app.call("get_note", {"title": "nothing"})
    with pytest.raises(ToolError, match="MCP server 'notes' has no tool 'fly'"):
        app.call("fly", {})


def test_a_result_of_several_megabytes_arrives_whole(stdio_notes: tuple[McpApp, Path]) -> None:
    app, _ = stdio_notes
    result = app.call("big", {"megabytes": 5})
    assert len(result["result"]) == 5 * 1024 * 1024


async def test_acall_does_not_block_the_callers_event_loop(
    stdio_notes: tuple[McpApp, Path],
) -> None:
    app, _ = stdio_notes
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    ticker = asyncio.create_task(tick())
    both = await asyncio.gather(
        app.acall("slow", {"seconds": 0.6}), app.acall("slow", {"seconds": 0.6})
    )
    ticker.cancel()
    assert both == [{"result": "slept"}] * 2
    assert ticks >= 10  # the loop kept running while the calls were out


@pytest.mark.parametrize("mode", ["http", "http-legacy"])
def test_the_same_server_over_streamable_http(tmp_path: Path, mode: str) -> None:
    with http_server(tmp_path, mode) as url:
        servers = McpServers.start({"web": McpServerConfig(url=url)})
        try:
            assert servers.unavailable == {}
            app = servers.apps["web"]
            legacy = mode == "http-legacy"  # answers as SSE events, over 1 MiB each here
            assert (app.connection.protocol == "2025-11-25") == legacy, app.connection.protocol
            assert {t.name for t in app.tools} == TOOLS
            assert app.call("put_note", {"title": "a", "text": "b"}) == {"result": "saved a"}
            assert app.call("get_note", {"title": "a"}) == {"result": "b"}
            assert len(app.call("big", {"megabytes": 3})["result"]) == 3 * 1024 * 1024
            with pytest.raises(ToolError, match="no note called 'x'"):
                app.call("get_note", {"title": "x"})
        finally:
            servers.close()
