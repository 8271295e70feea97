"""``steward mcp-serve`` driven by the official MCP SDK's own client, over stdio and streamable
HTTP, with scripted models (``--model script:FILE``: no model server).

The server runs as ``steward`` runs, in a subprocess, through ``cli.main``'s lazy command
group (the command is added to it if ``cli/main.py`` does not list it yet).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.apps.test_apps_mcp_server import free_port, pids, toml_table, wait_gone

ROOT = Path(__file__).resolve().parents[2]
STEWARD = (
    "import cli.main as m; "
    "m.cli.lazy.setdefault('mcp-serve', ('cli.mcp_serve_cmd:mcp_serve', 'Serve Steward over MCP.')); "
    "m.main()"
)
TWEET = [
    {
        "nodes": [
            {"id": "s1", "task_token": "<app:posting>", "instruction": "Tweet hi", "needs": []}
        ]
    },
    {"thought": "", "tool": "post_tweet", "arguments": {"content": "hi over MCP"}},
    {"thought": "", "tool": "finish", "result": "tweeted"},
    {"success": True, "failure_kind": "none", "tips": "", "key_info": "tweet 0"},
    {"answer": "Tweeted."},
]


def script(tmp_path: Path, lines: list[Any], name: str = "answers.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return str(path)


def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PYTHONPATH": str(ROOT),
        "STEWARD_HOME": str(tmp_path / "home"),
        "STEWARD_CACHE": str(tmp_path / "cache"),
        "STEWARD_NO_AUTOSTART": "1",
    }


def server(tmp_path: Path, *args: str) -> StdioServerParameters:
    argv = ["-c", STEWARD, "mcp-serve", "--no-memory", *args]
    return StdioServerParameters(command=sys.executable, args=argv, env=env(tmp_path), cwd=ROOT)


async def test_over_stdio_run_agents_and_show(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(toml_table("notes", notes))
    answers = script(tmp_path, TWEET)
    params = server(
        tmp_path, "--model", f"script:{answers}", "--config", str(config), "--approve", "auto"
    )
    async with Client(stdio_client(params), read_timeout_seconds=60) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"run", "agents", "show"}
        assert tools["run"].input_schema["required"] == ["instruction"]
        assert "scenario" in tools["run"].input_schema["properties"]
        assert tools["show"].annotations is not None and tools["show"].annotations.read_only_hint

        progress: list[str] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        result = await client.call_tool(
            "run", {"instruction": "Tweet hi"}, progress_callback=on_progress
        )
        assert not result.is_error, result.content
        outcome = result.structured_content
        assert outcome["status"] == "succeeded" and outcome["answer"] == "Tweeted."
        assert progress[0] == f"run {outcome['run_id']}: planning"
        assert "s1   -> post_tweet" in progress and "composing the answer" in progress

        shown = await client.call_tool("show", {"run_id": outcome["run_id"][:6]})
        record = json.loads(shown.content[0].text)
        assert record["status"] == "succeeded" and "hi over MCP" in json.dumps(record["apps"])
        assert "notes" in record["settings"]["scenario"]["apps"]  # the configured MCP server

        listed = json.loads((await client.call_tool("agents", {})).content[0].text)
        rows = {a["task_token"]: a for a in listed["agents"]}
        assert "<app:posting>" in rows and rows["<mcp:notes>"]["tools"] == 8

        empty = await client.call_tool("run", {"instruction": "  "})
        assert empty.is_error and "the instruction is empty" in empty.content[0].text
        missing = await client.call_tool("show", {"run_id": "nope"})
        assert missing.is_error and "no run 'nope'" in missing.content[0].text
    assert pids(notes) and all(wait_gone(pid) for pid in pids(notes))


async def test_a_run_that_fails_still_answers_with_its_id_and_status(tmp_path: Path) -> None:
    answers = script(tmp_path, TWEET[:2])  # the script runs out mid-run
    scenario = {"name": "one", "apps": {"posting": {}}}
    async with Client(stdio_client(server(tmp_path, "--model", f"script:{answers}"))) as client:
        result = await client.call_tool("run", {"instruction": "Tweet hi", "scenario": scenario})
        outcome = result.structured_content
        assert not result.is_error, result.content
        assert outcome["status"] == "error"
        assert "ran out after 2 answers" in outcome["error"]
        moon = {"name": "moon", "apps": {"moon": {}}}
        bad = await client.call_tool("run", {"instruction": "x", "scenario": moon})
        assert bad.is_error and "unknown app 'moon'" in bad.content[0].text
        text = await client.call_tool("run", {"instruction": "x", "scenario": "{not json"})
        assert text.is_error and "not valid JSON" in text.content[0].text


@contextmanager
def http_serve(tmp_path: Path, *args: str) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-c", STEWARD, "mcp-serve", "--transport", "http", "--port", str(port)]
    proc = subprocess.Popen(
        [*argv, "--no-memory", *args],
        env={**os.environ, **env(tmp_path)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "steward mcp-serve did not listen"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


async def test_over_streamable_http(tmp_path: Path) -> None:
    answers = script(tmp_path, TWEET)
    with http_serve(tmp_path, "--model", f"script:{answers}") as url:
        async with Client(url, read_timeout_seconds=60) as client:
            assert {t.name for t in (await client.list_tools()).tools} == {"run", "agents", "show"}
            progress: list[str] = []

            async def on_progress(done: float, total: float | None, message: str | None) -> None:
                progress.append(message or "")

            result = await client.call_tool(
                "run", {"instruction": "Tweet hi"}, progress_callback=on_progress
            )
            assert result.structured_content["status"] == "succeeded"
            # no one at the server can approve: the tweet is denied (--approve deny, the default)
            assert any("post_tweet not run: denied: sensitive" in line for line in progress)
            shown = await client.call_tool("show", {"run_id": result.structured_content["run_id"]})
            record = json.loads(shown.content[0].text)
            assert "hi over MCP" not in json.dumps(record["apps"]["posting"]["after"])
            assert [a["decision"] for a in record["approvals"]] == ["denied"]
