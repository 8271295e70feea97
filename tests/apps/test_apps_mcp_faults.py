"""MCP servers that go wrong: each gives one line naming the server, and the others still work.

Broken config tables, a command that is not found, a program that does not speak MCP, one that
exits or says nothing, a URL with nothing behind it; and, mid-run, a server that crashes or
hangs: the call fails with the reason, the server's process is gone, later calls fail at once.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest

from apps.mcp import McpServerConfig, McpServers, load_mcp_config
from core.errors import ConfigError, ToolError
from tests.apps.test_apps_mcp_server import free_port, pids, stdio_config, toml_table, wait_gone

PY = sys.executable


def test_config_tables_each_broken_their_own_way(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text(
        '[model]\nmodel = "m"\n'
        '[mcp.neither]\ndescription = "no command, no url"\n'
        '[mcp.both]\ncommand = "x"\nurl = "http://127.0.0.1:1/mcp"\n'
        '[mcp.Bad_Name]\ncommand = "x"\n'
        '[mcp.web]\nurl = "ftp://example.com"\n'
        '[mcp.typo]\ncommand = "x"\nargz = []\n'
        "[mcp.flat]\nx = 1\n" + toml_table("notes", tmp_path)
    )
    config = load_mcp_config(file)
    assert set(config.servers) == {"notes"}
    assert config.names == sorted(["neither", "both", "Bad_Name", "web", "typo", "flat", "notes"])
    for name, line in config.errors.items():
        assert line.startswith(f"MCP server {name!r} ([mcp.{name}] in {file}): "), line
        assert "\n" not in line
    assert "give either command" in config.errors["neither"]
    assert "give either command" in config.errors["both"]
    assert "lower case" in config.errors["Bad_Name"]
    assert "must start with http://" in config.errors["web"]
    assert "argz" in config.errors["typo"]
    servers = McpServers.start(config.servers, errors=config.errors)
    try:  # the good one works all the same
        assert set(servers.unavailable) == set(config.errors)
        assert servers.apps["notes"].call("append_log", {"line": "x"}) == {"result": 1}
    finally:
        servers.close()


def test_a_config_file_that_is_not_toml_is_a_config_error(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text("[mcp.files\ncommand = 1")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_mcp_config(file)
    with pytest.raises(ConfigError, match="not found"):
        load_mcp_config(tmp_path / "missing.toml")
    assert load_mcp_config(None).names == []  # no file at all: no servers


def test_servers_that_cannot_start_say_why_and_the_others_work(tmp_path: Path) -> None:
    configs = {
        "missing": McpServerConfig(command="no-such-mcp-server-xyz"),
        "chatty": McpServerConfig(
            command=PY,
            args=["-c", "import sys\nfor _ in sys.stdin: print('hello there', flush=True)"],
        ),
        "quits": McpServerConfig(
            command=PY, args=["-c", "import sys; sys.exit('bad flag --root')"]
        ),
        "mute": McpServerConfig(
            command=PY, args=["-c", "import time; time.sleep(30)"], start_timeout_s=1
        ),
        "nobody": McpServerConfig(url=f"http://127.0.0.1:{free_port()}/mcp"),
        "notes": stdio_config(tmp_path),
    }
    start = time.monotonic()
    servers = McpServers.start(configs)
    try:
        assert time.monotonic() - start < 15
        why = servers.unavailable
        assert set(why) == {"missing", "chatty", "quits", "mute", "nobody"}
        for name, line in why.items():
            assert line.startswith(f"MCP server {name!r}: ") and "\n" not in line, line
        assert "command 'no-such-mcp-server-xyz' not found" in why["missing"]
        assert "does not speak MCP" in why["chatty"] and "'hello there'" in why["chatty"]
        assert "ended before the MCP handshake" in why["quits"]
        assert "its stderr: bad flag --root" in why["quits"]
        assert "did not start within 1 s" in why["mute"]
        assert "cannot reach http://127.0.0.1:" in why["nobody"]
        assert servers.apps["notes"].call("put_note", {"title": "t", "text": "x"})
    finally:
        servers.close()


def test_a_server_that_crashes_fails_the_call_and_every_later_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="steward.apps.mcp")
    servers = McpServers.start({"notes": stdio_config(tmp_path)})
    app = servers.apps["notes"]
    try:
        with pytest.raises(ToolError) as crashed:
            app.call("crash", {})
        message = str(crashed.value)
        assert message.startswith("MCP server 'notes' exited or crashed during crash")
        assert "its stderr: crashing now, as asked" in message
        start = time.monotonic()
        with pytest.raises(ToolError, match="MCP server 'notes' exited or crashed"):
            app.call("get_note", {"title": "x"})
        assert time.monotonic() - start < 1
        [pid] = pids(tmp_path)
        assert wait_gone(pid)
        # the server's stderr went to the log, line by line
        assert "[mcp:notes] crashing now, as asked" in caplog.messages
    finally:
        servers.close()


async def test_a_server_that_hangs_is_stopped_after_the_call_timeout(tmp_path: Path) -> None:
    servers = McpServers.start({"notes": stdio_config(tmp_path, call_timeout_s=1)})
    app = servers.apps["notes"]
    try:
        start = time.monotonic()
        with pytest.raises(ToolError) as hung:
            await app.acall("hang", {})
        assert 0.9 < time.monotonic() - start < 5
        assert str(hung.value).startswith(
            "MCP server 'notes' stopped answering: hang got no answer within 1 s, so the server "
            "was stopped"
        )
        [pid] = pids(tmp_path)
        assert wait_gone(pid)  # no process left behind
        with pytest.raises(ToolError, match="stopped answering"):
            await app.acall("get_note", {"title": "x"})
    finally:
        await servers.aclose()


def test_closing_stops_every_server_process(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    servers = McpServers.start({"one": stdio_config(one), "two": stdio_config(two)})
    started = pids(one) + pids(two)
    assert len(started) == 2
    servers.close()
    assert all(wait_gone(pid) for pid in started)
