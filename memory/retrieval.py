"""Retrieval for prompts: look up, record what was found, render compact text blocks."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any

from memory.models import ExpertiseEntry, GuidelineEntry, Retrieved
from memory.protocol import Memory

MAX_ARGUMENT_CHARS = 80
"""Longer argument values are cut in rendered action sequences."""


def retrieve_guidelines(
    store: Memory,
    instruction: str,
    k: int = 3,
    *,
    task_tokens: Collection[str] | None = None,
    mark_used: bool = True,
    include_scripted: bool = False,
) -> Retrieved:
    """Search guidelines for ``instruction``, count the hits as used, and return the lookup.

    Entries made by scripted models (a benchmark's ground-truth replay) are left out unless
    ``include_scripted``: they are not a model's own experience."""
    hits = store.search_guidelines(
        instruction, k, task_tokens=task_tokens, include_scripted=include_scripted
    )
    found = Retrieved(
        kind="guideline",
        query=instruction,
        entries=[entry for entry, _ in hits],
        scores=[score for _, score in hits],
    )
    if mark_used and found.ids:
        store.mark_used("guideline", found.ids)
    return found


def retrieve_expertise(
    store: Memory,
    subtask: str,
    task_token: str,
    k: int = 3,
    *,
    mark_used: bool = True,
    include_scripted: bool = False,
) -> Retrieved:
    """Search ``task_token``'s expertise for ``subtask``, count the hits as used, return them
    (scripted models' entries only with ``include_scripted``, as for guidelines)."""
    hits = store.search_expertise(subtask, task_token, k, include_scripted=include_scripted)
    found = Retrieved(
        kind="expertise",
        query=subtask,
        task_token=task_token,
        entries=[entry for entry, _ in hits],
        scores=[score for _, score in hits],
    )
    if mark_used and found.ids:
        store.mark_used("expertise", found.ids)
    return found


def _plural(n: int) -> str:
    return f"{n} time" if n == 1 else f"{n} times"


def format_graph(graph: dict[str, Any]) -> str:
    """A scheduling graph as JSON with one node per line (valid JSON, easy to imitate)."""
    nodes = graph.get("nodes", [])
    keys = ("id", "task_token", "instruction", "needs")
    lines = ['{"nodes": [']
    for i, node in enumerate(nodes):
        shown = {k: node[k] for k in keys if k in node}
        comma = "," if i < len(nodes) - 1 else ""
        lines.append(f"  {json.dumps(shown, ensure_ascii=False)}{comma}")
    lines.append("]}")
    return "\n".join(lines)


def format_guidelines(entries: Iterable[GuidelineEntry]) -> str:
    """A prompt block of past successful plans, each graph shown as a template; ``""`` if none."""
    blocks: list[str] = []
    for n, entry in enumerate(entries, 1):
        lines = [f"[{n}] Instruction: {entry.instruction}"]
        lines.append(f"    Succeeded {_plural(entry.successes)}.")
        if entry.guideline:
            lines.append(f"    Why it worked: {entry.guideline}")
        lines.append("    Graph that worked:")
        lines.extend(f"    {line}" for line in format_graph(entry.graph).splitlines())
        blocks.append("\n".join(lines))
    if not blocks:
        return ""
    head = (
        "Guidelines from similar past instructions that succeeded (use them as templates; "
        "adapt ids, values and subtasks to the new instruction):"
    )
    return "\n".join([head, *blocks])


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ARGUMENT_CHARS:
        return value[: MAX_ARGUMENT_CHARS - 3] + "..."
    return value


def format_expertise(entries: Iterable[ExpertiseEntry], max_tips: int = 5) -> str:
    """A prompt block of app expertise: tips and action sequences that worked; ``""`` if none."""
    blocks: list[str] = []
    for n, entry in enumerate(entries, 1):
        lines = [f"[{n}] Subtask: {entry.subtask} (succeeded {_plural(entry.successes)})"]
        if entry.tips:
            lines.append("    Tips:")
            lines.extend(f"    - {tip}" for tip in entry.tips[:max_tips])
        if entry.actions:
            lines.append("    Actions that worked:")
            for i, action in enumerate(entry.actions, 1):
                args = {key: _short(value) for key, value in action.arguments.items()}
                lines.append(f"    {i}. {action.tool}({json.dumps(args, ensure_ascii=False)})")
        blocks.append("\n".join(lines))
    if not blocks:
        return ""
    head = "Expertise from similar subtasks that succeeded on this app:"
    return "\n".join([head, *blocks])
