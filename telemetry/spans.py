"""A finished run as OpenTelemetry spans, built from its record after the fact with the times
the record and the action journal hold: one span for the run, one per subtask, one per model
call and one per tool call, with the GenAI semantic conventions' attributes
(``gen_ai.operation.name``, ``gen_ai.request.model``, ``gen_ai.usage.input_tokens``...) and
Steward's own (``steward.run_id``, ``steward.subtask_id``, ``steward.task_token``...).

Imported only when telemetry is on: it needs the ``opentelemetry-api`` package (the SDK
exports the spans; see ``telemetry.tracer``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import Attributes

from agents.records import RunRecord, SubtaskRecord
from core.usage import CallRecord

INSTRUCTION_CHARS = 1000
"""Longest instruction kept in an attribute."""


@dataclass(frozen=True)
class ToolTimes:
    """A journaled tool call's times and outcome (``memory.journal.JournalEntry``)."""

    started_at: float
    ended_at: float
    app: str = ""
    status: str = "done"
    error: str | None = None


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _end(span: Span, end: float, start: float) -> None:
    span.end(end_time=_ns(max(end, start)))


def emit_run(
    tracer: Tracer, record: RunRecord, tools: Mapping[str, ToolTimes] | None = None
) -> int:
    """Create and end every span of ``record`` on ``tracer``; the number of spans made.
    ``tools`` maps journal ids (``Step.action_id``) to the tool calls' times; a step without
    one is placed after the model call that chose it, for its recorded latency."""
    tools = tools or {}
    start = record.started_at or _first_start(record)
    end = record.ended_at or (start + record.wall_s)
    model = str(record.settings.get("model") or "")
    attributes: dict[str, str | int | bool] = {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.conversation.id": record.run_id,
        "gen_ai.usage.input_tokens": record.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": record.usage.completion_tokens,
        "steward.run_id": record.run_id,
        "steward.run.status": record.status,
        "steward.instruction": record.instruction[:INSTRUCTION_CHARS],
        "steward.replans": record.replans,
    }
    if model:
        attributes["gen_ai.request.model"] = model
    run = tracer.start_span("invoke_workflow steward", attributes=attributes, start_time=_ns(start))
    if record.status not in ("succeeded", "running", "planning"):
        run.set_status(Status(StatusCode.ERROR, record.error or record.status))
    count = 1
    context = trace.set_span_in_context(run)
    for call in record.steward_calls:
        count += _call_span(tracer, context, call, record.run_id, None, None)
    for subtask in record.subtasks:
        count += _subtask_spans(tracer, context, subtask, record.run_id, tools)
    _end(run, end, start)
    return count


def _first_start(record: RunRecord) -> float:
    times = [c.started_at for c in record.steward_calls if c.started_at]
    times += [s.started_at for s in record.subtasks if s.started_at]
    return min(times, default=0.0)


def _common(run_id: str, subtask: SubtaskRecord | None) -> dict[str, str | int | bool]:
    out: dict[str, str | int | bool] = {"steward.run_id": run_id, "gen_ai.conversation.id": run_id}
    if subtask is not None:
        out["steward.subtask_id"] = subtask.id
        out["steward.task_token"] = subtask.task_token
    return out


def _subtask_spans(
    tracer: Tracer,
    parent: Context,
    s: SubtaskRecord,
    run_id: str,
    tools: Mapping[str, ToolTimes],
) -> int:
    if not s.started_at:  # never ran (pending, or skipped by a re-plan)
        return 0
    attributes = {
        **_common(run_id, s),
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": s.task_token,
        "gen_ai.agent.id": f"{run_id}/{s.id}",
        "gen_ai.usage.input_tokens": s.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": s.usage.completion_tokens,
        "steward.subtask.status": s.status,
        "steward.subtask.attempts": s.attempts,
    }
    span = tracer.start_span(
        f"invoke_agent {s.task_token}", context=parent, attributes=attributes,
        start_time=_ns(s.started_at),
    )  # fmt: skip
    if s.status == "failed":
        span.set_status(Status(StatusCode.ERROR, "the subtask failed"))
    context = trace.set_span_in_context(span)
    count, last = 1, s.started_at
    for attempt in s.history:
        for call in attempt.calls:
            count += _call_span(tracer, context, call, run_id, s, attempt.number)
            last = max(last, call.started_at + call.usage.latency_s)
        verdict = attempt.verdict
        if verdict is not None and verdict.call is not None:
            count += _call_span(tracer, context, verdict.call, run_id, s, attempt.number)
        chosen = [c for c in attempt.calls if c.started_at]
        for i, step in enumerate(attempt.steps):
            if step.action.tool == "finish" or step.refused or step.reused:
                continue
            times = tools.get(step.action_id or "")
            if times is None:
                if i >= len(chosen):
                    continue
                begin = chosen[i].started_at + chosen[i].usage.latency_s
                times = ToolTimes(begin, begin + step.latency_s, error=step.error)
            count += _tool_span(tracer, context, step.action.tool, step.action_id, times,
                                run_id, s, attempt.number)  # fmt: skip
            last = max(last, times.ended_at)
    _end(span, s.ended_at or last, s.started_at)
    return count


def _call_span(
    tracer: Tracer,
    parent: Context,
    call: CallRecord,
    run_id: str,
    subtask: SubtaskRecord | None,
    attempt: int | None,
) -> int:
    if not call.started_at:
        return 0
    attributes: Attributes = {
        **_common(run_id, subtask),
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": call.model,
        "gen_ai.usage.input_tokens": call.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": call.usage.completion_tokens,
        "steward.role": call.role,
        "steward.purpose": call.purpose,
        "steward.output_mode": call.mode,
        "steward.requests": call.attempts,
        **({"steward.attempt": attempt} if attempt is not None else {}),
        **({"error.type": "model_error"} if call.error else {}),
    }
    span = tracer.start_span(
        f"chat {call.model}", context=parent, kind=SpanKind.CLIENT, attributes=attributes,
        start_time=_ns(call.started_at),
    )  # fmt: skip
    if call.error:
        span.set_status(Status(StatusCode.ERROR, call.error[:500]))
    _end(span, call.started_at + call.usage.latency_s, call.started_at)
    return 1


def _tool_span(
    tracer: Tracer,
    parent: Context,
    tool: str,
    action_id: str | None,
    times: ToolTimes,
    run_id: str,
    subtask: SubtaskRecord,
    attempt: int,
) -> int:
    attributes: dict[str, str | int | bool] = {
        **_common(run_id, subtask),
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function",
        "steward.attempt": attempt,
        "steward.action.status": times.status,
    }
    if action_id:
        attributes["gen_ai.tool.call.id"] = action_id
    if times.app:
        attributes["steward.app"] = times.app
    if times.error:
        attributes["error.type"] = "tool_error"
    span = tracer.start_span(
        f"execute_tool {tool}", context=parent, attributes=attributes,
        start_time=_ns(times.started_at),
    )  # fmt: skip
    if times.error:
        span.set_status(Status(StatusCode.ERROR, times.error[:500]))
    _end(span, times.ended_at, times.started_at)
    return 1


def tool_times(entries: Iterable[tuple[str, ToolTimes]]) -> dict[str, ToolTimes]:
    """Journal id -> times, keeping entries that were timed."""
    return {key: times for key, times in entries if times.started_at}
