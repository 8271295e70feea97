"""A real third-party MCP server that no one here wrote: the npm package
``@modelcontextprotocol/server-filesystem``, run with node over stdio on a temporary folder.

A scripted ``steward run`` writes and reads files through it and the files are checked on disk
(its ``write_file`` says ``destructiveHint``: it waits for approval unless ``--approve auto``);
``steward agents --json --config FILE`` lists it with its tools. ``scripts/install_mcp_test_server.sh``
installs the package into ``.venv/mcp-test-servers`` (CI runs it); without node or the package
these tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "@modelcontextprotocol/server-filesystem"
FOLDER = Path(os.environ.get("STEWARD_MCP_TEST_SERVERS") or ROOT / ".venv" / "mcp-test-servers")
ENTRY = FOLDER / "node_modules" / PACKAGE / "dist" / "index.js"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (Node.js 18+ runs the server)"),
    pytest.mark.skipif(
        not ENTRY.is_file(),
        reason=f"{PACKAGE} is not installed in {FOLDER}: run bash scripts/install_mcp_test_server.sh",
    ),
]


def config_for(tmp_path: Path, folder: Path) -> str:
    config = tmp_path / "config.toml"
    config.write_text(
        f"[mcp.files]\ncommand = {json.dumps(NODE)}\nargs = [{json.dumps(str(ENTRY))}, "
        f'{json.dumps(str(folder))}]\ndescription = "The notes folder."\n'
    )
    return str(config)


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"thought": "", "tool": tool, "arguments": arguments}


def test_agents_lists_the_server_and_its_tools(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    result = CliRunner().invoke(cli, ["agents", "--json", "--config", config_for(tmp_path, notes)])
    assert result.exit_code == 0, result.output
    [row] = [a for a in json.loads(result.stdout)["agents"] if a["task_token"] == "<mcp:files>"]
    assert row["available"] and row["tools"] >= 5, row
    assert {"read_text_file", "write_file", "list_directory"} <= set(row["tool_names"])
    assert row["description"] == "The notes folder."


def test_a_scripted_run_writes_and_reads_files_through_it(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    (notes / "old").mkdir(parents=True)
    (notes / "old" / "plan.txt").write_text("step one\n")
    todo, copy = notes / "todo.txt", notes / "archive" / "plan.txt"
    plan = {"nodes": [{"id": "s1", "task_token": "<mcp:files>", "needs": [],
                       "instruction": "Write the shopping list, file the old plan, read both"}]}  # fmt: skip
    lines = [
        plan,
        call("write_file", path=str(todo), content="milk\neggs\n"),
        call("create_directory", path=str(notes / "archive")),
        call("move_file", source=str(notes / "old" / "plan.txt"), destination=str(copy)),
        call("read_text_file", path=str(todo)),
        call("read_text_file", path="/etc/hostname"),  # outside the folder: the server refuses
        {"thought": "", "tool": "finish", "result": "list written, plan filed"},
        {"success": True, "failure_kind": "none", "tips": "", "key_info": "todo.txt written"},
        {"answer": "Done."},
    ]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(x) + "\n" for x in lines))
    args = ["run", "Write my shopping list", "--model", f"script:{answers}", "--no-memory",
            "--config", config_for(tmp_path, notes), "--json", "-q", "--approve", "auto"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout[result.stdout.index("{") :])
    assert record["status"] == "succeeded"
    assert todo.read_text() == "milk\neggs\n"  # on disk, written by the server
    assert copy.read_text() == "step one\n" and not (notes / "old" / "plan.txt").exists()
    steps = record["subtasks"][0]["history"][0]["steps"]
    assert "milk" in json.dumps(steps[3]["observation"])
    assert "denied" in steps[4]["error"].lower() or "outside" in steps[4]["error"].lower()
    assert all(s["error"] is None for s in steps[:4]), steps


def test_its_destructive_write_waits_for_approval(tmp_path: Path) -> None:
    """``write_file`` is destructive (MCP ``destructiveHint``): the run stops before it (exit 4,
    nothing on disk), and ``steward approve`` writes the file."""
    notes = tmp_path / "notes"
    notes.mkdir()
    todo = notes / "todo.txt"
    plan = {"nodes": [{"id": "s1", "task_token": "<mcp:files>", "needs": [],
                       "instruction": "Write the shopping list"}]}  # fmt: skip
    lines = [
        plan,
        call("write_file", path=str(todo), content="milk\n"),
        {"thought": "", "tool": "finish", "result": "list written"},
        {"success": True, "failure_kind": "none", "tips": "", "key_info": "todo.txt written"},
        {"answer": "Done."},
    ]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = config_for(tmp_path, notes)
    args = ["run", "Write my shopping list", "--model", f"script:{answers}", "--no-memory",
            "--config", config, "--json", "-q"]  # fmt: skip
    waiting = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert waiting.exit_code == 4, waiting.output
    record = json.loads(waiting.stdout[waiting.stdout.index("{") :])
    assert [(a["tool"], a["decision"]) for a in record["approvals"]] == [("write_file", "pending")]
    assert not todo.exists()
    done = CliRunner().invoke(
        cli, ["approve", record["run_id"], "--config", config, "--json", "-q"],
        catch_exceptions=False,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert todo.read_text() == "milk\n"
