"""The view of a run: everything the page shows, as plain JSON data built from the run record
and the action journal. The page's script only draws it; nothing here runs in the browser."""

from __future__ import annotations

from typing import Any

from agents.records import Attempt, RunRecord, Step, SubtaskRecord
from core.usage import CallRecord, Usage
from viewer.graph import plan_views
from viewer.source import ToolCall
from viewer.state_changes import app_changes, memory_used
from viewer.text import as_text, clip
from viewer.texts import OBSERVATION_BUDGET, TextTable, fair_cap
from viewer.timeline import call_item, rows, span_of


def build_view(record: RunRecord, actions: list[ToolCall] | None = None) -> dict[str, Any]:
    """Everything the run page shows, as JSON-ready data. ``actions`` are the run's journaled
    tool calls (``viewer.source.load_actions``): they place tool calls in time, and show them
    live while a subtask's history is still being written."""
    actions = actions or []
    t0, t_end = span_of(record, actions)
    texts = TextTable()
    subtasks = [_subtask(s, t0, texts) for s in record.subtasks]
    _fit_observations(subtasks)
    return {
        "run": _header(record, t_end - t0),
        "plans": plan_views(record),
        "timeline": {"duration": round(t_end - t0, 4), "rows": rows(record, actions, t0, t_end)},
        "subtasks": subtasks,
        "texts": texts.texts(),
        "memory": memory_used(record.retrieved),
        "apps": app_changes(record),
    }


def _fit_observations(subtasks: list[dict[str, Any]]) -> None:
    """Cut the steps' observations to one length that keeps them within the budget."""
    steps = [step for s in subtasks for a in s["history"] for step in a["steps"]]
    cap = fair_cap([len(step["observation"]) for step in steps], OBSERVATION_BUDGET, 1 << 30)
    for step in steps:
        step["observation"] = clip(step["observation"], max(cap, 80))


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "calls": usage.calls,
        "latency_s": round(usage.latency_s, 4),
    }


def _header(record: RunRecord, duration: float) -> dict[str, Any]:
    return {
        "id": record.run_id,
        "instruction": clip(record.instruction),
        "status": record.status,
        "answer": clip(record.answer),
        "error": clip(record.error),
        "replans": record.replans,
        "notes": [clip(n, 1000) for n in record.notes],
        "fallbacks": list(record.fallbacks),
        "usage": _usage(record.usage),
        "started_at": record.started_at,
        "wall_s": round(record.wall_s or duration, 3),
        "model": str(record.settings.get("model") or ""),
        "scenario": str((record.settings.get("scenario") or {}).get("name") or ""),
    }


def _subtask(s: SubtaskRecord, t0: float, texts: TextTable) -> dict[str, Any]:
    last = s.history[-1] if s.history else None
    verdict = last.verdict if last is not None else None
    return {
        "id": s.id,
        "token": s.task_token,
        "instruction": clip(s.instruction),
        "needs": list(s.needs),
        "status": s.status,
        "attempts": s.attempts,
        "key_info": clip(s.key_info, 1000),
        "result": clip(s.result, 1000),
        "tips": clip(verdict.tips, 1000) if verdict is not None else "",
        "usage": _usage(s.usage),
        "start": round(s.started_at - t0, 4) if s.started_at else None,
        "end": round(s.ended_at - t0, 4) if s.ended_at else None,
        "history": [_attempt(a, t0, texts) for a in s.history],
    }


def _attempt(a: Attempt, t0: float, texts: TextTable) -> dict[str, Any]:
    verdict = None
    if a.verdict is not None:
        v = a.verdict
        verdict = {
            "success": v.success,
            "failure_kind": v.failure_kind,
            "tips": clip(v.tips, 1000),
            "key_info": clip(v.key_info, 1000),
            "overridden": v.overridden,
            "call": None if v.call is None else _call(v.call, t0, texts),
        }
    return {
        "number": a.number,
        "status": a.status,
        "start": round(a.started_at - t0, 4) if a.started_at else None,
        "end": round(a.ended_at - t0, 4) if a.ended_at else None,
        "inputs": {k: clip(v, 1000) for k, v in a.inputs.items()},
        "tips": clip(a.tips, 1000),
        "result": clip(a.result, 1000),
        "steps": [_step(s) for s in a.steps],
        "calls": [_call(c, t0, texts) for c in a.calls],
        "verdict": verdict,
        "changes": [clip(c, 500) for c in a.changes[:200]],
        "carried": list(a.carried),
        "rolled_back": a.rolled_back,
        "usage": _usage(a.usage),
    }


def _step(s: Step) -> dict[str, Any]:
    return {
        "thought": clip(s.action.thought, 1000),
        "tool": s.action.tool,
        "arguments": as_text(s.action.arguments, 1000),
        "result": clip(s.action.result, 1000),
        "observation": as_text(s.observation),
        "error": clip(s.error, 1000),
        "repeated": s.repeated,
        "refused": s.refused,
        "reused": s.reused,
        "action_id": s.action_id,
        "latency_s": round(s.latency_s, 4),
    }


def _call(c: CallRecord, t0: float, texts: TextTable) -> dict[str, Any]:
    """A model call with its prompt's messages and its output as positions in ``texts``."""
    item = call_item(c, t0)
    item["mode"] = c.mode
    item["prompt"] = [
        {"role": m.get("role", ""), "text": texts.add(m.get("content", ""))}
        for m in (c.prompt or [])
    ]
    item["output"] = texts.add(c.output) if c.output else None
    return item
