"""MCP servers under the orchestrator: resume after a kill (a finished subtask's effects are
not repeated, an interrupted idempotent call is re-run, the record names the apps a resume
cannot restore), and a slow MCP call that does not hold up the other subtasks."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings
from agents.registry import Registry, Specialist, mcp_specialist
from apps.mcp import McpServers
from apps.scenario import Scenario
from apps.world import World
from memory.journal import ActionJournal
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from tests.apps.test_apps_mcp_server import pids, stdio_config, wait_gone
from tests.orchestrator.helpers import NotesApp, act, steward_fn, subtask_of, verdict


def node(sid: str, token: str, text: str, needs: list[str] | None = None) -> dict[str, Any]:
    return {"id": sid, "task_token": token, "instruction": text, "needs": needs or []}


def store(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "store.json").read_text()))


class Kill(BaseException):
    """The process dies (nothing catches a BaseException on the way up)."""


def orchestrator(tmp_path: Path, servers: McpServers, steward: Any, staff: Any) -> Orchestrator:
    """A run on the test server (as a new process would start it)."""
    registry = Registry([mcp_specialist(app) for app in servers.apps.values()])
    scenario = Scenario(name="t", apps={"notes": {}})
    world = World.build(scenario, {s.name: s.app_factory for s in registry})
    models = {"steward": FunctionModel(steward, name="steward")}
    return Orchestrator(
        registry=registry,
        models=lambda role: models.get(role) or FunctionModel(staff, name=role),
        world=world,
        settings=AgentSettings(max_retries=0),
        store=RunStore(tmp_path / "runs.db"),
        checkpoints=tmp_path / "checkpoints.db",
        run_settings={"scenario": scenario.model_dump()},
        resources=[servers],
    )


async def closing(orch: Orchestrator, run_id: str, *, resume: bool = False) -> Any:
    """Run (or resume) ``run_id``, then stop its servers whatever happens."""
    try:
        return await (orch.resume(run_id) if resume else orch.run("Do it", run_id=run_id))
    finally:
        await orch.aclose()


TWO = {"nodes": [node("a", "<mcp:notes>", "Log one"), node("b", "<mcp:notes>", "Log two", ["a"])]}


async def test_resume_does_not_repeat_a_finished_subtask_and_says_what_it_could_not_restore(
    tmp_path: Path,
) -> None:
    killing = True

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        task = subtask_of(messages)
        if any(m.role == "user" and m.content.startswith("Observation:") for m in messages):
            return act("finish", result="logged")
        if task == "Log two" and killing:
            raise Kill("killed")
        return act("append_log", line=task)

    steward = steward_fn([TWO], lambda s, m: verdict(True, key_info="ok"))
    first = orchestrator(
        tmp_path, McpServers.start({"notes": stdio_config(tmp_path)}), steward, staff
    )
    with pytest.raises(Kill):
        await closing(first, "r1")
    assert store(tmp_path)["log"] == ["Log one"]
    killing = False
    again = orchestrator(
        tmp_path, McpServers.start({"notes": stdio_config(tmp_path)}), steward, staff
    )
    record = await closing(again, "r1", resume=True)
    assert record.status == "succeeded"
    assert store(tmp_path)["log"] == ["Log one", "Log two"]  # "Log one" was not done again
    assert any(
        n.startswith("resume: the state of notes could not be restored") for n in record.notes
    ), record.notes
    assert all(wait_gone(pid) for pid in pids(tmp_path))


async def test_resume_reruns_an_idempotent_call_a_kill_interrupted(tmp_path: Path) -> None:
    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        done = any("Already done earlier" in m.content or m.content.startswith("Observation:")
                   for m in messages if m.role == "user")  # fmt: skip
        return act("finish", result="waited") if done else act("slow", seconds=1.5)

    plan = {"nodes": [node("a", "<mcp:notes>", "Wait a bit")]}
    steward = steward_fn([plan], lambda s, m: verdict(True, key_info="ok"))
    first = orchestrator(
        tmp_path, McpServers.start({"notes": stdio_config(tmp_path)}), steward, staff
    )
    with pytest.raises(TimeoutError):  # killed while the call was out
        async with asyncio.timeout(1.0):
            await closing(first, "r2")
    entry = ActionJournal(first.store, "r2").load().entries["a.1.1"]
    assert entry.status == "intent" and entry.idempotent
    again = orchestrator(
        tmp_path, McpServers.start({"notes": stdio_config(tmp_path)}), steward, staff
    )
    record = await closing(again, "r2", resume=True)  # settled by a blocking call, from a loop
    assert record.status == "succeeded"
    settled = ActionJournal(again.store, "r2").load().entries["a.1.1"]
    assert settled.status == "done" and settled.observation == {"result": "slept"}
    assert "re-run on resume" in settled.note


async def test_a_slow_mcp_call_does_not_hold_up_the_other_subtasks(tmp_path: Path) -> None:
    """The staff agent awaits the MCP app's ``acall``: while one subtask waits for the server,
    an independent subtask on another app runs to its end."""
    when: dict[str, float] = {}

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        task = subtask_of(messages)
        if any(m.role == "user" and m.content.startswith("Observation:") for m in messages):
            when[task] = time.monotonic()
            return act("finish", result="done")
        return act("slow", seconds=2.0) if task == "Wait" else act("add", text="hi")

    plan = {"nodes": [node("a", "<mcp:notes>", "Wait"), node("b", "<app:pad>", "Jot")]}
    steward = steward_fn([plan], lambda s, m: verdict(True, key_info="ok"))
    servers = McpServers.start({"notes": stdio_config(tmp_path)})
    pad = Specialist(name="pad", description="A pad.", app_factory=NotesApp)
    registry = Registry([mcp_specialist(servers.apps["notes"]), pad])
    scenario = Scenario(name="t", apps={"notes": {}, "pad": {}})
    models = {"steward": FunctionModel(steward, name="steward")}
    orch = Orchestrator(
        registry=registry,
        models=lambda role: models.get(role) or FunctionModel(staff, name=role),
        world=World.build(scenario, {s.name: s.app_factory for s in registry}),
        store=RunStore(tmp_path / "runs.db"),
        checkpoints=tmp_path / "checkpoints.db",
        resources=[servers],
    )
    record = await closing(orch, "r3")
    assert record.status == "succeeded"
    assert when["Jot"] < when["Wait"] - 1.0  # "Jot" ended while "Wait" waited for the server
