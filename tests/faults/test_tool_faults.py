"""Apps misbehave: a tool raises, a tool returns something enormous. The run goes on, the model
sees the error or a truncated value, the record keeps everything."""

from __future__ import annotations

import json
from typing import Any

from agents.registry import Registry, Specialist
from agents.settings import AgentSettings
from apps.base import Tool
from apps.scenario import Scenario
from modelclient.stub import StubServer
from tests.faults.conftest import MakeOrchestrator
from tests.faults.router import Router, request_text

BLOB = 5_000_000


class FaultyApp:
    """``explode`` raises a bug (not a ToolError); ``dump`` returns a 5 MB value."""

    name = "faulty"
    description = "An app with bugs."
    tools = [
        Tool(name="explode", description="Raise.", parameters={"type": "object", "properties": {}}),
        Tool(name="dump", description="Dump.", parameters={"type": "object", "properties": {}}),
    ]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = dict(state or {})

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        if tool == "explode":
            raise RuntimeError("kaboom in the app")
        return {"blob": "x" * BLOB, "tail": "THE-END"}

    def snapshot(self) -> dict[str, Any]:
        return dict(self.state)

    def restore(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


def faulty() -> tuple[Registry, Scenario]:
    spec = Specialist(name="faulty", description=FaultyApp.description, app_factory=FaultyApp)
    return Registry([spec]), Scenario(name="faulty", apps={"faulty": {}})


async def test_an_app_that_raises_does_not_end_the_run(
    stub: StubServer, make_orchestrator: MakeOrchestrator
) -> None:
    router = Router(calls={"explode": {}}).install(stub)
    registry, scenario = faulty()
    orch = make_orchestrator(stub.url, registry=registry, scenario=scenario)
    record = await orch.run_and_close("shape=chain n=1")
    assert record.status == "succeeded"
    step = record.subtasks[0].history[0].steps[0]
    assert step.error == "RuntimeError: kaboom in the app"
    acts = [b for b in stub.requests if "Subtask: " in request_text(b)]
    assert any("Error: RuntimeError: kaboom in the app" in request_text(b) for b in acts)
    evaluation = next(b for b in stub.requests if "You check the work" in request_text(b))
    assert "1 tool error(s)" in request_text(evaluation)
    assert router.count("act") == 2


async def test_an_enormous_result_is_cut_in_prompts_and_kept_whole_in_the_record(
    stub: StubServer, make_orchestrator: MakeOrchestrator
) -> None:
    Router(calls={"dump": {}}).install(stub)
    registry, scenario = faulty()
    settings = AgentSettings(prompt_chars=6000, observation_chars=600)
    orch = make_orchestrator(stub.url, registry=registry, scenario=scenario, settings=settings)
    record = await orch.run_and_close("shape=chain n=1")
    assert record.status == "succeeded"
    for body in stub.requests:  # every prompt stayed small
        assert len(request_text(body)) < 8000
    seen = [b for b in stub.requests if "Observation:" in request_text(b)]
    assert seen and all("more characters]" in request_text(b) for b in seen)
    step = record.subtasks[0].history[0].steps[0]
    assert len(step.observation["blob"]) == BLOB and step.observation["tail"] == "THE-END"
    saved = orch.store.load_run(record.run_id)
    stored = saved["subtasks"][0]["history"][0]["steps"][0]["observation"]
    assert len(stored["blob"]) == BLOB
    assert len(json.dumps(saved["subtasks"][0]["result"])) < 5000
