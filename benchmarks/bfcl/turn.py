"""One run of the steward on a task's world: a user turn, or a whole compound task."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents.budget import BudgetLimits
from agents.experience import Experience
from agents.fallback import PlanTemplate
from agents.memory_experience import MemoryExperience
from agents.records import RunRecord
from agents.registry import Registry, builtin_specialists
from agents.settings import AgentSettings, ApprovalSettings
from apps.world import World
from benchmarks.bfcl.instructions import current_request
from benchmarks.bfcl.models import TaskModels
from benchmarks.bfcl.purposes import CallCounts, count_record
from benchmarks.bfcl.results import Totals
from core.errors import RunError, ServerError
from core.usage import CallRecord
from memory.runs import RunStore
from orchestrator.runner import Orchestrator

log = logging.getLogger("steward.benchmarks")


class HasWorld(Protocol):
    """What a steward run needs of a task's world (a BFCL ``TaskWorld``, or another
    benchmark's): the apps it acts on."""

    @property
    def world(self) -> World: ...


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
    retrieved: int = 0
    """Memory entries put into this run's prompts (guidelines and expertise)."""
    template_apps: list[str] | None = None
    """Apps recruited by the best guideline memory offered as a template (``None``: none)."""
    by_purpose: CallCounts = field(default_factory=CallCounts)
    """The run's model calls by purpose."""


class RequestExperience:
    """Memory keyed on a turn's current request, not on the earlier turns repeated as context:
    guidelines are looked up and written for what the user asks now."""

    def __init__(self, inner: MemoryExperience) -> None:
        self.inner = inner

    def guidelines_for(self, instruction: str) -> tuple[str, list[dict[str, Any]]]:
        return self.inner.guidelines_for(current_request(instruction))

    def expertise_for(self, task_token: str, subtask: str) -> tuple[str, list[dict[str, Any]]]:
        return self.inner.expertise_for(task_token, subtask)

    def templates_for(self, instruction: str) -> list[PlanTemplate]:
        """Verified plans for the current request (the steward's plan fallback)."""
        return self.inner.templates_for(current_request(instruction))

    async def learn(self, record: RunRecord, *, verified: bool = False) -> list[CallRecord]:
        request = current_request(record.instruction)
        return await self.inner.learn(
            record.model_copy(update={"instruction": request}), verified=verified
        )


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


def turn_orchestrator(ctx: StewardContext, world: HasWorld, models: TaskModels) -> Orchestrator:
    """A fresh orchestrator (and so a fresh budget) for one run on the task's world."""
    return Orchestrator(
        registry=ctx.registry,
        models=models.model_for,
        world=world.world,
        settings=ctx.settings,
        limits=ctx.limits,
        store=ctx.store,
        checkpoints=ctx.checkpoints,
        experience=ctx.experience,
        run_settings=ctx.run_settings,
        approval=ApprovalSettings(policy="auto"),  # a benchmark's sensitive calls all run
    )


async def run_steward_turn(
    ctx: StewardContext, world: HasWorld, models: TaskModels, instruction: str, run_id: str
) -> TurnRun:
    """Plan and carry out ``instruction`` on the task's world; a failed run is a result."""
    orchestrator = turn_orchestrator(ctx, world, models)
    started = time.time()
    error: str | None = None
    try:
        record = await orchestrator.run(instruction, run_id=run_id)
    except ServerError:
        raise  # the server keeps failing: stop the benchmark (it resumes) rather than score it
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
        retrieved=retrieved_count(record),
        template_apps=template_apps(record, ctx.registry),
        by_purpose=count_record(record),
    )


def template_apps(record: RunRecord, registry: Registry) -> list[str] | None:
    """Apps of the best guideline retrieved for the plan; ``None`` when none was found."""
    for found in record.retrieved.get("guidelines") or []:
        offered = found.get("task_tokens") if isinstance(found, dict) else None
        if offered:  # the best entry comes first
            return sorted({registry.get(t).name if t in registry else t for t in offered[0]})
    return None


def retrieved_count(record: RunRecord) -> int:
    """Memory entries that went into a run's prompts (the plan's guidelines, each subtask's
    expertise), read from the record's ``retrieved`` log."""
    lookups: list[Any] = list(record.retrieved.get("guidelines") or [])
    for found in (record.retrieved.get("expertise") or {}).values():
        lookups.extend(found)
    return sum(len(item.get("ids") or []) for item in lookups if isinstance(item, dict))
