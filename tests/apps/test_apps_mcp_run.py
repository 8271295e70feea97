"""MCP servers in scripted steward runs (``steward run --model script:FILE --config FILE``):
recruited by ``<mcp:NAME>`` beside BFCL apps, side effects checked on disk, a crash and a hang
mid-run, an unavailable server, results of megabytes, ``steward agents``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from tests.apps.test_apps_mcp_server import pids, toml_table, wait_gone

GOOD = {"success": True, "failure_kind": "none", "tips": "", "key_info": "done"}
BAD = {"success": False, "failure_kind": "tool_error", "tips": "", "key_info": ""}


def node(sid: str, token: str, text: str, needs: list[str] | None = None) -> dict[str, Any]:
    return {"id": sid, "task_token": token, "instruction": text, "needs": needs or []}


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"thought": "", "tool": tool, "arguments": arguments}


def finish(result: str = "done") -> dict[str, Any]:
    return {"thought": "", "tool": "finish", "result": result}


def setup(tmp_path: Path, *lines: Any, extra: str = "", **server: Any) -> tuple[str, str]:
    """A config file with the test server as ``[mcp.notes]`` and a script of ``lines``."""
    config = tmp_path / "config.toml"
    config.write_text(toml_table("notes", tmp_path, **server) + extra)
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return str(config), str(answers)


def run(config: str, answers: str, *args: str) -> tuple[Result, dict[str, Any]]:
    """``steward run`` on the scripted answers; the server's tools that write (destructive, as
    MCP assumes of a tool that says nothing) run without asking: ``--approve=auto``."""
    argv = ["run", "Do it", "--model", f"script:{answers}", "--config", config, "--json"]
    argv.append("--approve=auto")
    result = CliRunner().invoke(cli, [*argv, "--no-memory", "-q", *args], catch_exceptions=False)
    return result, json.loads(result.stdout[result.stdout.index("{") :])


def store(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "store.json").read_text()))


def steps(record: dict[str, Any], sid: str) -> list[dict[str, Any]]:
    [sub] = [s for s in record["subtasks"] if s["id"] == sid]
    return [step for attempt in sub["history"] for step in attempt["steps"]]


def test_a_run_recruits_the_server_beside_a_bfcl_app(tmp_path: Path) -> None:
    scenario = tmp_path / "world.json"
    scenario.write_text(json.dumps({"name": "mixed", "apps": {"notes": {}, "math": {}}}))
    plan = {"nodes": [node("s1", "<mcp:notes>", "Save the note"),
                      node("s2", "<app:math>", "Add 2 and 3", ["s1"])]}  # fmt: skip
    config, answers = setup(
        tmp_path, plan, call("put_note", title="todo", text="milk"), finish(), GOOD,
        call("add", a=2, b=3), finish("5"), GOOD, {"answer": "Saved; 5."},
    )  # fmt: skip
    result, record = run(config, answers, "--scenario", str(scenario))
    assert result.exit_code == 0, result.output
    assert [s["status"] for s in record["subtasks"]] == ["succeeded", "succeeded"]
    assert store(tmp_path)["notes"] == {"todo": "milk"}  # the side effect is on disk
    assert steps(record, "s1")[0]["observation"] == {"result": "saved todo"}
    [plan_call] = [c for c in record["steward_calls"] if c["purpose"] == "plan"]
    assert "<mcp:notes>" in json.dumps(plan_call["prompt"]) and "<app:math>" in json.dumps(
        plan_call["prompt"]
    )
    assert record["settings"]["mcp"]["servers"]["notes"]["transport"] == "stdio"
    assert "put_note" in record["settings"]["mcp"]["servers"]["notes"]["tools"]
    assert all(wait_gone(pid) for pid in pids(tmp_path))  # stopped at the end of the run


def test_the_default_world_has_every_configured_server_and_goes_on_without_a_broken_one(
    tmp_path: Path,
) -> None:
    plan = {"nodes": [node("s1", "<mcp:notes>", "Log hello")]}
    config, answers = setup(
        tmp_path, plan, call("append_log", line="hello"), finish(), GOOD, {"answer": "Logged."},
        extra='[mcp.ghost]\ncommand = "no-such-mcp-server-xyz"\n[mcp.empty]\ndescription = "x"\n',
    )  # fmt: skip
    result, record = run(config, answers)
    assert result.exit_code == 0, result.output
    assert (
        "warning: MCP server 'ghost': command 'no-such-mcp-server-xyz' not found" in result.stderr
    )
    assert "warning: MCP server 'empty' ([mcp.empty] in" in result.stderr
    assert store(tmp_path)["log"] == ["hello"]
    assert set(record["settings"]["mcp"]["unavailable"]) == {"ghost", "empty"}
    assert "notes" in record["settings"]["scenario"]["apps"]
    assert "messaging" in record["settings"]["scenario"]["apps"]  # the demo apps are there too


def test_a_result_of_megabytes_is_cut_in_prompts_and_kept_whole_in_the_record(
    tmp_path: Path,
) -> None:
    plan = {"nodes": [node("s1", "<mcp:notes>", "Fetch the big text")]}
    config, answers = setup(
        tmp_path, plan, call("big", megabytes=4), finish(), GOOD, {"answer": "Fetched."}
    )
    result, record = run(config, answers)
    assert result.exit_code == 0, result.output
    assert len(steps(record, "s1")[0]["observation"]["result"]) == 4 * 1024 * 1024
    [sub] = record["subtasks"]
    prompt = json.dumps(sub["history"][0]["calls"][1]["prompt"])  # the act call after it
    assert "more characters]" in prompt and len(prompt) < 50_000


@pytest.mark.parametrize("tool", ["crash", "hang"])
def test_a_server_that_crashes_or_hangs_fails_the_subtask_with_the_reason(
    tmp_path: Path, tool: str
) -> None:
    plan = {"nodes": [node("s1", "<mcp:notes>", "Do the risky thing")]}
    config, answers = setup(
        tmp_path, plan, call(tool), call("get_note", title="x"), finish("failed"), BAD,
        {"answer": "It failed."}, call_timeout_s=1,
    )  # fmt: skip
    start = time.monotonic()
    result, record = run(config, answers, "--max-retries", "0", "--max-replans", "0")
    assert time.monotonic() - start < 20
    assert result.exit_code == 1 and record["status"] == "failed"
    first, second, _ = steps(record, "s1")
    reason = "exited or crashed during crash" if tool == "crash" else "stopped answering: hang"
    assert first["error"].startswith(f"MCP server 'notes' {reason}")
    assert second["error"].startswith("MCP server 'notes'")  # fails at once, same reason
    assert second["latency_s"] < 1
    [pid] = pids(tmp_path)
    assert wait_gone(pid)


def test_agents_lists_the_servers_with_their_tool_counts(tmp_path: Path) -> None:
    extra = '[mcp.ghost]\ncommand = "no-such-mcp-server-xyz"\n[mcp.math]\ncommand = "x"\n'
    config, _ = setup(tmp_path, extra=extra)
    result = CliRunner().invoke(cli, ["agents", "--json", "--config", config])
    assert result.exit_code == 0, result.output
    rows = {a["task_token"]: a for a in json.loads(result.stdout)["agents"]}
    assert rows["<mcp:notes>"]["tools"] == 8 and rows["<mcp:notes>"]["available"]
    assert rows["<mcp:notes>"]["source"] == "mcp" and "<app:messaging>" in rows
    assert not rows["<mcp:ghost>"]["available"]
    assert "not found" in rows["<mcp:ghost>"]["error"]
    assert "the name is taken by the app 'math'" in rows["<mcp:math>"]["error"]
    assert rows["<app:math>"]["source"] == "builtin"
    text = CliRunner().invoke(cli, ["agents", "--config", config])
    assert "mcp (8 tools)" in text.stdout and "mcp: unavailable" in text.stdout
    assert "warning: MCP server 'ghost'" in text.stderr
    assert all(wait_gone(pid) for pid in pids(tmp_path))


def test_a_server_takes_no_initial_state(tmp_path: Path) -> None:
    scenario = tmp_path / "world.json"
    scenario.write_text(json.dumps({"name": "w", "apps": {"notes": {"notes": {"a": "b"}}}}))
    config, answers = setup(tmp_path, {"answer": "-"})
    argv = ["run", "x", "--model", f"script:{answers}", "--config", config, "--scenario"]
    result = CliRunner().invoke(cli, [*argv, str(scenario)])
    assert result.exit_code == 2
    assert "notes is an MCP server: it takes no initial state" in result.output
    assert all(wait_gone(pid) for pid in pids(tmp_path))  # started, then stopped
