"""A scripted run on the small test apps, with an event callback, for the telemetry tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agents import AgentSettings
from agents.records import RunRecord
from apps.world import World
from core.errors import StewardError
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import EventCallback, Orchestrator
from tests.orchestrator.helpers import act, kind, last_user, registry, scenario, verdict

PLAN = {
    "nodes": [
        {"id": "s1", "task_token": "<app:notes>", "instruction": "Add a note 'milk'", "needs": []},
        {"id": "s2", "task_token": "<app:mail>", "instruction": "Mail the id", "needs": ["s1"]},
    ]
}


def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if kind(schema) == "plan":
        return PLAN
    if kind(schema) == "evaluate":
        return verdict(True, key_info="N1")
    return {"answer": "Done."}


def notes(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    """Reads a note that is not there (a tool error), adds one, finishes."""
    done = sum(1 for m in messages if m.role == "assistant")
    return [act("read", note_id="N9"), act("add", text="milk"), act("finish", result="N1")][
        min(done, 2)
    ]


def mail(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if "Observation:" in last_user(messages):
        return act("finish", result="mailed")
    return act("send", to="bob", body="N1")


def run(tmp_path: Path, on_event: EventCallback | None, store: RunStore) -> RunRecord:
    reg = registry()
    models = {
        "steward": FunctionModel(steward, name="planner-model"),
        "<app:notes>": FunctionModel(notes, name="notes-model"),
        "<app:mail>": FunctionModel(mail, name="mail-model"),
    }
    orchestrator = Orchestrator(
        registry=reg,
        models=models.__getitem__,
        world=World.build(scenario(), {s.name: s.app_factory for s in reg}),
        settings=AgentSettings(),
        store=store,
        checkpoints=tmp_path / "checkpoints.db",
        on_event=on_event,
        run_settings={"scenario": scenario().model_dump(), "model": "planner-model"},
    )
    try:
        return asyncio.run(orchestrator.run("Note milk and mail its id"))
    except StewardError:
        return RunRecord.model_validate(store.load_run(store.list_runs(1)[0]["run_id"]))
