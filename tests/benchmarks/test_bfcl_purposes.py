"""Where the model calls go: counts by purpose, re-asks, retries and plan fallbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.records import Attempt, RunRecord, SubtaskRecord, Verdict
from agents.steward import ModelFor
from benchmarks.bfcl import BenchConfig, OracleSource, run_benchmark
from benchmarks.bfcl.purposes import PURPOSES, CallCounts, CallMeans, count_record
from benchmarks.bfcl.report import read_results
from core.usage import CallRecord, Usage
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel


def call(purpose: str, requests: int = 1) -> CallRecord:
    return CallRecord(purpose=purpose, usage=Usage(calls=requests))


def test_a_run_record_is_counted_by_purpose() -> None:
    judged = Verdict(success=False, call=call("evaluate", 2))
    sub = SubtaskRecord(
        id="s1",
        task_token="<app:notes>",
        instruction="add a note",
        history=[
            Attempt(number=1, calls=[call("act"), call("act", 3)], verdict=judged),
            Attempt(number=2, calls=[call("act")], verdict=Verdict(success=True)),
        ],
    )
    record = RunRecord(
        run_id="r",
        instruction="add a note",
        subtasks=[sub, SubtaskRecord(id="s2", task_token="<app:mail>", instruction="mail")],
        steward_calls=[
            *(call("plan", 2), call("plan"), call("replan"), call("answer")),
            *(call("summarize"), call("classify")),
        ],
        fallbacks=["template:12", "apps", "template:3"],
    )
    counts = count_record(record)
    assert (counts.plan, counts.replan, counts.act, counts.evaluate) == (2, 1, 3, 1)
    assert (counts.answer, counts.summarize, counts.other) == (1, 1, 1)
    assert counts.reasks == 1 + 2 + 1  # plan 2 requests, act 3, evaluate 2
    assert counts.retries == 1 and counts.fallbacks == {"apps": 1, "template": 2}
    assert counts.calls == 10 and counts.requests == 14
    assert count_record(RunRecord(run_id="e", instruction="x")) == CallCounts()


def test_counts_add_up_and_average() -> None:
    one = CallCounts(plan=1, act=4, reasks=1, fallbacks={"apps": 1})
    two = CallCounts(plan=2, act=2, retries=1, fallbacks={"template": 1, "apps": 1})
    total = CallCounts.total([one, two])
    assert total == CallCounts(
        plan=3, act=6, reasks=1, retries=1, fallbacks={"apps": 2, "template": 1}
    )
    means = CallMeans.of(total, 4)
    assert (means.plan, means.act, means.fallbacks) == (0.75, 1.5, {"apps": 0.5, "template": 0.25})
    assert CallMeans.of(total, 0) == CallMeans(fallbacks={"apps": 0.0, "template": 0.0})
    assert set(PURPOSES) | {"other"} <= set(CallCounts.model_fields)


class TeachingOracle(OracleSource):
    """The oracle with a summarizer model: learning from a passed task costs summary calls."""

    def summarizer(self) -> ModelFor | None:
        def summary(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
            return {"guideline": "replayed the ground truth", "tips": []}

        model = FunctionModel(summary, name="oracle")
        return lambda role: model


async def test_summary_calls_of_learning_are_counted_with_the_task(tmp_path: Path) -> None:
    cfg = BenchConfig(category="multi_turn_base", out=tmp_path, limit=2)
    summary = await run_benchmark(cfg, TeachingOracle())
    results = read_results(tmp_path / f"{cfg.key('oracle')}.jsonl")
    for result in results.values():
        counts = result.calls_by_purpose
        succeeded = sum(1 for t in result.turns if t.status == "succeeded")
        assert counts.summarize == succeeded > 0
        assert counts.requests == result.totals.model_calls  # learning's calls are in the totals
        assert sum(t.calls_by_purpose.requests for t in result.turns) + succeeded == (
            counts.requests
        )
    assert summary.calls_by_purpose.summarize == sum(
        r.calls_by_purpose.summarize for r in results.values()
    )


async def test_the_single_agent_only_acts(tmp_path: Path) -> None:
    cfg = BenchConfig(category="multi_turn_base", out=tmp_path, limit=2, agent="single")
    summary = await run_benchmark(cfg, OracleSource())
    counts = summary.calls_by_purpose
    assert counts.act == counts.requests == summary.totals.model_calls > 0
    assert counts.plan == counts.evaluate == counts.answer == 0
