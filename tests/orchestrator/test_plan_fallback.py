"""Runs whose steward never writes a valid plan or re-plan go on with a plan made in code, and
the record says how; a dead server during planning still ends the run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings, SchedulingGraph
from agents.fallback import PlanTemplate
from apps.world import World
from core.errors import ServerError
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from tests.orchestrator.helpers import act, kind, last_user, registry, scenario, subtask_of, verdict

INSTRUCTION = "Add a note 'alpha' and mail it to ann"
UNFIXABLE = {"nodes": [{"id": "s1", "task_token": "<app:fax>", "instruction": "Fax", "needs": []}]}
"""Valid JSON that no repair can make a plan of: its only subtask names no agent."""
TEMPLATE = PlanTemplate(
    id="7",
    instruction="Add a note 'beta' and mail it to bob",
    graph=SchedulingGraph.model_validate(
        {
            "nodes": [
                {"id": "n", "task_token": "<app:notes>", "instruction": "Add a note", "needs": []},
                {
                    "id": "m",
                    "task_token": "<app:mail>",
                    "instruction": "Mail its id",
                    "needs": ["n"],
                },
            ]
        }
    ),
)


def acted(messages: list[ChatMessage]) -> bool:
    return any(m.role == "assistant" for m in messages)


def notes_staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    return act("finish", result="added") if acted(messages) else act("add", text="alpha")


def mail_staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
    if acted(messages):
        return act("finish", result="sent")
    return act("send", to="ann", body="N1" if "N1" in last_user(messages) else "alpha")


def steward(plans: Iterator[Any], fails: str = "") -> Any:
    """Answers plan requests from ``plans``; a subtask whose instruction is ``fails`` fails."""

    def fn(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        if kind(schema) == "plan":
            answer = next(plans)
            if isinstance(answer, BaseException):
                raise answer
            return answer
        if kind(schema) == "evaluate":
            if subtask_of(messages) == fails:
                return verdict(False, tips="ann is not a contact", kind="other")
            return verdict(True, key_info="note N1" if "note_id" in last_user(messages) else "ok")
        return {"answer": "Done."}

    return fn


def orchestrator(tmp_path: Path, fn: Any, **settings: Any) -> Orchestrator:
    models = {
        "steward": FunctionModel(fn, name="steward"),
        "<app:notes>": FunctionModel(notes_staff, name="notes"),
        "<app:mail>": FunctionModel(mail_staff, name="mail"),
    }
    reg = registry()
    return Orchestrator(
        registry=reg,
        models=models.__getitem__,
        world=World.build(scenario(), {s.name: s.app_factory for s in reg}),
        settings=AgentSettings(**settings),
        store=RunStore(tmp_path / "runs.db"),
        checkpoints=tmp_path / "checkpoints.db",
        run_settings={"scenario": scenario().model_dump()},
    )


def forever(answer: Any) -> Iterator[Any]:
    while True:
        yield answer


@pytest.mark.parametrize("answer", [UNFIXABLE, "not json"], ids=["invalid", "unparsable"])
async def test_a_plan_that_never_validates_recruits_the_apps_the_instruction_names(
    tmp_path: Path, answer: Any
) -> None:
    orch = orchestrator(tmp_path, steward(forever(answer)))
    record = await orch.run(INSTRUCTION)
    assert record.fallbacks == ["apps"]
    assert record.graph is not None
    assert [n.task_token for n in record.graph.nodes] == ["<app:notes>", "<app:mail>"]
    assert record.status == "succeeded"
    assert orch.world.get("mail").outbox == [{"to": "ann", "body": "alpha"}]  # type: ignore[attr-defined]
    assert [c.purpose for c in record.steward_calls] == ["plan"] * (
        3 if answer is UNFIXABLE else 1
    ) + ["answer"]
    assert any(n.startswith("fell back to one subtask per app") for n in record.notes)


async def test_a_plan_that_never_validates_follows_the_verified_plan_memory_offers(
    tmp_path: Path,
) -> None:
    """Memory holds a verified guideline for a similar instruction; the steward never writes
    a valid plan, so the run follows the remembered graph (and its information flow)."""
    from agents.memory_experience import MemoryExperience
    from memory import GuidelineEntry, MemoryStore, Provenance

    store = MemoryStore(tmp_path / "memory.db")
    entry_id = store.add_guideline(
        GuidelineEntry(
            instruction=TEMPLATE.instruction,
            graph=TEMPLATE.graph.model_dump(),
            guideline="note first, then mail its id",
            provenance=Provenance(run_id="r0", model="m", source="run"),
        )
    )
    orch = orchestrator(tmp_path, steward(forever(UNFIXABLE)))
    orch.experience = MemoryExperience(store, learn_in_run=False)
    record = await orch.run(INSTRUCTION)
    assert record.fallbacks == [f"template:{entry_id}"]
    assert record.graph is not None and record.graph.ids == ["n", "m"]
    assert record.status == "succeeded"
    m = next(s for s in record.subtasks if s.id == "m")
    assert m.history[0].inputs == {"n": "note N1"}  # the remembered information flow
    assert orch.world.get("mail").outbox == [{"to": "ann", "body": "N1"}]  # type: ignore[attr-defined]


async def test_a_replan_that_never_validates_falls_back_too(tmp_path: Path) -> None:
    first = {
        "nodes": [{"id": "x", "task_token": "<app:mail>", "instruction": "Mail ann", "needs": []}]
    }
    plans = iter([first, *[UNFIXABLE] * 3])
    orch = orchestrator(tmp_path, steward(plans, fails="Mail ann"))
    record = await orch.run("Mail 'alpha' to ann")
    assert record.replans == 1 and record.fallbacks == ["apps"]
    statuses = {s.id: s.status for s in record.subtasks}
    assert statuses == {"x": "failed", "s1": "succeeded"}
    assert record.graph is not None and record.graph.ids == ["s1"]
    assert "ann is not a contact" in record.graph.nodes[0].instruction
    assert record.status == "succeeded"


async def test_a_server_error_while_planning_still_ends_the_run(tmp_path: Path) -> None:
    plans = iter([UNFIXABLE, ServerError("HTTP 503 from the model server", status=503)])
    orch = orchestrator(tmp_path, steward(plans))
    with pytest.raises(ServerError):
        await orch.run(INSTRUCTION, run_id="r1")
    saved = orch.store.load_run("r1")
    assert saved["status"] == "error" and "503" in saved["error"]
    assert saved["subtasks"] == [] and saved["fallbacks"] == []


def test_the_steward_knows_every_agents_tools_for_recruiting_without_the_model(
    tmp_path: Path,
) -> None:
    orch = orchestrator(tmp_path, steward(forever(UNFIXABLE)))
    assert orch.steward.tools == {
        "<app:notes>": ["add: Add a note.", "read: Read a note by id."],
        "<app:mail>": ["send: Send a mail."],
    }
