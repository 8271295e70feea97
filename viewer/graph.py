"""The scheduling graphs of a run, laid out for the view: every plan, nodes coloured by their
subtask's status, edges labelled with the information that flows along them."""

from __future__ import annotations

from typing import Any

from agents.plan import SchedulingGraph
from agents.records import RunRecord, SubtaskRecord
from viewer.text import clip

NODE_W = 190
"""Width of a node's box, in pixels (the browser draws what this module places)."""
NODE_H = 56
GAP_X = 120
"""Room between columns, where an edge is labelled with what flows along it."""
GAP_Y = 16
PAD = 16


def plan_views(record: RunRecord) -> list[dict[str, Any]]:
    """One entry per plan of the run (the first and each re-plan), laid out left to right."""
    plans = list(record.plans) or ([record.graph] if record.graph is not None else [])
    subtasks = {s.id: s for s in record.subtasks}
    first_seen: dict[str, int] = {}
    for index, plan in enumerate(plans):
        for node in plan.nodes:
            first_seen.setdefault(node.id, index)
    fallbacks = plan_fallbacks(len(plans), record.fallbacks)
    return [
        _plan_view(index, plan, subtasks, first_seen, fallbacks) for index, plan in enumerate(plans)
    ]


def plan_fallbacks(plans: int, fallbacks: list[str]) -> list[str | None]:
    """How each plan was made when a fallback made it (``None``: the model's plan, or not
    known). The record lists fallbacks without saying which plan each made; a memory template
    can only make the first plan, and when every plan fell back the list is the plans'."""
    out: list[str | None] = [None] * plans
    rest = list(fallbacks)
    if plans and rest and rest[0].startswith("template:"):
        out[0] = rest.pop(0)
    open_plans = [i for i in range(plans) if out[i] is None]
    if rest and len(rest) == len(open_plans):
        for index, how in zip(open_plans, rest, strict=True):
            out[index] = how
    return out


def _plan_view(
    index: int,
    plan: SchedulingGraph,
    subtasks: dict[str, SubtaskRecord],
    first_seen: dict[str, int],
    fallbacks: list[str | None],
) -> dict[str, Any]:
    positions, width, height = layout(plan)
    nodes = []
    for node in plan.nodes:
        record = subtasks.get(node.id)
        introduced = first_seen.get(node.id, index)
        x, y = positions[node.id]
        nodes.append(
            {
                "id": node.id,
                "token": node.task_token,
                "instruction": clip(node.instruction, 400),
                "needs": list(node.needs),
                "status": record.status if record is not None else "pending",
                "attempts": record.attempts if record is not None else 0,
                "replanned": introduced > 0,
                "fallback": fallbacks[introduced] if introduced < len(fallbacks) else None,
                "x": x,
                "y": y,
            }
        )
    ids = {n.id for n in plan.nodes}
    edges = []
    for node in plan.nodes:
        for need in node.needs:
            if need in ids and need != node.id:
                producer = subtasks.get(need)
                flow = producer.key_info if producer is not None else ""
                edges.append({"from": need, "to": node.id, "label": clip(flow, 300)})
    return {
        "index": index,
        "label": "plan" if index == 0 else f"re-plan {index}",
        "fallback": fallbacks[index],
        "nodes": nodes,
        "edges": edges,
        "width": width,
        "height": height,
        "node": {"w": NODE_W, "h": NODE_H, "gap": GAP_X},
    }


def layers(plan: SchedulingGraph) -> dict[str, int]:
    """Each node's column: one more than the deepest node it needs (0 for none). Needs that
    name no node of the plan are ignored; a cycle stops growing after as many rounds as there
    are nodes."""
    ids = {n.id for n in plan.nodes}
    depth = {n.id: 0 for n in plan.nodes}
    for _ in range(len(plan.nodes)):
        changed = False
        for node in plan.nodes:
            deps = [depth[d] + 1 for d in node.needs if d in ids and d != node.id]
            best = max(deps, default=0)
            if best > depth[node.id]:
                depth[node.id] = best
                changed = True
        if not changed:
            break
    return depth


def layout(plan: SchedulingGraph) -> tuple[dict[str, tuple[int, int]], int, int]:
    """Node id -> top-left corner, and the drawing's width and height. Columns are
    :func:`layers`; within a column, nodes are ordered by the mean row of what they need
    (fewer crossing edges), then by their order in the plan."""
    depth = layers(plan)
    columns: dict[int, list[str]] = {}
    for node in plan.nodes:
        columns.setdefault(depth[node.id], []).append(node.id)
    needs = {n.id: [d for d in n.needs if d in depth] for n in plan.nodes}
    order = {n.id: i for i, n in enumerate(plan.nodes)}
    row: dict[str, float] = {}
    positions: dict[str, tuple[int, int]] = {}
    for column in sorted(columns):
        ids = columns[column]

        def key(node_id: str) -> tuple[float, int]:
            rows = [row[d] for d in needs[node_id] if d in row]
            return (sum(rows) / len(rows) if rows else -1.0, order[node_id])

        for i, node_id in enumerate(sorted(ids, key=key)):
            row[node_id] = i
            positions[node_id] = (PAD + column * (NODE_W + GAP_X), PAD + i * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    tallest = max((len(ids) for ids in columns.values()), default=1)
    height = PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y
    return positions, width, height
