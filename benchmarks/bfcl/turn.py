"""One run of the steward on a task's world: a user turn, or a whole compound task."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.budget import Budget, BudgetLimits
from agents.experience import Experience
from agents.records import RunRecord
from agents.registry import Registry, builtin_specialists
from agents.settings import AgentSettings
from benchmarks.bfcl.models import TaskModels
from benchmarks.bfcl.results import Totals
from benchmarks.bfcl.world import TaskWorld
from core.errors import RunError
from memory.runs import RunStore
from orchestrator.runner import Orchestrator

log = logging.getLogger("steward.benchmarks")


@dataclass
class TurnRun:
    """What a turn's run produced, before scoring."""

    run_id: str
    status: str
    error: str | None = None
    apps_planned: list[str] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)
    record: RunRecord | None = None
    """The steward's run record (kept for learning after a verified pass)."""


@dataclass
class StewardContext:
    """What every steward run of a benchmark shares."""

    settings: AgentSettings
    store: RunStore
    checkpoints: Path
    experience: Experience
    limits: BudgetLimits = field(default_factory=BudgetLimits)
    registry: Registry = field(default_factory=lambda: Registry(builtin_specialists()))
    run_settings: dict[str, Any] = field(default_factory=dict)


class TaskOrchestrator(Orchestrator):
    """An orchestrator reused for every turn of one task.

    The run graph is compiled on the first run and copied with each run's checkpointer after
    that (langgraph's compile inspects every node's code: about 30 ms, more than a whole
    oracle turn). Each run starts with a fresh budget, as a new orchestrator would.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._graph: Any = None

    def _build(self, saver: Any) -> Any:
        if self._graph is None:
            self._graph = super()._build(saver)
            return self._graph
        return self._graph.copy({"checkpointer": saver})

    async def run(self, instruction: str, *, run_id: str | None = None) -> RunRecord:
        self.budget = Budget(self.limits)
        self.steward.budget = self.budget
        return await super().run(instruction, run_id=run_id)


def record_totals(record: RunRecord) -> Totals:
    """Model calls, tokens, actions, retries and re-plans of a run record."""
    actions = sum(
        1
        for sub in record.subtasks
        for attempt in sub.history
        for step in attempt.steps
        if step.action.tool != "finish"
    )
    retries = sum(max(0, len(sub.history) - 1) for sub in record.subtasks)
    return Totals(
        model_calls=record.usage.calls,
        prompt_tokens=record.usage.prompt_tokens,
        completion_tokens=record.usage.completion_tokens,
        actions=actions,
        retries=retries,
        replans=record.replans,
        wall_s=round(record.wall_s, 3),
    )


def planned_apps(record: RunRecord, registry: Registry) -> list[str]:
    """Apps named by the first plan of the run (Dynamic Recruitment's choice)."""
    graph = record.plans[0] if record.plans else record.graph
    if graph is None:
        return []
    return sorted({registry.get(n.task_token).name for n in graph.nodes})


def task_orchestrator(
    ctx: StewardContext, world: TaskWorld, models: TaskModels
) -> TaskOrchestrator:
    """The orchestrator of one task's runs, on its world and models."""
    return TaskOrchestrator(
        registry=ctx.registry,
        models=models.model_for,
        world=world.world,
        settings=ctx.settings,
        limits=ctx.limits,
        store=ctx.store,
        checkpoints=ctx.checkpoints,
        experience=ctx.experience,
        run_settings=ctx.run_settings,
    )


async def run_steward_turn(
    ctx: StewardContext, orchestrator: Orchestrator, instruction: str, run_id: str
) -> TurnRun:
    """Plan and carry out ``instruction`` on the task's world; a failed run is a result."""
    started = time.time()
    error: str | None = None
    try:
        record = await orchestrator.run(instruction, run_id=run_id)
    except RunError as exc:  # plan never valid, budget spent...: the turn failed, go on
        error = str(exc)
        record = RunRecord.model_validate(ctx.store.load_run(run_id))
        log.info("%s: %s", run_id, error)
    totals = record_totals(record)
    totals.wall_s = round(time.time() - started, 3)
    return TurnRun(
        run_id=run_id,
        status=record.status,
        error=error or record.error,
        apps_planned=planned_apps(record, ctx.registry),
        totals=totals,
        record=record,
    )
