"""Plans made in code when the model cannot write a valid one.

The steward falls back in this order: the graph of the best-matching verified memory template
(:func:`template_plan`), else one subtask per app recruited by the lexical similarity of the
instruction to the apps (:func:`apps_plan`); a re-plan falls back to one subtask per app of the
unfinished subtasks (:func:`replan_apps`). No model call is made here. Which apps are
recruited, and how close a template is, is decided by :mod:`agents.similarity`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from agents.plan import MAX_INSTRUCTION, SchedulingGraph, Subtask, parse_plan, validate_graph
from agents.records import SubtaskRecord
from agents.similarity import app_name, recruit_apps, score_apps, similarity, terms
from apps.base import Tool
from memory.models import GuidelineEntry, Retrieved

TEMPLATE_MIN_SIMILARITY = 0.2
"""Least content-word Jaccard similarity between the instruction and a template's instruction
for the template to be followed without the model (below it, the template is another task)."""

Fallback = tuple[SchedulingGraph, str, list[str]]
"""A plan made in code: the graph, how (``template:<id>`` or ``apps``) and notes saying why."""


class PlanTemplate(BaseModel):
    """A verified plan from memory: the graph that solved a similar instruction."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """The memory entry's id (``RunRecord.fallbacks`` names it as ``template:<id>``)."""
    instruction: str
    """The instruction the graph solved."""
    graph: SchedulingGraph
    """The graph that worked, with the remembered subtask instructions."""
    score: float = 0.0
    """The retrieval score (higher is better); templates are offered best first."""
    successes: int = 1
    """Verified successful runs behind it; a template with none is never followed."""

    @classmethod
    def from_entry(cls, entry: GuidelineEntry, score: float = 0.0) -> PlanTemplate | None:
        """The template of a stored guideline; ``None`` when it has no id or no usable graph."""
        graph, _ = parse_plan(entry.graph)
        if entry.id is None or graph is None:
            return None
        return cls(
            id=str(entry.id),
            instruction=entry.instruction,
            graph=graph,
            score=score,
            successes=entry.successes,
        )


def plan_templates(found: Retrieved) -> list[PlanTemplate]:
    """The templates of a guideline lookup, best first (entries without a graph are left out)."""
    out = []
    for entry, score in zip(found.entries, found.scores, strict=True):
        if isinstance(entry, GuidelineEntry):
            template = PlanTemplate.from_entry(entry, score)
            if template is not None:
                out.append(template)
    return out


def tool_lines(tools: Iterable[Tool]) -> list[str]:
    """``name: description`` per tool: what :class:`agents.StewardAgent` takes as ``tools``."""
    return [f"{t.name}: {t.description}".strip().rstrip(":") for t in tools]


def plan_fallback(
    instruction: str,
    templates: Sequence[PlanTemplate],
    agents: Mapping[str, str],
    tools: Mapping[str, Sequence[str]] | None = None,
    *,
    max_nodes: int,
) -> Fallback:
    """A first plan without the model: the first usable template, else one subtask per app
    recruited by similarity. ``agents`` maps token -> description."""
    found, passed = template_plan(templates, instruction, list(agents), max_nodes=max_nodes)
    notes = [f"memory template {why}" for why in passed]
    if found is not None:
        template, graph = found
        note = f"fell back to memory template #{template.id}: {template.instruction!r}"
        return graph, f"template:{template.id}", [*notes, note]
    graph, note = apps_plan(instruction, agents, tools, max_nodes=max_nodes)
    return graph, "apps", [*notes, note]


def template_plan(
    templates: Sequence[PlanTemplate],
    instruction: str,
    tokens: Collection[str],
    *,
    max_nodes: int,
) -> tuple[tuple[PlanTemplate, SchedulingGraph] | None, list[str]]:
    """The first usable template (in the order given) with its graph for ``instruction``, or
    ``None``; and why each template before it was passed over.

    Usable: verified (at least one success), similar to ``instruction``
    (:data:`TEMPLATE_MIN_SIMILARITY`), every token registered in ``tokens``, and valid.
    The remembered subtask instructions are kept, as they describe the same kind of work; when
    the instruction is not the remembered one (by content words), each is followed by the
    user's instruction, which decides the values (the remembered ones belong to the old task).
    """
    passed: list[str] = []
    for template in templates:
        unknown = sorted({n.task_token for n in template.graph.nodes} - set(tokens))
        close = similarity(instruction, template.instruction)
        if template.successes < 1:
            passed.append(f"#{template.id} is not verified")
        elif close < TEMPLATE_MIN_SIMILARITY:
            passed.append(f"#{template.id} is another task (similarity {close:.2f})")
        elif unknown:
            passed.append(f"#{template.id} names {', '.join(unknown)}, not in this world")
        else:
            graph = _adapted(template, instruction)
            errors = validate_graph(graph, tokens, max_nodes=max_nodes)
            if not errors:
                return (template, graph), passed
            passed.append(f"#{template.id} is invalid ({errors[0]})")
    return None, passed


def _adapted(template: PlanTemplate, instruction: str) -> SchedulingGraph:
    if terms(template.instruction) == terms(instruction):
        return template.graph.model_copy(deep=True)
    nodes = [
        n.model_copy(
            update={
                "instruction": _cut(
                    f"Do this step of a similar past task: {n.instruction.strip()} -- with "
                    f"the values of the current instruction: {instruction}"
                )
            }
        )
        for n in template.graph.nodes
    ]
    return SchedulingGraph(nodes=nodes)


def apps_plan(
    instruction: str,
    agents: Mapping[str, str],
    tools: Mapping[str, Sequence[str]] | None = None,
    *,
    max_nodes: int,
) -> tuple[SchedulingGraph, str]:
    """One independent subtask per recruited app, each the user's instruction for that app,
    and a note saying which apps were chosen and why."""
    chosen = recruit_apps(score_apps(instruction, agents, tools), max_nodes)
    nodes = [
        Subtask(id=f"s{i}", task_token=s.token, instruction=app_instruction(instruction, s.token))
        for i, s in enumerate(chosen, 1)
    ]
    why = ", ".join(
        f"{s.token} ({s.score:.2f}: {', '.join(s.matched)})" if s.matched else f"{s.token} (0)"
        for s in chosen
    )
    if chosen and not chosen[0].matched:
        why += "; no app matched the instruction's words"
    return SchedulingGraph(nodes=nodes), f"fell back to one subtask per app: {why}"


def app_instruction(instruction: str, token: str, detail: str = "") -> str:
    """The user's instruction addressed to one app."""
    text = f"Do the part of this instruction that the {app_name(token)} app can do: {instruction}"
    return _cut(f"{text} {detail}".strip())


def replan_apps(
    instruction: str,
    tokens: Collection[str],
    done: Sequence[SubtaskRecord],
    unfinished: Sequence[SubtaskRecord],
    *,
    max_nodes: int,
) -> Fallback:
    """One subtask per app of the ``unfinished`` subtasks (failed, then waiting), each the
    user's instruction for that app with what is left to do there and why it failed; it needs
    the finished subtasks its predecessors needed, so their key information still flows."""
    finished = {r.id for r in done}
    used = finished | {r.id for r in unfinished}
    by_app: dict[str, list[SubtaskRecord]] = {}
    for record in unfinished:
        if record.task_token in tokens:
            by_app.setdefault(record.task_token, []).append(record)
    nodes: list[Subtask] = []
    number = 0
    for token, records in list(by_app.items())[: max(1, max_nodes)]:
        number += 1
        while f"s{number}" in used:
            number += 1
        left = "; ".join(r.instruction.strip().rstrip(".") for r in records)
        tips = "; ".join(t for t in (_tips(r) for r in records) if t)
        detail = f"Left to do on this app: {left}." + (
            f" Earlier tries failed: {tips}" if tips else ""
        )
        needs = list(dict.fromkeys(d for r in records for d in r.needs if d in finished))
        nodes.append(
            Subtask(
                id=f"s{number}",
                task_token=token,
                instruction=app_instruction(instruction, token, detail),
                needs=needs,
            )
        )
    apps = ", ".join(n.task_token for n in nodes)
    note = f"re-plan fell back to one subtask per unfinished app: {apps}"
    return SchedulingGraph(nodes=nodes), "apps", [note]


def _tips(record: SubtaskRecord) -> str:
    last = record.history[-1].verdict if record.history else None
    return last.tips if last is not None else ""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_INSTRUCTION else text[: MAX_INSTRUCTION - 3] + "..."
