"""The steward's plan and re-plan fall back to plans made in code when the model's never
validate; errors that are not about the model's output still end the run."""

from __future__ import annotations

from typing import Any

import pytest

from agents import AgentSettings, Budget, BudgetLimits, SchedulingGraph, StewardAgent
from agents.fallback import PlanTemplate
from agents.records import Attempt, SubtaskRecord, Verdict
from core.errors import (
    BudgetExceededError,
    ModelOutputError,
    PlanInvalidError,
    ServerError,
    ServerUnreachableError,
)
from core.usage import CallRecord
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel

AGENTS = {"<app:notes>": "A notebook. Add notes and read them.", "<app:mail>": "Send mail."}
INSTRUCTION = "Add a note 'alpha' and mail it to ann"
UNFIXABLE = {"nodes": [{"id": "s1", "task_token": "<app:fax>", "instruction": "Fax", "needs": []}]}
"""Breaks the plan's rules in a way code cannot repair: its only subtask names no agent."""
LOOP = {"nodes": [{"id": "s1", "task_token": "<app:mail>", "instruction": "Mail", "needs": ["s1"]}]}
TEMPLATE = PlanTemplate(
    id="7",
    instruction="Add a note 'beta' and mail it to bob",
    graph=SchedulingGraph.model_validate(
        {
            "nodes": [
                {"id": "n", "task_token": "<app:notes>", "instruction": "Add it", "needs": []},
                {"id": "m", "task_token": "<app:mail>", "instruction": "Mail", "needs": ["n"]},
            ]
        }
    ),
)


def steward(answer: Any, **settings: Any) -> tuple[StewardAgent, FunctionModel]:
    """A steward whose model answers every request with ``answer``, or ``answer(n)`` for the
    n-th request (from 1) if callable; an exception instance is raised."""

    def fn(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        value = answer(len(model.calls)) if callable(answer) else answer
        if isinstance(value, BaseException):
            raise value
        return value

    model = FunctionModel(fn, name="steward")
    agent = StewardAgent(lambda role: model, AGENTS, AgentSettings(**settings))
    return agent, model


def spent(calls: list[CallRecord]) -> int:
    return sum(c.usage.calls for c in calls)


async def test_a_plan_that_never_validates_falls_back_to_the_offered_template() -> None:
    agent, model = steward(UNFIXABLE)
    result = await agent.plan(INSTRUCTION, templates=[TEMPLATE])
    assert result.fallback == "template:7"
    assert [n.id for n in result.graph.nodes] == ["n", "m"]
    assert result.graph.nodes[1].needs == ["n"]
    assert len(result.calls) == 3 == len(model.calls)  # the plan and two repair rounds, kept
    assert sum(n.startswith("invalid plan") for n in result.notes) == 3
    assert result.notes[-1].startswith("fell back to memory template #7")


async def test_without_a_template_it_falls_back_to_one_subtask_per_app() -> None:
    agent, _ = steward(UNFIXABLE)
    result = await agent.plan(INSTRUCTION)
    assert result.fallback == "apps"
    assert [n.task_token for n in result.graph.nodes] == ["<app:notes>", "<app:mail>"]
    assert result.notes[-1].startswith("fell back to one subtask per app")


async def test_a_plan_that_never_parses_falls_back_and_keeps_its_call() -> None:
    agent, model = steward("this is not json")
    result = await agent.plan(INSTRUCTION)
    assert result.fallback == "apps"
    assert len(model.calls) == 3  # one plan call: the answer and two re-asks
    (call,) = result.calls
    assert call.purpose == "plan" and call.error is not None and spent(result.calls) == 3
    assert "the plan call gave no usable output" in result.notes[0]


async def test_a_repair_round_that_never_parses_still_repairs_the_last_plan_in_code() -> None:
    agent, _ = steward(lambda n: LOOP if n == 1 else "not json")
    result = await agent.plan("Mail ann")
    assert result.fallback is None and result.graph.nodes[0].needs == []
    assert len(result.calls) == 2 and any("repaired in code" in n for n in result.notes)


@pytest.mark.parametrize(
    "error",
    [
        ServerError("HTTP 503", status=503),
        ServerUnreachableError("http://127.0.0.1:9/v1"),
        BudgetExceededError("the call budget of 1 ran out"),
    ],
    ids=["server", "unreachable", "budget"],
)
async def test_errors_that_are_not_about_the_output_still_end_the_plan(error: Exception) -> None:
    agent, _ = steward(lambda n: UNFIXABLE if n == 1 else error)
    with pytest.raises(type(error)) as info:
        await agent.plan(INSTRUCTION, templates=[TEMPLATE])
    assert len(info.value.calls) == 1  # the first round's call is kept with the error


async def test_a_spent_budget_ends_the_plan_before_any_fallback() -> None:
    agent, model = steward(UNFIXABLE)
    agent.budget = Budget(BudgetLimits(max_calls=1))
    with pytest.raises(BudgetExceededError) as info:
        await agent.plan(INSTRUCTION)
    assert len(model.calls) == 1 and len(info.value.calls) == 1


@pytest.mark.parametrize(
    ("answer", "error"), [(UNFIXABLE, PlanInvalidError), ("not json", ModelOutputError)]
)
async def test_auto_repair_off_means_no_fallback_either(answer: Any, error: type) -> None:
    agent, _ = steward(answer, auto_repair=False)
    with pytest.raises(error):
        await agent.plan(INSTRUCTION, templates=[TEMPLATE])


def record(sid: str, token: str, instruction: str, needs: list[str], ok: bool) -> SubtaskRecord:
    verdict = Verdict(success=ok, tips="" if ok else "ann is unknown")
    return SubtaskRecord(
        id=sid,
        task_token=token,
        instruction=instruction,
        needs=needs,
        status="succeeded" if ok else "failed",
        history=[Attempt(number=1, verdict=verdict)],
    )


@pytest.mark.parametrize("answer", [UNFIXABLE, "not json"], ids=["invalid", "unparsable"])
async def test_a_replan_that_never_validates_falls_back_per_unfinished_app(answer: Any) -> None:
    agent, _ = steward(answer)
    done = [record("s1", "<app:notes>", "Add a note 'alpha'", [], ok=True)]
    failed = [record("s2", "<app:mail>", "Mail it to ann", ["s1"], ok=False)]
    result = await agent.replan(INSTRUCTION, done, failed)
    assert result.fallback == "apps" and result.calls
    (node,) = result.graph.nodes
    assert node.task_token == "<app:mail>" and node.needs == ["s1"] and node.id == "s3"
    assert "ann is unknown" in node.instruction


async def test_a_replan_with_auto_repair_off_still_fails() -> None:
    agent, _ = steward(UNFIXABLE, auto_repair=False)
    failed = [record("s2", "<app:mail>", "Mail it to ann", [], ok=False)]
    with pytest.raises(PlanInvalidError):
        await agent.replan(INSTRUCTION, [], failed)
