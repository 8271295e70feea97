"""The run's timeline: one row per subtask (and one for the steward's own calls), with its
attempts, model calls and tool calls placed at the times they happened, in seconds from the
run's start, so that work done at the same time overlaps on the page."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from agents.records import RunRecord, SubtaskRecord
from core.usage import CallRecord
from viewer.source import ToolCall

RUNNING = ("planning", "running")


def span_of(record: RunRecord, actions: Iterable[ToolCall]) -> tuple[float, float]:
    """The run's start and end, as Unix times. A run still going ends now; the end is never
    before anything recorded in it."""
    starts = [record.started_at] if record.started_at else []
    ends = [record.ended_at] if record.ended_at else []
    for call in _all_calls(record):
        if call.started_at:
            starts.append(call.started_at)
            ends.append(call.started_at + call.usage.latency_s)
    for s in record.subtasks:
        starts += [t for t in (s.started_at,) if t]
        ends += [t for t in (s.ended_at,) if t]
    for a in actions:
        starts += [t for t in (a.started_at,) if t]
        ends += [t for t in (a.ended_at,) if t]
    start = min(starts, default=0.0)
    end = max(ends, default=start)
    if record.status in RUNNING:
        end = max(end, time.time())
    return start, max(end, start + 0.001)


def _all_calls(record: RunRecord) -> Iterable[CallRecord]:
    yield from record.steward_calls
    for s in record.subtasks:
        for attempt in s.history:
            yield from attempt.calls
            if attempt.verdict is not None and attempt.verdict.call is not None:
                yield attempt.verdict.call


def call_item(call: CallRecord, t0: float, **extra: Any) -> dict[str, Any]:
    """A model call as a timeline item (``start``/``end`` in seconds from ``t0``)."""
    start = call.started_at - t0 if call.started_at else 0.0
    return {
        "kind": "call",
        "start": round(start, 4),
        "end": round(start + call.usage.latency_s, 4),
        "role": call.role,
        "purpose": call.purpose,
        "model": call.model,
        "prompt_tokens": call.usage.prompt_tokens,
        "completion_tokens": call.usage.completion_tokens,
        "latency_s": round(call.usage.latency_s, 4),
        "requests": call.attempts,
        "error": call.error,
        **extra,
    }


def tool_item(action: ToolCall, t0: float) -> dict[str, Any]:
    """A journaled tool call as a timeline item."""
    start = action.started_at - t0
    end = (action.ended_at - t0) if action.ended_at else start
    return {
        "kind": "tool",
        "id": action.id,
        "start": round(start, 4),
        "end": round(max(end, start), 4),
        "app": action.app,
        "tool": action.tool,
        "attempt": action.attempt,
        "status": action.status,
        "error": action.error,
    }


def rows(
    record: RunRecord, actions: list[ToolCall], t0: float, t_end: float
) -> list[dict[str, Any]]:
    """The timeline's rows: the steward's calls first, then the subtasks in the order they
    started (those that never started last)."""
    steward = [call_item(c, t0, subtask=None, attempt=None) for c in record.steward_calls]
    out: list[dict[str, Any]] = [
        {"id": "", "label": "steward", "status": "", "start": None, "end": None,
         "attempts": [], "items": steward}
    ]  # fmt: skip
    by_subtask: dict[str, list[ToolCall]] = {}
    for action in actions:
        if action.started_at:
            by_subtask.setdefault(action.subtask_id, []).append(action)
    ordered = sorted(record.subtasks, key=lambda s: (s.started_at == 0, s.started_at))
    for s in ordered:
        out.append(_subtask_row(s, by_subtask.get(s.id, []), t0, t_end, record.status))
    return out


def _subtask_row(
    s: SubtaskRecord, actions: list[ToolCall], t0: float, t_end: float, run_status: str
) -> dict[str, Any]:
    start = s.started_at - t0 if s.started_at else None
    end: float | None = s.ended_at - t0 if s.ended_at else None
    if start is not None and end is None:
        end = t_end - t0 if s.status == "running" and run_status in RUNNING else start
    items: list[dict[str, Any]] = []
    attempts = []
    journaled = {a.id for a in actions}
    for attempt in s.history:
        a_start = attempt.started_at - t0 if attempt.started_at else start
        a_end = attempt.ended_at - t0 if attempt.ended_at else a_start
        verdict = attempt.verdict
        attempts.append(
            {
                "number": attempt.number,
                "start": None if a_start is None else round(a_start, 4),
                "end": None if a_end is None else round(a_end, 4),
                "status": attempt.status,
                "success": None if verdict is None else verdict.success,
            }
        )
        for call in attempt.calls:
            items.append(call_item(call, t0, subtask=s.id, attempt=attempt.number))
        if verdict is not None and verdict.call is not None:
            items.append(call_item(verdict.call, t0, subtask=s.id, attempt=attempt.number))
        items += _unjournaled_tools(s.id, attempt.number, attempt, journaled, t0)
    items += [tool_item(a, t0) for a in actions]
    return {
        "id": s.id,
        "label": f"{s.id} {s.task_token}",
        "status": s.status,
        "start": None if start is None else round(start, 4),
        "end": None if end is None else round(end, 4),
        "attempts": attempts,
        "items": items,
    }


def _unjournaled_tools(
    subtask_id: str, number: int, attempt: Any, journaled: set[str], t0: float
) -> list[dict[str, Any]]:
    """Tool calls of a history whose journal entry is missing (a record from before the
    journal kept times): placed right after the model call that chose them."""
    out = []
    act_calls = [c for c in attempt.calls if c.started_at]
    for i, step in enumerate(attempt.steps):
        if step.action.tool == "finish" or step.refused or step.reused:
            continue
        if step.action_id and step.action_id in journaled:
            continue
        if i >= len(act_calls):
            continue
        chosen = act_calls[i]
        start = chosen.started_at + chosen.usage.latency_s - t0
        out.append(
            {
                "kind": "tool",
                "id": step.action_id or f"{subtask_id}.{number}.{i + 1}",
                "start": round(start, 4),
                "end": round(start + step.latency_s, 4),
                "app": "",
                "tool": step.action.tool,
                "attempt": number,
                "status": "done",
                "error": step.error,
                "estimated": True,
            }
        )
    return out
