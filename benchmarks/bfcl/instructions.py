"""The instructions the agents get for a BFCL task: one per turn, or one compound instruction.

Every turn is a separate steward run, so the user's earlier turns are repeated as context
("the file" in turn 2 means the file of turn 1). A miss_func turn that only brings functions
back has no user text; it gets BFCL's own prompt for that moment plus the functions' names
(BFCL shows the model their docs in its tool list; our staff agents see the tools).
"""

from __future__ import annotations

from benchmarks.bfcl.data import BfclTask, tool_index

HOLDOUT_PROMPT = "I have updated some more functions you can choose from. What about now?"
"""BFCL's ``DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC``."""

CONTEXT_CHARS = 400
CONTEXT_HEADER = "Earlier requests in this conversation (already handled):"
CURRENT = "Current request: "


def _clip(text: str, limit: int = CONTEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def turn_text(task: BfclTask, index: int) -> str:
    """What the user says at turn ``index``."""
    text = task.turns[index].strip()
    if text:
        return text
    back = task.missed_function.get(index, [])
    if not back:
        return HOLDOUT_PROMPT
    index_ = tool_index()
    names = ", ".join(f"{n} ({index_[n].app})" if n in index_ else n for n in back)
    return f"New tools are available: {names}. {HOLDOUT_PROMPT}"


def turn_instruction(task: BfclTask, index: int, *, context_turns: int = 3) -> str:
    """Turn ``index``'s request, after up to ``context_turns`` earlier requests as context."""
    current = turn_text(task, index)
    earlier = [t for t in task.turns[:index] if t.strip()][-context_turns:] if context_turns else []
    if not earlier:
        return current
    lines = [CONTEXT_HEADER]
    lines += [f"- {_clip(t)}" for t in earlier]
    lines.append(f"{CURRENT}{current}")
    return "\n".join(lines)


def current_request(instruction: str) -> str:
    """The current request of a turn instruction, without the earlier turns (for memory)."""
    if not instruction.startswith(CONTEXT_HEADER):
        return instruction
    at = instruction.find("\n" + CURRENT)  # context lines are single lines
    return instruction[at + 1 + len(CURRENT) :] if at >= 0 else instruction


def compound_instruction(task: BfclTask) -> str:
    """All of a task's requests as one instruction, in order (turns without text left out)."""
    requests = [t.strip() for t in task.turns if t.strip()]
    if len(requests) == 1:
        return requests[0]
    lines = ["Do all of the following, in this order:"]
    lines += [f"{i}. {text}" for i, text in enumerate(requests, 1)]
    return "\n".join(lines)
