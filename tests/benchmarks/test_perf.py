"""``steward bench perf`` with tiny sizes: it runs, reports every figure, and the stub's canned
answers are schema-valid. Smoke tests, not timed assertions (the figures are in the README)."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

from click.testing import CliRunner

from agents.plan import SchedulingGraph, plan_schema, validate_graph
from agents.records import VERDICT_SCHEMA
from agents.staff import action_schema
from agents.steward import ANSWER_SCHEMA
from benchmarks.perf.answers import Answers
from benchmarks.perf.measure import Bench
from benchmarks.perf.stub import PerfStub, latency_of, model_name
from benchmarks.perf.world import CounterApp
from cli.main import cli
from modelclient.structured import validate

TOKENS = [f"<app:perf{i}>" for i in range(3)]


def body(schema: dict[str, object] | None, *messages: str) -> dict[str, object]:
    out: dict[str, object] = {
        "messages": [
            {"role": "user" if i else "system", "content": m} for i, m in enumerate(messages)
        ]
    }
    if schema is not None:
        out["response_format"] = {"type": "json_schema", "json_schema": {"schema": schema}}
    return out


def test_canned_answers_are_schema_valid() -> None:
    answers = Answers()
    schema = plan_schema(TOKENS, max_nodes=8)
    for shape, needs in (
        ("fanout", [[], [], [], []]),
        ("chain", [[], ["s1"], ["s2"], ["s3"]]),
        ("uneven", [[], ["s1"], []]),
    ):
        purpose, text = answers.answer(body(schema, "plan", f"Instruction: perf shape={shape} n=4"))
        data = json.loads(text)
        assert purpose == "plan" and not validate(schema, data)
        graph = SchedulingGraph.model_validate(data)
        assert not validate_graph(graph, TOKENS, max_nodes=8)
        assert [n.needs for n in graph.nodes] == needs
    act = action_schema(CounterApp("perf0").tools)
    first = json.loads(answers.answer(body(act, "system", "Subtask: touch"))[1])
    assert first["tool"] == "touch" and not validate(act, first)
    seen = body(act, "system", "Subtask: touch", json.dumps(first), 'Observation: {"count": 1}')
    finish = json.loads(answers.answer(seen)[1])
    assert finish["tool"] == "finish" and not validate(act, finish)
    verdict = json.loads(answers.answer(body(VERDICT_SCHEMA, "s", "u"))[1])
    assert verdict["success"] is True and not validate(VERDICT_SCHEMA, verdict)
    assert answers.answer(body(None, "s", "u"))[0] == "answer"
    purpose, text = answers.answer(body(ANSWER_SCHEMA, "s", "u"))
    assert purpose == "answer" and not validate(ANSWER_SCHEMA, json.loads(text))


def test_latency_is_read_from_the_model_name() -> None:
    assert latency_of(model_name(50)) == 0.05 and latency_of("stub-model") == 0.0


def test_checkpoints_grow_linearly_with_the_steps(tmp_path: Path) -> None:
    async def sizes(stub: PerfStub) -> list[tuple[int, int]]:
        bench = Bench(stub, tmp_path)
        try:
            out = []
            for n in (4, 32):
                sample = await bench.steward("chain", n, 0.0, apps=4)
                assert sample.status == "succeeded" and sample.calls == 3 * n + 2
                out.append((n, sample.checkpoint_bytes))
            return out
        finally:
            await bench.aclose()

    with PerfStub() as stub:
        (n1, b1), (n2, b2) = asyncio.run(sizes(stub))
    exponent = math.log(b2 / b1) / math.log(n2 / n1)
    assert exponent < 1.3, (n1, b1, n2, b2)  # quadratic growth would give about 2


def test_bench_perf_quick_json() -> None:
    result = CliRunner().invoke(cli, ["bench", "perf", "--quick", "--json", "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in (
        "overhead_ms_per_call",
        "overhead_share_at_50ms",
        "overhead_ratio_vs_langgraph",
        "cpu_ms_per_call",
        "parallel_ratio",
        "scale",
        "scale_slope_ms_per_subtask",
        "checkpoint_growth_exponent",
        "throughput",
        "wide_fanout",
        "goals",
    ):
        assert key in report
    assert set(report["overhead_ms_per_call"]) == {"0ms", "5ms"}
    assert set(report["parallel_ratio"]) == {"fanout", "chain", "uneven"}
    assert set(report["bare_parallel_ratio"]) == {"fanout", "chain", "uneven"}
    assert "uneven_ratio_at_most_1.10" in report["goals"]
    assert report["overhead_ratio_vs_langgraph"] > 0
    assert [row["subtasks"] for row in report["scale"]] == [1, 2, 4]
    assert [row["calls"] for row in report["scale"]] == [5, 8, 14]
    assert all(row["checkpoint_bytes"] > 0 for row in report["scale"])
    assert [row["concurrency"] for row in report["throughput"]] == [1, 2]
    assert all(row["tasks_per_minute"] > 0 for row in report["throughput"])
