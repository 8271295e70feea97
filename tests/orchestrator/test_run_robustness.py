"""Memory is best effort and written at most once; an orchestrator runs again; the prompt
budget leaves room for what the client adds (scripted models)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings
from agents.records import RunRecord
from apps.world import World
from core.usage import CallRecord
from memory.runs import RunStore
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from tests.orchestrator.helpers import registry, scenario, steward_fn
from tests.orchestrator.test_run import CHAIN, judge_all_ok, mail_staff, notes_staff


class Crash(BaseException):
    """The process dies (nothing on the way up catches it)."""


class Memory:
    """An experience that counts what it is asked, and can fail on purpose."""

    def __init__(self, *, fail_reads: bool = False, die_after_learning: bool = False) -> None:
        self.fail_reads = fail_reads
        self.die_after_learning = die_after_learning
        self.learned: list[str] = []

    def guidelines_for(self, instruction: str) -> tuple[str, list[dict[str, Any]]]:
        if self.fail_reads:
            raise RuntimeError("memory.db is unreadable")
        return "", []

    def expertise_for(self, task_token: str, subtask: str) -> tuple[str, list[dict[str, Any]]]:
        if self.fail_reads:
            raise RuntimeError("memory.db is unreadable")
        return "", []

    async def learn(self, record: RunRecord) -> list[CallRecord]:
        self.learned.append(record.run_id)
        if self.die_after_learning:
            raise Crash("killed right after the memory write")
        return []


def make(
    tmp_path: Path,
    experience: Any = None,
    *,
    settings: AgentSettings | None = None,
    overhead: int = 0,
) -> tuple[Orchestrator, dict[str, FunctionModel]]:
    models = {
        "steward": FunctionModel(
            steward_fn([CHAIN], judge_all_ok), name="steward", overhead_chars=overhead
        ),
        "<app:notes>": FunctionModel(notes_staff, name="notes", overhead_chars=overhead),
        "<app:mail>": FunctionModel(mail_staff, name="mail", overhead_chars=overhead),
    }
    reg = registry()
    orch = Orchestrator(
        registry=reg,
        models=models.__getitem__,
        world=World.build(scenario(), {s.name: s.app_factory for s in reg}),
        settings=settings or AgentSettings(),
        store=RunStore(tmp_path / "runs.db"),
        checkpoints=tmp_path / "checkpoints.db",
        experience=experience,
        run_settings={"scenario": scenario().model_dump()},
    )
    return orch, models


INSTRUCTION = "Add a note 'buy milk' and mail its id to bob"


async def test_a_memory_that_cannot_be_read_does_not_end_the_run(tmp_path: Path) -> None:
    orch, _ = make(tmp_path, Memory(fail_reads=True))
    record = await orch.run(INSTRUCTION)
    assert record.status == "succeeded"
    errors = record.retrieved["errors"]
    assert errors[0] == "guidelines: memory.db is unreadable"
    assert {e.split(":")[0] for e in errors[1:]} == {"expertise for s1", "expertise for s2"}


async def test_memory_is_written_once_when_a_run_killed_after_writing_it_resumes(
    tmp_path: Path,
) -> None:
    memory = Memory(die_after_learning=True)
    orch, _ = make(tmp_path, memory)
    with pytest.raises(Crash):
        await orch.run(INSTRUCTION, run_id="r1")
    memory.die_after_learning = False
    again, _ = make(tmp_path, memory)
    record = await again.resume("r1")
    assert record.status == "succeeded"
    assert memory.learned == ["r1"]  # not twice
    assert any("memory not written again" in n for n in record.notes)


TWO_NOTES = {
    "nodes": [
        {"id": "a", "task_token": "<app:notes>", "instruction": "Add a note 'x'", "needs": []},
        {"id": "b", "task_token": "<app:notes>", "instruction": "Add a note 'y'", "needs": []},
    ]
}


def test_an_orchestrator_runs_again_in_another_event_loop(tmp_path: Path) -> None:
    """Two ``asyncio.run`` calls on one orchestrator: fresh budget, journal and app locks
    (two subtasks on one app wait for its lock, which binds a lock to its event loop)."""
    orch, models = make(tmp_path, settings=AgentSettings())
    models["steward"].fn = steward_fn([TWO_NOTES], judge_all_ok)
    models["<app:notes>"].delay_s = 0.01  # so that b waits while a holds the app
    orch.limits.max_calls = 12  # one run takes 8 model calls: a shared budget would run out
    first = asyncio.run(orch.run("Add notes x and y"))
    second = asyncio.run(orch.run("Add notes x and y"))
    assert first.status == second.status == "succeeded"
    assert first.run_id != second.run_id
    assert second.usage.calls == first.usage.calls == 8


async def test_the_prompt_leaves_room_for_the_schema_text_the_client_adds(
    tmp_path: Path,
) -> None:
    """A model that will append 3,000 characters of schema text gets a prompt fitted to the
    budget minus those 3,000."""
    settings = AgentSettings(prompt_chars=4000)
    orch, models = make(tmp_path, settings=settings, overhead=3000)
    long = {"nodes": [dict(CHAIN["nodes"][0], instruction="Add a note 'x'" + " please" * 130)]}
    models["steward"].fn = steward_fn([long], judge_all_ok)
    record = await orch.run(INSTRUCTION + " " + "and be thorough " * 200)
    assert record.status == "succeeded"
    for model in models.values():
        for call in model.calls:
            if call.schema is not None:
                assert sum(len(m.content) for m in call.messages) <= 4000 - 3000 + 200


async def test_a_budget_spent_inside_the_plans_repair_rounds_keeps_their_calls(
    tmp_path: Path,
) -> None:
    """The plan is invalid twice, and the call budget (2) runs out before the third round:
    the two plan calls are in the record and its usage."""
    from agents.budget import BudgetLimits
    from core.errors import BudgetExceededError

    cyclic = {"nodes": [dict(CHAIN["nodes"][0], needs=["s1"])]}
    orch, models = make(tmp_path)
    models["steward"].fn = steward_fn([cyclic], judge_all_ok)
    orch.limits = BudgetLimits(max_calls=2)
    with pytest.raises(BudgetExceededError):
        await orch.run(INSTRUCTION, run_id="b1")
    saved = orch.store.load_run("b1")
    assert saved["status"] == "budget_exceeded"
    assert [c["purpose"] for c in saved["steward_calls"]] == ["plan", "plan"]
    assert saved["usage"]["calls"] == 2


async def test_the_last_event_of_a_run_carries_its_record(tmp_path: Path) -> None:
    """``run_finished`` (for exporters such as OpenTelemetry, which read the whole record)."""
    from orchestrator.events import Event

    events: list[Event] = []
    orch, _ = make(tmp_path)
    orch.on_event = events.append
    record = await orch.run(INSTRUCTION)
    last = events[-1]
    assert last.kind == "run_finished" and last.data["record"] is record
    assert last.data["status"] == "succeeded"
