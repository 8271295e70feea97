"""Adjusted Evaluation: code settles what it can, the model judges the rest."""

from __future__ import annotations

from typing import Any

import pytest

from agents import AgentSettings, Attempt, StewardAgent, SubtaskRecord
from agents.records import Action, Step
from modelclient.testing import ScriptedModel

AGENTS = {"<app:mail>": "Send mail to people."}
RECORD = SubtaskRecord(id="s1", task_token="<app:mail>", instruction="Mail bob")
SENT = Step(action=Action(tool="send", arguments={"to": "bob"}), observation={"sent": True})
FINISH = Step(action=Action(tool="finish", result="sent"))


def steward(answers: list[Any], **settings: Any) -> tuple[StewardAgent, ScriptedModel]:
    model = ScriptedModel(answers, name="steward")
    return StewardAgent(lambda role: model, AGENTS, AgentSettings(**settings)), model


@pytest.mark.parametrize(
    ("status", "steps", "kind", "tip"),
    [
        ("loop", [SENT, SENT], "loop", "repeated the same action"),
        ("step_cap", [SENT], "step_cap", "ran out of steps"),
        ("model_error", [SENT], "other", "replies were not valid"),
        ("budget", [SENT], "other", "replies were not valid"),
        ("finished", [FINISH], "other", "called no tool"),  # idle under require_action
    ],
)
async def test_a_failure_code_settles_costs_no_model_call(
    status: str, steps: list[Step], kind: str, tip: str
) -> None:
    # a judge that would call every attempt a success, and may be asked nothing
    agent, model = steward([])
    attempt = Attempt(number=1, status=status, steps=steps, result="sent")  # type: ignore[arg-type]
    verdict = await agent.evaluate(RECORD, attempt)
    assert model.calls == []
    assert not verdict.success and verdict.failure_kind == kind
    assert tip in verdict.tips and verdict.call is None and verdict.key_info == ""
    assert verdict.overridden is not None
    assert verdict.overridden.startswith("settled in code, no model call: ")


async def test_an_attempt_that_acted_and_finished_is_judged_by_the_model() -> None:
    judged = {"success": True, "failure_kind": "none", "tips": "", "key_info": "mail 1"}
    agent, model = steward([judged])
    attempt = Attempt(number=1, status="finished", steps=[SENT, FINISH], result="sent")
    verdict = await agent.evaluate(RECORD, attempt)
    assert len(model.calls) == 1 and model.calls[0].schema_name == "evaluate"
    assert verdict.success and verdict.key_info == "mail 1" and verdict.call is not None
    assert verdict.overridden is None


async def test_without_require_action_an_idle_attempt_is_judged() -> None:
    """Some specialists may answer without their tools: then only the model can tell."""
    judged = {"success": False, "failure_kind": "incomplete", "tips": "send it", "key_info": ""}
    agent, model = steward([judged], require_action=False)
    verdict = await agent.evaluate(RECORD, Attempt(number=1, steps=[FINISH], result="sent"))
    assert len(model.calls) == 1
    assert verdict.failure_kind == "incomplete" and verdict.tips == "send it"


async def test_the_ablation_without_evaluation_asks_nothing() -> None:
    agent, model = steward([], evaluate=False)
    ok = await agent.evaluate(RECORD, Attempt(number=1, steps=[SENT, FINISH], result="sent"))
    looped = await agent.evaluate(RECORD, Attempt(number=1, status="loop", steps=[SENT]))
    assert model.calls == []
    assert ok.success and ok.key_info == "sent"
    assert not looped.success and looped.failure_kind == "loop" and looped.tips == ""


async def test_a_verdict_that_never_validates_is_a_failure_with_its_call() -> None:
    agent, model = steward(["no", "still no", "nope"])
    verdict = await agent.evaluate(RECORD, Attempt(number=1, steps=[SENT, FINISH]))
    assert len(model.calls) == 3  # the first answer and two re-asks
    assert not verdict.success and verdict.call is not None
    assert verdict.overridden is not None and "never validated" in verdict.overridden
