"""Fixtures for the fault tests: a real stub server on 127.0.0.1, fast retry settings, and
orchestrators or CLI runs pointed at the stub."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agents.budget import BudgetLimits
from agents.experience import NoExperience
from agents.registry import Registry
from agents.settings import AgentSettings
from apps.scenario import Scenario
from apps.world import World
from cli.main import cli
from memory.runs import RunStore
from modelclient.config import EndpointConfig, ModelsConfig
from modelclient.pool import ModelPool
from modelclient.stub import StubServer
from orchestrator.runner import Orchestrator
from tests.orchestrator import helpers

FAST: dict[str, Any] = {
    "model": "stub-model",
    "structured": "json_schema",
    "max_retries": 2,
    "backoff_s": 0.01,
    "timeout_s": 2.0,
}
"""Endpoint settings that keep retries and timeouts to fractions of a second."""


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(model="stub-model", hang_s=5.0) as server:
        yield server


def endpoint(url: str, **overrides: Any) -> EndpointConfig:
    return EndpointConfig(base_url=url, **{**FAST, **overrides})


MakeOrchestrator = Callable[..., Orchestrator]


@pytest.fixture
def make_orchestrator(tmp_path: Path) -> MakeOrchestrator:
    """``make(url, registry=..., scenario=..., settings=..., limits=..., **endpoint)``."""

    def make(
        url: str,
        *,
        registry: Registry | None = None,
        scenario: Scenario | None = None,
        settings: AgentSettings | None = None,
        limits: BudgetLimits | None = None,
        **overrides: Any,
    ) -> Orchestrator:
        reg = registry or helpers.registry()
        scen = scenario or helpers.scenario()
        pool = ModelPool(ModelsConfig(default=endpoint(url, **overrides)), persist_probes=False)
        return Orchestrator(
            registry=reg,
            models=pool.for_role,
            world=World.build(scen, {s.name: s.app_factory for s in reg}),
            settings=settings or AgentSettings(),
            limits=limits,
            store=RunStore(tmp_path / "runs.db"),
            checkpoints=tmp_path / "checkpoints.db",
            experience=NoExperience(),
            run_settings={"scenario": scen.model_dump(mode="json")},
            resources=[pool],
        )

    return make


def write_config(path: Path, url: str, **overrides: Any) -> Path:
    """A models config (TOML) for the CLI: the stub, fast retries."""
    values = {**FAST, "base_url": url, **overrides}
    lines = ["[model]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def stdout_json(result: Result) -> dict[str, Any]:
    return dict(json.loads(result.stdout[result.stdout.index("{") :]))


def scenario_file(path: Path, apps: tuple[str, ...] = ("messaging", "posting")) -> Path:
    """A scenario of some of the demo's BFCL apps, in their demo state."""
    from apps.scenario import demo_scenario

    demo = demo_scenario()
    data = {"name": "faults", "apps": {name: demo.apps[name] for name in apps}}
    path.write_text(json.dumps(data))
    return path


BFCL_CALLS: dict[str, dict[str, Any]] = {
    "send_message": {"receiver_id": "USR002", "message": "hello from the fault tests"},
    "post_tweet": {"content": "hello from the fault tests"},
}
"""The tool each BFCL app's staff agent calls in these tests (both change the app's state)."""


def last_run(*, status: str | None = None) -> dict[str, Any]:
    """The newest run's record, read through ``steward runs`` and ``steward show``."""
    runs = json.loads(invoke("runs", "--json").stdout)["runs"]
    assert runs, "no run was recorded"
    record = stdout_json(invoke("show", runs[0]["run_id"], "--json"))
    if status is not None:
        assert record["status"] == status, record.get("error")
    return record
