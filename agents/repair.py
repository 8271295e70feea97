"""Deterministic plan repair, the last resort after the model's own repair rounds.

Weak models write plans that depend on themselves, reuse ids or name subtasks that do not exist.
This keeps every subtask whose token is known and removes or renames only what breaks validity.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from agents.plan import (
    MAX_ID,
    MAX_INSTRUCTION,
    SchedulingGraph,
    Subtask,
    topological_order,
    work_key,
)


def repair_graph(
    graph: SchedulingGraph,
    tokens: Collection[str],
    instruction: str,
    *,
    done: Collection[str] = (),
    finished: Mapping[tuple[str, str], str] | None = None,
) -> tuple[SchedulingGraph, list[str]]:
    """A valid version of ``graph`` and the list of fixes made.

    Subtasks that repeat a ``finished`` one (by :func:`agents.plan.work_key`) are dropped and
    whatever needed them needs the finished subtask instead.
    """
    fixes: list[str] = []
    nodes: list[Subtask] = []
    used: set[str] = set(done)
    first: dict[tuple[str, str], str] = dict(finished or {})
    alias: dict[str, str] = {}
    renamed: dict[str, str] = {}
    for index, node in enumerate(graph.nodes, 1):
        token = (
            node.task_token if node.task_token in tokens else known_token(node.task_token, tokens)
        )
        if token is None:
            fixes.append(f"dropped {node.id!r} (unknown token {node.task_token})")
            continue
        if token != node.task_token:
            fixes.append(f"read token {node.task_token!r} of {node.id!r} as {token}")
        key = work_key(token, node.instruction)
        if key in first and node.instruction.strip():
            alias[node.id] = first[key]
            fixes.append(f"dropped {node.id!r} (repeats {first[key]!r})")
            continue
        new_id = node.id.strip()[:MAX_ID] or f"s{index}"
        if new_id != node.id:  # a shortened id: whatever needed the long one needs this one
            renamed.setdefault(node.id, new_id)
        while new_id in used:
            new_id = f"{new_id[: MAX_ID - len(str(index)) - 1]}_{index}"
        if new_id != node.id:
            fixes.append(f"renamed {node.id[:40]!r} to {new_id!r}")
        used.add(new_id)
        first.setdefault(key, new_id)
        text = node.instruction.strip() or instruction
        if not node.instruction.strip():
            fixes.append(f"gave {new_id!r} the user's instruction")
        if len(text) > MAX_INSTRUCTION:
            text = text[:MAX_INSTRUCTION]
            fixes.append(f"cut the instruction of {new_id!r} to {MAX_INSTRUCTION} characters")
        nodes.append(Subtask(id=new_id, task_token=token, instruction=text, needs=list(node.needs)))
    ids = {n.id for n in nodes}
    for node in nodes:
        kept = []
        for need in dict.fromkeys(alias.get(d, renamed.get(d, d)) for d in node.needs):
            if need == node.id or (need not in ids and need not in done):
                fixes.append(f"removed need {need!r} of {node.id!r}")
            else:
                kept.append(need)
        node.needs = kept
    # break cycles: drop edges to nodes that come later in the written order
    while topological_order(nodes) is None:
        position = {n.id: i for i, n in enumerate(nodes)}
        for node in nodes:
            late = [d for d in node.needs if d in position and position[d] >= position[node.id]]
            if late:
                node.needs = [d for d in node.needs if d not in late]
                fixes.append(f"removed need(s) {', '.join(late)} of {node.id!r} (cycle)")
                break
    return SchedulingGraph(nodes=nodes), fixes


def known_token(token: str, tokens: Collection[str]) -> str | None:
    """The registered token that ``token`` plainly means (``mail``, ``<mail>``, ``app:Mail``
    for ``<app:mail>``), or ``None`` when it means none or several."""

    def bare(text: str) -> str:
        text = text.strip().strip("<>").strip().lower()
        return text.split(":", 1)[1] if ":" in text else text

    wanted = bare(token)
    matches = [t for t in tokens if bare(t) == wanted]
    return matches[0] if len(matches) == 1 else None
