"""Entry factories for the memory tests."""

from __future__ import annotations

from typing import Any

from memory import Action, ExpertiseEntry, GuidelineEntry, Provenance


def graph(*nodes: tuple[str, str]) -> dict[str, Any]:
    """A chain graph: node i needs node i-1."""
    out = []
    for i, (token, instruction) in enumerate(nodes, 1):
        needs = [f"n{i - 1}"] if i > 1 else []
        out.append({"id": f"n{i}", "task_token": token, "instruction": instruction, "needs": needs})
    return {"nodes": out}


def guideline(instruction: str, *tokens: str, text: str = "", run_id: str = "r1") -> GuidelineEntry:
    tokens = tokens or ("<app:message>",)
    nodes = [(t, f"step on {t}") for t in tokens]
    return GuidelineEntry(
        instruction=instruction,
        graph=graph(*nodes),
        guideline=text,
        provenance=Provenance(run_id=run_id, model="m"),
    )


def expertise(
    subtask: str, token: str = "<app:twitter>", tips: list[str] | None = None, tool: str = "post"
) -> ExpertiseEntry:
    return ExpertiseEntry(
        task_token=token,
        subtask=subtask,
        tips=tips or [],
        actions=[Action(tool=tool, arguments={"text": subtask})],
    )
