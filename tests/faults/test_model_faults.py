"""The model server misbehaves (a real HTTP stub on 127.0.0.1): down, dying mid-run, 5xx, 429,
hanging, truncated or invalid JSON, no choices. Retries are bounded, the run ends in a clear
error or recovers, the run record says what happened, and nothing finished is lost."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.errors import ServerError, ServerUnreachableError
from modelclient import ChatMessage, OpenAIModel, PromptTooLongError
from modelclient.stub import Failure, StubServer, free_port
from orchestrator.events import Event
from tests.faults.conftest import MakeOrchestrator, endpoint
from tests.faults.router import Router

ONE = "shape=chain n=1"  # one subtask, on <app:mail>
TWO = "shape=chain n=2"  # s1 on <app:mail>, then s2 on <app:notes>


def plan_call(saved: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in saved["steward_calls"] if c["purpose"] == "plan")


async def test_server_down_at_start(make_orchestrator: MakeOrchestrator) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    orch = make_orchestrator(url)
    with pytest.raises(ServerUnreachableError) as info:
        await orch.run_and_close(ONE)
    assert info.value.run_id and url in str(info.value) and "steward serve" in str(info.value)
    saved = orch.store.load_run(info.value.run_id)
    assert saved["status"] == "error" and url in saved["error"]
    call = plan_call(saved)
    assert call["attempts"] == 3 and "unreachable" in call["error"]  # 1 + max_retries


async def test_server_dies_mid_run_then_resume_finishes_without_repeating(
    stub: StubServer, make_orchestrator: MakeOrchestrator
) -> None:
    Router().install(stub)
    orch = make_orchestrator(stub.url)

    def on_event(event: Event) -> None:
        if event.kind == "subtask_done" and event.subtask_id == "s1":
            # the server goes away as s2 is about to start: it stops listening and drops the
            # requests still arriving on open keep-alive connections
            stub.fail("disconnect", times=1000)
            stub.stop()

    orch.on_event = on_event
    with pytest.raises(ServerUnreachableError) as info:
        await orch.run_and_close(TWO)
    run_id = info.value.run_id
    assert run_id is not None
    saved = orch.store.load_run(run_id)
    assert saved["status"] == "error" and "unreachable" in saved["error"]
    assert {s["id"]: s["status"] for s in saved["subtasks"]} == {"s1": "succeeded", "s2": "running"}
    s2 = next(s for s in saved["subtasks"] if s["id"] == "s2")
    assert "unreachable" in s2["history"][0]["calls"][0]["error"]  # the failed call is kept

    with StubServer(model="stub-model") as again:
        router = Router().install(again)
        orch2 = make_orchestrator(again.url)
        record = await orch2.resume_and_close(run_id)
    assert record.status == "succeeded"
    assert router.count(subtask="step 1") == 0  # s1 finished before the crash: not repeated
    assert router.count("act", "step 2") == 2
    assert orch2.world.get("mail").outbox == [{"to": "example", "body": "example"}]  # type: ignore[attr-defined]
    assert orch2.world.get("notes").notes == {"N1": "example"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["500", "429", "empty_choices", "disconnect"])
async def test_transient_failures_are_retried(
    stub: StubServer, make_orchestrator: MakeOrchestrator, kind: Failure
) -> None:
    Router().install(stub)
    stub.fail(kind, times=2)  # the plan's first two requests
    orch = make_orchestrator(stub.url)
    record = await orch.run_and_close(ONE)
    assert record.status == "succeeded"
    assert record.steward_calls[0].purpose == "plan" and record.steward_calls[0].attempts == 3


async def test_hang_past_the_timeout_is_retried(
    stub: StubServer, make_orchestrator: MakeOrchestrator
) -> None:
    Router().install(stub)
    stub.fail("hang")
    orch = make_orchestrator(stub.url, timeout_s=0.3)
    start = time.monotonic()
    record = await orch.run_and_close(ONE)
    assert record.status == "succeeded"
    plan = record.steward_calls[0]
    assert plan.attempts == 2 and plan.usage.latency_s >= 0.3
    assert time.monotonic() - start < 4  # not the stub's 5 s hang


async def test_persistent_5xx_ends_in_a_clear_error_after_bounded_retries(
    stub: StubServer, make_orchestrator: MakeOrchestrator
) -> None:
    stub.fail("500", times=100)
    orch = make_orchestrator(stub.url, backoff_s=0.1)
    start = time.monotonic()
    # a dead server is not bad output: no retry or re-plan is spent on it (and a 5xx from the
    # staff's first action on stops the run the same way: tests/faults/test_server_errors.py)
    with pytest.raises(ServerError, match=r"kept failing after 3 tries \(HTTP 500") as info:
        await orch.run_and_close(ONE)
    assert time.monotonic() - start >= 0.5 * (0.1 + 0.2)  # backoff 0.1 s, doubled, +-50%
    assert len(stub.requests) == 3
    assert info.value.run_id is not None
    saved = orch.store.load_run(info.value.run_id)
    assert saved["status"] == "error" and "HTTP 500" in saved["error"]
    assert plan_call(saved)["attempts"] == 3


@pytest.mark.parametrize("kind", ["truncated", "bad_json"])
async def test_invalid_json_is_asked_again(
    stub: StubServer, make_orchestrator: MakeOrchestrator, kind: Failure
) -> None:
    Router().install(stub)
    stub.fail(kind)
    orch = make_orchestrator(stub.url)
    record = await orch.run_and_close(ONE)
    assert record.status == "succeeded"
    plan = record.steward_calls[0]
    assert plan.usage.calls == 2 and plan.prompt is not None
    assert "rejected" in plan.prompt[-1]["content"]
    if kind == "truncated":
        assert "cut off" in plan.prompt[-1]["content"]


async def test_staff_output_that_never_validates_is_kept_and_retried(
    stub: StubServer, make_orchestrator: MakeOrchestrator
) -> None:
    def after_plan(purpose: str, body: dict[str, Any]) -> None:
        if purpose == "plan":
            stub.fail("bad_json", times=3)  # the first action and its two re-asks

    Router(hook=after_plan).install(stub)
    orch = make_orchestrator(stub.url)
    record = await orch.run_and_close(ONE)
    assert record.status == "succeeded"
    first, second = record.subtasks[0].history
    assert first.status == "model_error" and second.status == "finished"
    failed = first.calls[0]
    assert failed.error and "no valid" in failed.error and failed.usage.calls == 3
    assert record.usage.calls == sum(
        c.usage.calls
        for c in [*record.steward_calls, *(c for a in (first, second) for c in a.calls)]
    ) + sum(a.verdict.call.usage.calls for a in (first, second) if a.verdict and a.verdict.call)


class ContextLimitStub(StubServer):
    """Answers the next ``too_long`` requests like vLLM does a prompt over its context."""

    too_long = 0

    def _respond(self, body: dict[str, Any], failure: Failure | None) -> Any:
        if self.too_long:
            self.too_long -= 1
            message = (
                "This model's maximum context length is 2048 tokens. However, you requested "
                "2399 tokens (2015 in the messages, 384 in the completion)."
            )
            return 400, {"error": {"message": message, "type": "BadRequestError", "code": 400}}
        return super()._respond(body, failure)


async def test_prompt_over_the_context_window_is_not_a_structured_mode_refusal() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    hello = [ChatMessage(role="user", content="hi")]
    with ContextLimitStub(model="stub-model") as server:
        server.too_long = 1
        async with OpenAIModel(endpoint(server.url)) as model:
            with pytest.raises(PromptTooLongError, match="context window"):
                await model.complete(hello, schema=schema)
            assert len(server.requests) == 1  # no fallback to JSON mode or repair
            done = await model.complete(hello, schema=schema)
        assert done.record.mode == "json_schema" and done.data == {"a": "example"}
