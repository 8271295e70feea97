"""A third-party specialist installed as a package is found through the entry point and used."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import AgentSettings, Registry, Specialist
from agents.registry import builtin_specialists
from apps.scenario import Scenario
from apps.world import World
from memory.runs import RunStore
from modelclient.base import ChatMessage
from modelclient.testing import FunctionModel
from orchestrator import Orchestrator
from tests.orchestrator.helpers import act, kind, last_user, verdict

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "weather_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))
    sys.modules.pop("steward_weather", None)


def test_entry_point_specialist_is_registered(installed: Path) -> None:
    registry = Registry(builtin_specialists())
    registry.load_entry_points()
    assert registry.errors == []
    spec = registry.get("<app:weather>")
    assert spec.source == "entry-point:weather"
    assert "<app:messaging>" in registry.tokens
    app = spec.app_factory({})
    assert sorted(t.name for t in app.tools) == ["add_alert", "forecast"]


async def test_plugin_specialist_runs_in_a_plan(installed: Path, tmp_path: Path) -> None:
    registry = Registry()
    registry.load_entry_points()
    plan = {
        "nodes": [
            {
                "id": "w",
                "task_token": "<app:weather>",
                "instruction": "Alert me if Oslo has snow",
                "needs": [],
            }
        ]
    }

    def steward(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        k = kind(schema)
        if k == "plan":
            assert schema is not None
            assert schema["properties"]["nodes"]["items"]["properties"]["task_token"]["enum"] == [
                "<app:weather>"
            ]
            return plan
        return verdict(True, key_info="alert 1") if k == "evaluate" else {"answer": "Alert set."}

    def staff(messages: list[ChatMessage], schema: dict[str, Any] | None) -> Any:
        assert schema is not None
        assert {v["properties"]["tool"]["const"] for v in schema["anyOf"]} == {
            "forecast",
            "add_alert",
            "finish",
        }
        last = last_user(messages)
        if "Observation" not in last:
            return act("forecast", city="Oslo")
        if "snow" in last:
            return act("add_alert", city="Oslo", text="snow")
        return act("finish", result="alert 1")

    models = {"steward": FunctionModel(steward), "<app:weather>": FunctionModel(staff)}
    world = World.build(
        Scenario(name="w", apps={"weather": {}}), {"weather": registry.get("weather").app_factory}
    )
    orch = Orchestrator(
        registry=registry,
        models=models.__getitem__,
        world=world,
        settings=AgentSettings(),
        store=RunStore(tmp_path / "r.db"),
        checkpoints=tmp_path / "c.db",
    )
    record = await orch.run("Alert me if Oslo has snow tomorrow")
    assert record.status == "succeeded"
    steps = [s.action.tool for s in record.subtasks[0].history[0].steps]
    assert steps == ["forecast", "add_alert", "finish"]
    assert world.get("weather").call("add_alert", {"city": "Rome", "text": "sun"}) == 2


def test_python_registration() -> None:
    registry = Registry()
    registry.register(Specialist(name="echo", description="Echo", app_factory=lambda s: None))  # type: ignore[arg-type,return-value]
    assert registry.tokens == ["<app:echo>"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Specialist(name="echo", description="Echo", app_factory=lambda s: None))  # type: ignore[arg-type,return-value]
