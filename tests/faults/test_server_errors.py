"""The model server starts answering 503 mid-run: the run stops at once with status ``error``.

A dead server is not bad model output: no staff retry, no failed verdict, no re-plan is spent
on it. Only the transport's own retries of the one failing call reach the server, the error
names the HTTP status, and the work finished before it stays in the run record."""

from __future__ import annotations

from typing import Any

import pytest

from agents.settings import AgentSettings
from core.errors import ModelOutputError, ServerError
from modelclient.stub import StubServer
from tests.faults.conftest import FAST, MakeOrchestrator
from tests.faults.router import Router, observed, subtask_of

TWO = "shape=chain n=2"  # s1 on <app:mail>, then s2 on <app:notes>
TRIES = FAST["max_retries"] + 1


def dies_after(purpose: str, body: dict[str, Any], moment: str) -> bool:
    """Whether the server dies once this request is answered: after the plan, after s1's
    verdict (before s2's first action), or after s2's finishing action (before its verdict)."""
    subtask = subtask_of(body)
    if moment == "plan":
        return purpose == "plan"
    if moment == "s1 judged":
        return purpose == "evaluate" and "(step 1)" in subtask
    return purpose == "act" and "(step 2)" in subtask and observed(body)


@pytest.mark.parametrize("moment", ["plan", "s1 judged", "s2 finished"])
async def test_503_after_the_plan_stops_the_run_without_retries_or_replans(
    stub: StubServer, make_orchestrator: MakeOrchestrator, moment: str
) -> None:
    dead_from: list[int] = []

    def kill(purpose: str, body: dict[str, Any]) -> None:
        if dies_after(purpose, body, moment) and not dead_from:
            dead_from.append(len(stub.requests))  # every request after this one fails
            stub.fail("503", times=1000)

    router = Router(hook=kill).install(stub)
    settings = AgentSettings(max_retries=2, max_replans=2)
    orch = make_orchestrator(stub.url, settings=settings)
    with pytest.raises(ServerError) as info:
        await orch.run_and_close(TWO)
    error = info.value
    assert not isinstance(error, ModelOutputError)
    assert error.run_id is not None and "HTTP 503" in str(error) and error.status == 503
    assert len(stub.requests) - dead_from[0] == TRIES  # only the transport's own retries

    saved = orch.store.load_run(error.run_id)
    assert saved["status"] == "error" and "HTTP 503" in saved["error"]
    s1, s2 = saved["subtasks"]
    calls = saved["steward_calls"]
    assert calls[0]["purpose"] == "plan" and calls[0]["error"] is None  # the plan is kept
    assert router.count("evaluate", "step 2") == 0
    if moment == "plan":
        assert [c["purpose"] for c in calls] == ["plan"]  # no re-plan
        assert s1["status"] != "succeeded" and s2["status"] != "succeeded"
        (attempt,) = s1["history"]  # no second attempt
        failed = attempt["calls"][-1]
        assert not s2.get("history")
    else:
        assert s1["status"] == "succeeded" and s1["history"][0]["verdict"]["success"] is True
        assert s2["status"] != "succeeded"
        (attempt,) = s2["history"]  # no second attempt
        if moment == "s1 judged":
            assert [c["purpose"] for c in calls] == ["plan"]  # no re-plan
            assert router.count("act", "step 2") == 0
            failed = attempt["calls"][-1]
        else:
            assert [c["purpose"] for c in calls] == ["plan", "evaluate"]  # no re-plan
            assert router.count("act", "step 2") == 2  # the tool call and the finish
            failed = calls[-1]
    assert attempt["verdict"] is None  # no failed verdict made up for the dead server
    assert failed["attempts"] == TRIES and "HTTP 503" in failed["error"]  # the call is kept
