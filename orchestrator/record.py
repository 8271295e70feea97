"""Build the run record (``agents.RunRecord``) from the graph state and the stored details."""

from __future__ import annotations

import time
from typing import Any

from agents.plan import SchedulingGraph
from agents.records import RunRecord, SubtaskRecord
from core.usage import CallRecord, Usage


def build_record(
    state: dict[str, Any],
    details: dict[str, dict[str, Any]],
    *,
    started_at: float,
    settings: dict[str, Any] | None = None,
    retrieved: dict[str, Any] | None = None,
) -> RunRecord:
    """A complete record: subtask summaries from ``state``, their histories from ``details``."""
    subtasks: list[SubtaskRecord] = []
    for sub_id, sub in (state.get("subtasks") or {}).items():
        if sub_id in details:
            full = SubtaskRecord.model_validate(details[sub_id])
            full.status = sub.get("status", full.status)
        else:
            fields = {k: v for k, v in sub.items() if k in SubtaskRecord.model_fields}
            full = SubtaskRecord.model_validate(fields)
        subtasks.append(full)
    steward_calls = [CallRecord.model_validate(c) for c in state.get("steward_calls") or []]
    by_agent: dict[str, Usage] = {}
    for call in steward_calls:
        by_agent["steward"] = by_agent.get("steward", Usage()) + call.usage
    for sub in subtasks:
        for attempt in sub.history:
            for call in attempt.calls:
                key = call.role or sub.task_token
                by_agent[key] = by_agent.get(key, Usage()) + call.usage
            if attempt.verdict is not None and attempt.verdict.call is not None:
                by_agent["steward"] = by_agent.get("steward", Usage()) + attempt.verdict.call.usage
    now = time.time()
    graph = state.get("graph")
    return RunRecord(
        run_id=state.get("run_id", ""),
        instruction=state.get("instruction", ""),
        status=state.get("status") or "planning",
        graph=SchedulingGraph.model_validate(graph) if graph else None,
        subtasks=subtasks,
        answer=state.get("answer") or "",
        error=state.get("error"),
        replans=state.get("replans") or 0,
        notes=list(state.get("notes") or []),
        steward_calls=steward_calls,
        plans=[SchedulingGraph.model_validate(p) for p in state.get("plans") or []],
        retrieved=dict(retrieved or {}),
        usage=Usage.total(by_agent.values()),
        usage_by_agent=by_agent,
        started_at=started_at,
        ended_at=now,
        wall_s=round(now - started_at, 3) if started_at else 0.0,
        settings=dict(settings or {}),
    )
