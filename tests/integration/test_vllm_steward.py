"""The steward's whole path against the real embedded vLLM server (``pytest --run-vllm``).

These assert what a weak model cannot break: plans decode under the enum of registered tokens
and validate (after repair where needed), staff actions validate against the tool's schema,
usage is recorded, and a full run terminates with a run record.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from agents import AgentSettings, StaffAgent, StewardAgent, default_registry, validate_graph
from apps import make_bfcl_app
from cli.main import cli
from local.server import embedded_base_url
from modelclient import EndpointConfig, ModelPool, ModelsConfig

pytestmark = pytest.mark.vllm

MODEL = os.environ.get("STEWARD_VLLM_MODEL", "smollm2-135m-instruct")


def _url() -> str:
    return os.environ.get("STEWARD_VLLM_URL") or embedded_base_url()


@pytest.fixture
async def pool() -> AsyncIterator[ModelPool]:
    cfg = ModelsConfig(default=EndpointConfig(base_url=_url(), model=MODEL, max_tokens=256))
    async with ModelPool(cfg) as p:
        yield p


async def test_plan_uses_only_registered_tokens_and_validates(pool: ModelPool) -> None:
    registry = default_registry()
    agents = {s.token: s.description for s in registry}
    steward = StewardAgent(pool.for_role, agents, AgentSettings(max_nodes=4))
    result = await steward.plan("Send 'hello' to Alice on messaging, then tweet that you did")
    assert result.graph.nodes
    assert all(n.task_token in registry.tokens for n in result.graph.nodes)
    assert validate_graph(result.graph, registry.tokens, max_nodes=4) == []
    assert all(c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0 for c in result.calls)


async def test_staff_action_validates_against_the_tool_schema(pool: ModelPool) -> None:
    spec = default_registry().get("vehicle")
    app = make_bfcl_app("vehicle", {})
    staff = StaffAgent(spec, app, pool.for_role(spec.token), AgentSettings(max_steps=2))
    attempt = await staff.attempt("Lock all the doors of the car")
    assert attempt.calls and attempt.calls[0].usage.completion_tokens > 0
    tools = {t.name: t for t in app.tools}
    for step in attempt.steps:
        if step.action.tool == "finish":
            continue
        assert step.action.tool in tools
        if step.error is None:  # a call the app ran had arguments valid under its schema
            errors = list(
                Draft202012Validator(tools[step.action.tool].parameters).iter_errors(
                    step.action.arguments
                )
            )
            assert errors == []


def test_full_run_of_the_demo_scenario_terminates_with_a_record() -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "run",
            "--base-url",
            _url(),
            "--model",
            MODEL,
            "--json",
            "-q",
            "--no-memory",
            "--max-steps",
            "2",
            "--max-retries",
            "0",
            "--max-replans",
            "0",
            "--approve=auto",  # the demo job runs to its end: no one to ask
        ],
        catch_exceptions=False,
    )
    assert result.exit_code in (0, 1), result.output
    printed = json.loads(result.stdout)  # the record, whatever the exit code
    runs = json.loads(runner.invoke(cli, ["runs", "--json"]).stdout)["runs"]
    assert len(runs) == 1 and runs[0]["run_id"] == printed["run_id"]
    record = json.loads(runner.invoke(cli, ["show", runs[0]["run_id"], "--json"]).stdout)
    assert record["status"] == printed["status"]
    assert record["status"] in ("succeeded", "failed", "error")
    assert (record["status"] == "succeeded") == (result.exit_code == 0)
    assert record["usage"]["prompt_tokens"] > 0
    tokens = set(default_registry().tokens)
    for node in (record["graph"] or {"nodes": []})["nodes"]:
        assert node["task_token"] in tokens


def test_a_run_stopped_by_its_budget_prints_its_record_under_json() -> None:
    """Two model calls: the plan and one more. The run stops (exit 3; or 1 if the weak model's
    plan never validates) and ``--json`` still prints the record, with the status and why."""
    result = CliRunner().invoke(
        cli,
        ["run", "Send 'hi' to Alice", "--base-url", _url(), "--model", MODEL, "--json", "-q",
         "--no-memory", "--call-budget", "2", "--approve=auto"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code in (1, 3), result.output
    record = json.loads(result.stdout)
    assert record["status"] == {3: "budget_exceeded", 1: "error"}[result.exit_code]
    assert record["error"] and record["run_id"] in result.stderr
    assert record["usage"]["calls"] >= 2 and record["steward_calls"][0]["purpose"] == "plan"
