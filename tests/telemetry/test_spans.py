"""A finished run's spans, caught by the SDK's in-memory exporter: one for the run, one per
subtask, model call and tool call, nested, timed as the run was, with the GenAI semantic
conventions' attributes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="the telemetry extra is not installed")

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

from agents.records import RunRecord
from memory.runs import RunStore
from orchestrator import Event
from telemetry.tracer import RunTracer, provider_for
from tests.telemetry.runs import run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    runs = RunStore(tmp_path / "runs.db")
    yield runs
    runs.close()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def traced(tmp_path: Path, store: RunStore, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tracer = RunTracer(provider_for(exporter, batch=False), store=store)
    run(tmp_path, tracer, store)
    return list(exporter.get_finished_spans())


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_a_run_becomes_a_trace_of_nested_timed_spans(
    tmp_path: Path, store: RunStore, exporter: InMemorySpanExporter
) -> None:
    spans = traced(tmp_path, store, exporter)
    by_op: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_op.setdefault(attrs(span)["gen_ai.operation.name"], []).append(span)
    [root] = by_op["invoke_workflow"]
    subtasks = by_op["invoke_agent"]
    tools = by_op["execute_tool"]
    chats = by_op["chat"]
    assert [attrs(s)["steward.subtask_id"] for s in subtasks] == ["s1", "s2"]
    assert [attrs(s)["gen_ai.tool.name"] for s in tools] == ["read", "add", "send"]
    # plan, answer, and per subtask: act calls and one evaluation
    assert sorted(attrs(c)["steward.purpose"] for c in chats) == sorted(
        ["plan", "answer", "act", "act", "act", "evaluate", "act", "act", "evaluate"]
    )
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert root.parent is None
    assert {s.parent.span_id for s in subtasks if s.parent} == {root.context.span_id}
    subtask_ids = {s.context.span_id: attrs(s)["steward.subtask_id"] for s in subtasks}
    for span in tools + [c for c in chats if attrs(c)["steward.purpose"] in ("act", "evaluate")]:
        assert span.parent is not None
        assert subtask_ids[span.parent.span_id] == attrs(span)["steward.subtask_id"]
    for span in spans:  # explicit times, each inside its parent
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time
        assert root.start_time <= span.start_time and span.end_time <= root.end_time  # type: ignore[operator]


def test_spans_carry_the_genai_attributes_the_task_token_and_the_subtask_id(
    tmp_path: Path, store: RunStore, exporter: InMemorySpanExporter
) -> None:
    spans = traced(tmp_path, store, exporter)
    record = RunRecord.model_validate(store.load_run(store.list_runs(1)[0]["run_id"]))
    root = next(s for s in spans if s.parent is None)
    assert root.name == "invoke_workflow steward"
    assert attrs(root)["gen_ai.conversation.id"] == record.run_id
    assert attrs(root)["gen_ai.usage.input_tokens"] == record.usage.prompt_tokens
    assert attrs(root)["gen_ai.usage.output_tokens"] == record.usage.completion_tokens
    act = next(s for s in spans if attrs(s).get("steward.purpose") == "act")
    a = attrs(act)
    assert act.name == "chat notes-model" and a["gen_ai.request.model"] == "notes-model"
    assert a["steward.task_token"] == "<app:notes>" and a["steward.subtask_id"] == "s1"
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    call = record.subtasks[0].history[0].calls[0]
    assert act.start_time == int(call.started_at * 1e9)
    assert act.end_time == int((call.started_at + call.usage.latency_s) * 1e9)
    agent = next(s for s in spans if attrs(s).get("gen_ai.operation.name") == "invoke_agent")
    assert agent.name == "invoke_agent <app:notes>"
    assert attrs(agent)["gen_ai.agent.name"] == "<app:notes>"


def test_tool_spans_take_the_journal_times_and_errors(
    tmp_path: Path, store: RunStore, exporter: InMemorySpanExporter
) -> None:
    spans = traced(tmp_path, store, exporter)
    read = next(s for s in spans if attrs(s).get("gen_ai.tool.name") == "read")
    assert read.status.status_code is StatusCode.ERROR and "no note N9" in str(
        read.status.description
    )
    assert attrs(read)["error.type"] == "tool_error"
    assert attrs(read)["gen_ai.tool.call.id"] == "s1.1.1" and attrs(read)["steward.app"] == "notes"
    row = next(store.db.query("select started_at, ended_at from actions where id = 's1.1.1'"))
    assert read.start_time == int(row["started_at"] * 1e9)
    assert read.end_time == int(row["ended_at"] * 1e9)


def test_a_failed_run_is_an_error_span(
    tmp_path: Path, store: RunStore, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.telemetry import runs

    monkeypatch.setattr(runs, "verdict", lambda *a, **k: {"success": False, "failure_kind": "other",
                                                          "tips": "no", "key_info": ""})  # fmt: skip
    spans = traced(tmp_path, store, exporter)
    root = next(s for s in spans if s.parent is None)
    assert attrs(root)["steward.run.status"] == "failed"
    assert root.status.status_code is StatusCode.ERROR
    failed = [s for s in spans if attrs(s).get("steward.subtask.status") == "failed"]
    assert failed and all(s.status.status_code is StatusCode.ERROR for s in failed)


def test_the_callback_never_breaks_a_run(
    exporter: InMemorySpanExporter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = RunTracer(provider_for(exporter, batch=False), store=tmp_path / "runs.db")
    tracer(Event(kind="step", run_id="r1"))  # other events: nothing
    with caplog.at_level(logging.WARNING, logger="steward.telemetry"):
        tracer(Event(kind="run_finished", run_id="r1", data={"record": {"not": "a record"}}))
    assert exporter.get_finished_spans() == ()
    assert "run r1: no telemetry spans (ValidationError" in caplog.text
