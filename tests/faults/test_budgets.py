"""Budgets: per run tokens, model calls and a wall-clock deadline; per subtask the step cap and
the retry cap. Running out stops the run cleanly: partial result, reason and usage recorded,
an exit code that is not success's (3 for a budget, 1 for a failed run)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from modelclient.stub import StubServer
from tests.faults.conftest import BFCL_CALLS, invoke, last_run, scenario_file, write_config
from tests.faults.router import Router


@pytest.fixture
def args(tmp_path: Path, stub: StubServer) -> list[str]:
    """``steward run`` options for the stub and a two-app BFCL scenario (its sent messages and
    tweets run without asking: these tests are about budgets)."""
    config = write_config(tmp_path / "models.toml", stub.url)
    scenario = scenario_file(tmp_path / "scenario.json")
    return ["--scenario", str(scenario), "--config", str(config), "--no-memory", "-q",
            "--approve=auto"]  # fmt: skip


def served(stub: StubServer) -> int:
    return len(stub.requests)


def attempts(record: dict[str, Any]) -> int:
    """HTTP requests the record accounts for (transport retries and re-asks included)."""
    calls = list(record["steward_calls"])
    for sub in record["subtasks"]:
        for attempt in sub["history"]:
            calls += attempt["calls"]
            if attempt.get("verdict") and attempt["verdict"].get("call"):
                calls.append(attempt["verdict"]["call"])
    return sum(c["attempts"] for c in calls)


def test_call_budget_stops_with_the_partial_result(stub: StubServer, args: list[str]) -> None:
    Router(calls=BFCL_CALLS).install(stub)
    result = invoke("run", "shape=chain n=2", *args, "--call-budget", "4")
    assert result.exit_code == 3
    assert "model-call budget of 4 spent" in result.output and "steward show" in result.output
    record = last_run(status="budget_exceeded")
    assert "model-call budget of 4" in record["error"]
    assert record["usage"]["calls"] == 4 and attempts(record) == served(stub)
    statuses = {s["id"]: s["status"] for s in record["subtasks"]}
    assert statuses["s1"] == "succeeded" and statuses["s2"] != "succeeded"
    assert "Finished so far: s1: done" in record["answer"]
    assert record["usage_by_agent"]["steward"]["calls"] == 2  # the plan and s1's verdict


def test_token_budget(stub: StubServer, args: list[str]) -> None:
    Router(calls=BFCL_CALLS).install(stub)
    result = invoke("run", "shape=chain n=2", *args, "--token-budget", "50")
    assert result.exit_code == 3
    record = last_run(status="budget_exceeded")
    assert "token budget of 50 spent" in record["error"]
    assert record["usage"]["total_tokens"] >= 50 and record["usage"]["calls"] == 1
    assert attempts(record) == served(stub)
    assert record["answer"].startswith("Stopped before any subtask finished")


def test_deadline_stops_even_a_hanging_call(stub: StubServer, args: list[str]) -> None:
    Router(calls=BFCL_CALLS).install(stub)
    stub.fail("hang")  # the plan request never gets an answer
    start = time.monotonic()
    result = invoke("run", "shape=chain n=2", *args, "--deadline", "0.5")
    assert time.monotonic() - start < 3  # not the stub's 5 s hang, nor the 2 s timeout
    assert result.exit_code == 3
    record = last_run(status="budget_exceeded")
    assert "deadline of 0.5 s passed" in record["error"]


def test_deadline_between_calls(stub: StubServer, args: list[str]) -> None:
    Router(calls=BFCL_CALLS).install(stub)
    stub.latency_s = 0.2
    result = invoke("run", "shape=chain n=2", *args, "--deadline", "1")
    assert result.exit_code == 3
    record = last_run(status="budget_exceeded")
    assert "deadline of 1 s passed" in record["error"]
    assert record["usage"]["calls"] <= served(stub) <= 6
    assert record["wall_s"] < 2.5


def test_step_cap_fails_the_subtask(stub: StubServer, args: list[str]) -> None:
    Router(calls=BFCL_CALLS, finish=False).install(stub)
    result = invoke(
        "run", "shape=chain n=1", *args, "--max-steps", "2", "--max-retries", "0",
        "--max-replans", "0",
    )  # fmt: skip
    assert result.exit_code == 1
    record = last_run(status="failed")
    (attempt,) = record["subtasks"][0]["history"]
    assert attempt["status"] == "step_cap" and len(attempt["steps"]) == 2
    assert attempt["verdict"]["failure_kind"] == "step_cap"
    assert attempts(record) == served(stub)


def test_retry_cap_bounds_the_attempts(stub: StubServer, args: list[str]) -> None:
    router = Router(calls=BFCL_CALLS, verdict=False).install(stub)
    result = invoke("run", "shape=chain n=1", *args, "--max-retries", "2", "--max-replans", "0")
    assert result.exit_code == 1
    record = last_run(status="failed")
    sub = record["subtasks"][0]
    assert sub["status"] == "failed" and sub["attempts"] == 3 == len(sub["history"])
    assert router.count("evaluate") == 3
    assert attempts(record) == served(stub)
