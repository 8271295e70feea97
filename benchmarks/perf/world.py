"""The perf world: ``k`` trivial counter apps, one specialist each, and a steward run on them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.experience import NoExperience
from agents.registry import Registry, Specialist
from agents.settings import AgentSettings, ApprovalSettings
from apps.base import Tool
from apps.world import World
from memory.runs import RunStore
from modelclient.config import EndpointConfig, ModelsConfig, RoleOverride
from modelclient.pool import ModelPool
from orchestrator.runner import Orchestrator

_TOOLS = [
    Tool(
        name="touch",
        description="Add one to the counter.",
        parameters={"type": "object", "properties": {}, "additionalProperties": False},
    )
]


class CounterApp:
    """An app with one tool, ``touch``, that counts its calls."""

    description = "A counter. Touch it to add one."

    def __init__(self, name: str, state: dict[str, Any] | None = None) -> None:
        self.name = name
        self.count = int((state or {}).get("count", 0))

    @property
    def tools(self) -> list[Tool]:
        return _TOOLS

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        self.count += 1
        return {"count": self.count}

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count}

    def restore(self, state: dict[str, Any]) -> None:
        self.count = int(state.get("count", 0))


def app_names(k: int) -> list[str]:
    return [f"perf{i}" for i in range(k)]


def _factory(name: str) -> Callable[[dict[str, Any]], CounterApp]:
    def build(state: dict[str, Any]) -> CounterApp:
        return CounterApp(name, state)

    return build


def registry(k: int) -> Registry:
    """Specialists ``perf0`` .. ``perf{k-1}``, each on its own counter app."""
    return Registry(
        [
            Specialist(name=name, description=CounterApp.description, app_factory=_factory(name))
            for name in app_names(k)
        ]
    )


def pool(base_url: str, model: str, roles: dict[str, str] | None = None) -> ModelPool:
    """Models for the bench: JSON Schema mode (no probe), no retries, wide concurrency;
    ``roles`` maps a role (a task token) to another served model name (another latency)."""
    endpoint = EndpointConfig(
        base_url=base_url,
        model=model,
        structured="json_schema",
        max_concurrency=256,
        max_retries=0,
        timeout_s=60,
    )
    overrides = {role: RoleOverride(model=name) for role, name in (roles or {}).items()}
    return ModelPool(ModelsConfig(default=endpoint, roles=overrides), persist_probes=False)


def orchestrator(
    models: ModelPool, folder: Path, *, apps: int, max_nodes: int, store: RunStore | None = None
) -> Orchestrator:
    """A steward on ``apps`` counter apps, storing runs and checkpoints under ``folder``."""
    reg = registry(apps)
    world = World({name: reg.get(name).app_factory({}) for name in app_names(apps)})
    return Orchestrator(
        registry=reg,
        models=models.for_role,
        world=world,
        settings=AgentSettings(max_nodes=max(max_nodes, 12)),
        store=store or RunStore(folder / "runs.db"),
        checkpoints=folder / "checkpoints.db",
        experience=NoExperience(),
        approval=ApprovalSettings(policy="auto"),
    )


def instruction(shape: str, n: int) -> str:
    """The instruction that makes the stub plan ``n`` subtasks of a ``shape``."""
    return f"perf shape={shape} n={n}"


SLOW = 5.5
"""How much slower the long branch's app is served in the ``uneven`` shape: its action and
finish at 5.5 x the latency plus the verdict at 1 x make 12 x, four times a short subtask's 3 x."""


def slow_token() -> str:
    """The task token of the ``uneven`` shape's long subtask (``s3``: the third app)."""
    return registry(3).get(app_names(3)[2]).token
