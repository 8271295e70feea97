"""A trained expert (a model whose ``prompt_style`` is ``compact``) gets compact prompts:
no tool documentation, notes or worked example; the same user messages and schemas."""

from __future__ import annotations

from typing import Any

from agents import AgentSettings, StaffAgent, StewardAgent
from agents.registry import Specialist
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from tests.orchestrator.helpers import MailApp, act

PLAN = {"nodes": [{"id": "s1", "task_token": "<app:mail>", "instruction": "Mail", "needs": []}]}


def spec() -> Specialist:
    return Specialist(name="mail", description=MailApp.description, app_factory=MailApp,
                      notes="Always sign the mail.")  # fmt: skip


async def test_a_compact_staff_prompt_names_the_tools_without_documenting_them() -> None:
    seen: list[list[ChatMessage]] = []

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        seen.append(messages)
        return act("finish", result="done")

    prompts = {}
    for style in ("full", "compact"):
        model = FunctionModel(staff, name=style)
        model.prompt_style = style  # type: ignore[assignment]
        seen.clear()
        await StaffAgent(spec(), MailApp(), model, AgentSettings()).attempt("Mail ann")
        prompts[style] = seen[0]
    full, compact = prompts["full"], prompts["compact"]
    assert "send" in compact[0].content and "Send a mail." not in compact[0].content
    assert "Always sign" in full[0].content and "Always sign" not in compact[0].content
    assert len(compact[0].content) < len(full[0].content) / 2
    assert compact[1:] == full[1:]  # the task is the same


async def test_a_compact_steward_plan_prompt_lists_the_tokens_only() -> None:
    seen: list[list[ChatMessage]] = []

    def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        seen.append(messages)
        return PLAN

    model = FunctionModel(steward, name="steward")
    model.prompt_style = "compact"  # type: ignore[assignment]
    agent = StewardAgent(lambda role: model, {"<app:mail>": "Send mail to people."})
    await agent.plan("Mail ann")
    system = seen[0][0].content
    assert "<app:mail>" in system and "Send mail to people" not in system
    assert "Example" not in system and seen[0][1].content == "Instruction: Mail ann"
