"""How the BFCL teacher teaches rejection: a share of its subtasks is first attempted short.

A teacher that only plays the right calls teaches a steward to accept every attempt. So, for a
share of the subtasks (chosen by a stable hash of task, turn and task token, the same in every
run), the teacher's staff agent first plays the subtask's ground-truth calls minus the last one
(possibly none) and finishes; the teacher's verdict rejects that attempt as ``incomplete``
with tips that say in words what is still missing; the runtime rolls the attempt back or
carries its calls over, as it does for any failed attempt, and the retry plays what is missing
and is accepted. ``training.examples`` then takes the rejecting verdict too, for teacher runs
only (see there).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from agents.registry import token_for
from benchmarks.bfcl.calls import Call
from benchmarks.bfcl.data import tool_index
from modelclient.base import ChatMessage

REJECT_SHARE = 0.5
"""The share of a teacher's subtasks attempted short first, then rejected and retried."""
TIPS_CHARS = 200
"""The verdict schema's cap on tips."""
_ACTION = re.compile(r"^\d+\. (\w+)\(", re.MULTILINE)
"""A call in an evaluation prompt's ``Actions:`` list (``agents.prompts.evaluate_messages``)."""
_IN_EFFECT = "still in effect"
"""What a staff prompt says of earlier calls that were carried over, not rolled back
(``agents.prompts.earlier_actions``)."""


def rejects(task_id: str, turn: int, token: str, share: float) -> bool:
    """Whether the teacher attempts this subtask short first (stable across runs)."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{task_id}:{turn}:{token}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def new_attempt(messages: list[ChatMessage]) -> bool:
    """Whether a staff request opens an attempt (no action of it answered yet)."""
    return not any(m.role == "assistant" for m in messages)


def carried_over(messages: list[ChatMessage]) -> bool:
    """Whether an attempt's prompt says the earlier attempt's calls are still in effect."""
    return len(messages) > 1 and _IN_EFFECT in messages[1].content


def judged_token(messages: list[ChatMessage], instructions: dict[str, str]) -> str | None:
    """The task token of the subtask an evaluation prompt is about: the app whose calls it
    lists, else (no call) the one token of ``instructions`` whose instruction it names."""
    text = messages[-1].content if messages else ""
    index = tool_index()
    for tool in _ACTION.findall(text):
        if tool in index:
            return token_for(index[tool].app)
    named = [t for t, words in instructions.items() if text.startswith(f"Subtask: {words}\n")]
    return named[0] if len(named) == 1 else None


def missing_tips(missing: Call) -> str:
    """The tips for an attempt that stopped one call short: that call, said in words."""
    args = [_value(name, value) for name, value in missing.args.items()]
    said = f"with {', '.join(args)}" if args else "(it takes no arguments)"
    tips = (
        f"Not done yet: the subtask still needs the {missing.tool} tool {said}; do it, then finish."
    )
    return tips if len(tips) <= TIPS_CHARS else tips[: TIPS_CHARS - 3] + "..."


def _value(name: str, value: Any) -> str:
    if not isinstance(value, str):
        return f"{name} set to {json.dumps(value, ensure_ascii=False)}"
    return f"{name} '{value if len(value) <= 60 else value[:57] + '...'}'"


def rejection(missing: Call) -> dict[str, Any]:
    """The teacher's verdict on an attempt that stopped one call short."""
    return {
        "success": False,
        "failure_kind": "incomplete",
        "tips": missing_tips(missing),
        "key_info": "",
    }
