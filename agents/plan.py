"""The scheduling graph: subtasks linked by the information that flows between them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_ID = 16
"""Longest subtask id."""
MAX_INSTRUCTION = 1000
"""Longest subtask instruction, in characters."""
_FIELDS = ("id", "task_token", "instruction", "needs")


class Subtask(BaseModel):
    """One node of the scheduling graph: an app subtask for one staff agent."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Unique id within the run, e.g. ``s1``."""
    task_token: str
    """Routing token of the specialist that does it, e.g. ``<app:messaging>``."""
    instruction: str
    """What the staff agent must do, in the user's terms."""
    needs: list[str] = Field(default_factory=list)
    """Ids of the subtasks whose results this one needs (information-flow edges)."""


class SchedulingGraph(BaseModel):
    """The steward's plan: nodes, with ``needs`` as edges from producer to consumer."""

    model_config = ConfigDict(extra="forbid")

    nodes: list[Subtask]

    def node(self, node_id: str) -> Subtask:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def children(self, node_id: str) -> list[str]:
        return [n.id for n in self.nodes if node_id in n.needs]

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (producer --> consumer)."""
        lines = ["flowchart TD"]
        for n in self.nodes:
            label = f"{n.id} {n.task_token}: {_short(n.instruction, 60)}"
            label = label.replace('"', "'").replace("<", "&lt;").replace(">", "&gt;")
            lines.append(f'    {_mid(n.id)}["{label}"]')
        for n in self.nodes:
            for need in n.needs:
                lines.append(f"    {_mid(need)} --> {_mid(n.id)}")
        return "\n".join(lines)

    def to_tree(self) -> str:
        """A readable text rendering: one line per subtask, in dependency order."""
        order = topological_order(self.nodes) or [n.id for n in self.nodes]
        out = []
        for node_id in order:
            n = self.node(node_id)
            after = f"  <- needs {', '.join(n.needs)}" if n.needs else ""
            out.append(f"{n.id} {n.task_token} {_short(n.instruction, 90)}{after}")
        return "\n".join(out)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _mid(node_id: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in node_id)


def topological_order(nodes: Iterable[Subtask]) -> list[str] | None:
    """Ids in an order where every node comes after what it needs; ``None`` if there is a cycle.

    Needs that name unknown ids are ignored here (validation reports them).
    """
    nodes = list(nodes)
    ids = {n.id for n in nodes}
    pending = {n.id: {d for d in n.needs if d in ids and d != n.id} for n in nodes}
    order: list[str] = []
    ready = [n.id for n in nodes if not pending[n.id]]
    while ready:
        current = ready.pop(0)
        order.append(current)
        for n in nodes:
            deps = pending[n.id]
            if current in deps:
                deps.discard(current)
                if not deps and n.id not in order and n.id not in ready:
                    ready.append(n.id)
    return order if len(order) == len(pending) else None


def work_key(task_token: str, instruction: str) -> tuple[str, str]:
    """What makes two subtasks the same piece of work: agent and instruction (case and spacing
    ignored)."""
    return task_token, " ".join(instruction.lower().split())


def validate_graph(
    graph: SchedulingGraph,
    tokens: Collection[str],
    *,
    done: Collection[str] = (),
    finished: Mapping[tuple[str, str], str] | None = None,
    max_nodes: int = 32,
) -> list[str]:
    """Every problem with ``graph``, as sentences a model can act on; empty when valid.

    ``done`` are ids of subtasks that already succeeded (a re-plan may need them but must not
    reuse their ids); ``finished`` maps their :func:`work_key` to their id (a re-plan must not
    do their work again).
    """
    errors: list[str] = []
    if not graph.nodes:
        errors.append("the plan has no subtasks; give at least one")
    if len(graph.nodes) > max_nodes:
        errors.append(f"the plan has {len(graph.nodes)} subtasks; at most {max_nodes} are allowed")
    seen: set[str] = set()
    same: dict[tuple[str, str], str] = {}
    for n in graph.nodes:
        key = work_key(n.task_token, n.instruction)
        if finished and key in finished:
            errors.append(
                f"subtask {n.id!r} repeats finished subtask {finished[key]!r}; do not do its "
                f"work again, list {finished[key]!r} in `needs` if you need its result"
            )
        if key in same:
            errors.append(
                f"subtask {n.id!r} repeats subtask {same[key]!r} (same agent, same "
                "instruction); give each piece of work once"
            )
        same.setdefault(key, n.id)
        if not n.id.strip():
            errors.append("a subtask has an empty id")
        if len(n.id) > MAX_ID:
            errors.append(f"subtask id {n.id[:40]!r} is longer than {MAX_ID} characters")
        if len(n.instruction) > MAX_INSTRUCTION:
            errors.append(
                f"subtask {n.id!r} has an instruction over {MAX_INSTRUCTION} characters; shorten it"
            )
        if n.id in seen:
            errors.append(f"subtask id {n.id!r} is used more than once; ids must be unique")
        if n.id in done:
            errors.append(f"subtask id {n.id!r} belongs to a finished subtask; pick a new id")
        seen.add(n.id)
        if n.task_token not in tokens:
            errors.append(
                f"subtask {n.id!r} has unknown task token {n.task_token!r}; "
                f"use one of: {', '.join(sorted(tokens))}"
            )
        if not n.instruction.strip():
            errors.append(f"subtask {n.id!r} has an empty instruction")
        for need in n.needs:
            if need == n.id:
                errors.append(f"subtask {n.id!r} needs itself; remove {need!r} from its needs")
            elif need not in {m.id for m in graph.nodes} and need not in done:
                errors.append(f"subtask {n.id!r} needs {need!r}, which is not a subtask")
    if not errors and topological_order(graph.nodes) is None:
        errors.append("the needs form a cycle; a subtask can only need subtasks that run before it")
    return errors


def plan_schema(tokens: Collection[str], *, max_nodes: int = 32) -> dict[str, Any]:
    """JSON Schema of a plan whose ``task_token`` is the enum of ``tokens``."""
    return {
        "type": "object",
        "properties": {
            "nodes": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_nodes,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "maxLength": MAX_ID},
                        "task_token": {"type": "string", "enum": sorted(tokens)},
                        "instruction": {"type": "string", "maxLength": MAX_INSTRUCTION},
                        "needs": {
                            "type": "array",
                            "maxItems": max_nodes,
                            "items": {"type": "string", "maxLength": MAX_ID},
                        },
                    },
                    "required": ["id", "task_token", "instruction", "needs"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["nodes"],
        "additionalProperties": False,
    }


def parse_plan(data: Any) -> tuple[SchedulingGraph | None, list[str]]:
    """Read a plan from whatever JSON a model wrote, as far as it goes.

    Returns the graph (``None`` when nothing usable is there) and the problems found, as
    sentences a model can act on. Fields outside the plan's four are dropped and reported;
    ``needs`` may be missing (none); ids, tokens and needs given as numbers are read as text.
    What breaks the plan's rules beyond its shape (unknown tokens, long ids, cycles) is left
    for :func:`validate_graph` and repair.
    """
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return None, ['reply with an object {"nodes": [...]} holding the list of subtasks']
    errors = [f"unknown top-level field {k!r}; only `nodes`" for k in data if k != "nodes"]
    nodes: list[Subtask] = []
    for index, raw in enumerate(data["nodes"], 1):
        if not isinstance(raw, dict):
            errors.append(f"subtask {index} is not an object")
            continue
        label = repr(raw.get("id", index))
        extra = [k for k in raw if k not in _FIELDS]
        if extra:
            errors.append(
                f"subtask {label} has unknown field(s) {', '.join(map(repr, extra))}; "
                f"use only {', '.join(_FIELDS)}"
            )
        missing = [k for k in ("task_token", "instruction") if not _text(raw.get(k))]
        if missing:
            errors.append(f"subtask {label} has no {' or '.join(missing)}")
            continue
        needs = raw.get("needs", [])
        if not isinstance(needs, list):
            errors.append(f"subtask {label}: `needs` must be a list of ids")
            needs = []
        nodes.append(
            Subtask(
                id=str(raw.get("id", "")),
                task_token=str(raw["task_token"]),
                instruction=str(raw["instruction"]),
                needs=[str(d) for d in needs if _text(d)],
            )
        )
    if not nodes:
        return None, errors or ["the plan has no subtasks; give at least one"]
    return SchedulingGraph(nodes=nodes), errors


def _text(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip() != ""
