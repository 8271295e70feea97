"""Training examples from a run record: the prompts a role was sent, with its right answers.

Only what was verified is taken: the plan of a run that succeeded, each succeeded subtask's
last attempt (its actions, its finish) and the verdict that accepted it. A call that needed
re-asks is taken with its first prompt and its final, valid answer; a plan that only a repair
in code or a fallback made valid is left out (the model never wrote it). Answers are written as
the constrained decoder writes them: compact JSON, keys in the schema's order.

A verdict that rejected an attempt is taken only from a teacher's run (``source`` starting
with ``teacher:``), and only when the attempt's work is a strict prefix of the work of the
attempt accepted later in the same subtask (so it really was short of it); the short
attempt's tool calls, right as far as they went, are taken with it (not its early finish).
The teacher rejects only attempts it played short on purpose, so its rejections are known to
be right. In a user's own run a rejection is the model's judgement alone: the later success
shows that the retry's work was enough, not that the rejected attempt's was not (a complete
attempt may have been rejected, and its retry redone or added needless calls), so it is not
taken.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.plan import SchedulingGraph
from agents.records import Attempt, RunRecord, SubtaskRecord
from agents.steward import STEWARD
from core.usage import CallRecord

Purpose = Literal["plan", "replan", "act", "evaluate"]
TEACHER_SOURCE = "teacher:"
"""How the source of a teacher's examples starts (its rejections are verified)."""


class Example(BaseModel):
    """One prompt and the answer its role should give."""

    model_config = ConfigDict(extra="forbid")

    role: str
    """``steward`` or a task token such as ``<app:messaging>``."""
    purpose: Purpose
    messages: list[dict[str, str]]
    """The chat messages exactly as the runtime sent them (``role``, ``content``)."""
    answer: str
    source: str = ""
    """Where it came from, e.g. ``teacher:bfcl:multi_turn_base`` or ``runs``."""
    run_id: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


def compact_json(text: str) -> str | None:
    """``text`` as compact JSON (the constrained decoder's form), or ``None`` if not JSON."""
    try:
        value = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def initial_prompt(call: CallRecord) -> list[dict[str, str]] | None:
    """The messages of a call's first request (its re-asks left out); ``None`` when the call
    did not record its prompt."""
    if call.prompt is None:
        return None
    reasks = max(0, call.usage.calls - 1)
    messages = list(call.prompt[: len(call.prompt) - 2 * reasks] if reasks else call.prompt)
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]


def _example(call: CallRecord | None, role: str, purpose: Purpose, **extra: Any) -> Example | None:
    if call is None or call.error is not None or call.output is None:
        return None
    messages = initial_prompt(call)
    answer = compact_json(call.output)
    if not messages or answer is None:
        return None
    return Example(role=role, purpose=purpose, messages=messages, answer=answer, **extra)


def examples_from_record(record: RunRecord, *, source: str = "") -> list[Example]:
    """The verified examples of ``record`` (none unless it succeeded)."""
    if record.status != "succeeded":
        return []
    common = {"source": source, "run_id": record.run_id}
    out: list[Example] = []
    plans = [c for c in record.steward_calls if c.purpose in ("plan", "replan")]
    # the plan is learned only when it carried the run through (no re-plan, no fallback)
    whole = not record.replans and not record.fallbacks
    if plans and record.plans and whole and _model_wrote(plans[0], record):
        first = _example(plans[0], STEWARD, "plan", **common)
        if first is not None:
            out.append(first)
    for sub in record.subtasks:
        if sub.status != "succeeded" or not sub.history:
            continue
        last = sub.history[-1]
        if last.verdict is not None and not last.verdict.success:
            continue  # (no verdict: an agent without evaluation, verified by its run's status)
        if source.startswith(TEACHER_SOURCE):
            out += _rejections(sub, common)
        for call in last.calls:
            example = _example(call, sub.task_token, "act", **common)
            if example is not None:
                out.append(example)
        judged = last.verdict.call if last.verdict is not None else None
        verdict = _example(judged, STEWARD, "evaluate", **common)
        if verdict is not None:
            out.append(verdict)
    return out


def _rejections(sub: SubtaskRecord, common: dict[str, Any]) -> list[Example]:
    """A teacher's verified rejections in a succeeded subtask: each rejected attempt whose
    work is a strict prefix of the accepted attempt's, with its tool calls and its verdict."""
    accepted = _work(sub.history, sub.history[-1])
    out: list[Example] = []
    for attempt in sub.history[:-1]:
        verdict = attempt.verdict
        if verdict is None or verdict.success or verdict.call is None:
            continue
        done = _work(sub.history, attempt)
        if len(done) >= len(accepted) or accepted[: len(done)] != done:
            continue
        for call in attempt.calls:
            example = _example(call, sub.task_token, "act", **common)
            if example is not None and json.loads(example.answer).get("tool") != "finish":
                out.append(example)
        judged = _example(verdict.call, STEWARD, "evaluate", **common)
        if judged is not None:
            out.append(judged)
    return out


def _work(history: list[Attempt], attempt: Attempt) -> list[str]:
    """The calls an attempt's work consists of, as ``tool {arguments}``: the calls of the
    subtask's earlier attempts it found still in effect (carried over, not rolled back), then
    the calls it made that ran without error (one that reused a carried call counts once)."""
    position = next(i for i, a in enumerate(history) if a is attempt)
    made = {s.action_id: s for a in history[:position] for s in a.steps if s.action_id}
    carried = [made[i] for i in attempt.carried if i in made]
    own = [
        s
        for s in attempt.steps
        if s.action.tool != "finish" and not s.refused and s.error is None
        if s.reused is None or s.reused not in made
    ]
    return [
        f"{s.action.tool} {json.dumps(s.action.arguments, sort_keys=True, default=str)}"
        for s in carried + own
    ]


def _model_wrote(call: CallRecord, record: RunRecord) -> bool:
    """Whether the plan the run followed first is the one the model's answer holds."""
    try:
        wrote = SchedulingGraph.model_validate_json(call.output or "")
    except ValueError:
        return False
    return wrote == record.plans[0]
