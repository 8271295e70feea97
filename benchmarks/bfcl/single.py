"""The single-agent baseline: one ReAct agent with every tool of the task's apps.

It is a ``StaffAgent`` (the same action schema, argument validation and loop detection as the
steward's staff) on ``CombinedApp``, an app whose tools are the union of the task's apps'
tools. There is no plan, no evaluation, no retry and no memory: one attempt per turn.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from agents.records import RunRecord, SubtaskRecord
from agents.registry import Specialist, token_for
from agents.settings import AgentSettings
from agents.staff import StaffAgent
from apps import App, Tool, World
from benchmarks.bfcl.models import TaskModels
from benchmarks.bfcl.purposes import count_calls
from benchmarks.bfcl.results import Totals
from benchmarks.bfcl.turn import TurnRun
from benchmarks.bfcl.world import CallLog
from core.errors import ToolError
from core.usage import Usage

SINGLE = "all"
SINGLE_TOKEN = token_for(SINGLE)
"""The role the single agent's model plays."""


class CombinedApp:
    """Every tool of several apps behind one ``App`` (tool names are unique across BFCL apps)."""

    def __init__(self, apps: dict[str, App]) -> None:
        self.apps = dict(apps)
        self.name = SINGLE
        self.description = "All apps of the task: " + "; ".join(
            f"{name}: {app.description}" for name, app in self.apps.items()
        )

    @property
    def tools(self) -> list[Tool]:
        return [t for app in self.apps.values() for t in app.tools]

    def owner(self, tool: str) -> str | None:
        """The app that has ``tool`` (visible now), or ``None``."""
        for name, app in self.apps.items():
            if any(t.name == tool for t in app.tools):
                return name
        return None

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        name = self.owner(tool)
        if name is None:
            raise ToolError(
                f"unknown tool {tool!r}; available: {', '.join(t.name for t in self.tools)}"
            )
        return self.apps[name].call(tool, args)

    def snapshot(self) -> dict[str, Any]:
        return {name: app.snapshot() for name, app in self.apps.items()}

    def restore(self, state: dict[str, Any]) -> None:
        for name, app_state in state.items():
            self.apps[name].restore(app_state)


class _Noted(Protocol):
    @property
    def notes(self) -> str: ...


class SingleWorld(Protocol):
    """What the single agent needs of a task's world (a BFCL ``TaskWorld``, or another
    benchmark's): the apps, their notes, and the log of the calls that ran."""

    @property
    def world(self) -> World: ...

    @property
    def apps(self) -> Mapping[str, _Noted]: ...

    @property
    def log(self) -> CallLog: ...


def _notes(world: SingleWorld) -> str:
    lines = []
    for name, app in world.apps.items():
        lines += [f"({name}) {line.removeprefix('- ')}" for line in app.notes.splitlines()]
    return "\n".join(f"- {line}" for line in lines)


async def run_single_turn(
    world: SingleWorld,
    models: TaskModels,
    instruction: str,
    settings: AgentSettings,
    *,
    max_steps: int,
    run_id: str,
) -> TurnRun:
    """One attempt of the single agent at ``instruction``."""
    combined = CombinedApp(dict(world.world.items()))
    spec = Specialist(
        name=SINGLE,
        description=combined.description,
        app_factory=lambda state: combined,
        notes=_notes(world),
        source="python",
    )
    agent = StaffAgent(
        spec,
        combined,
        models.model_for(SINGLE_TOKEN),
        settings.model_copy(update={"max_steps": max_steps}),
    )
    mark = world.log.mark()
    started = time.time()
    attempt = await agent.attempt(instruction)
    usage = Usage.total(c.usage for c in attempt.calls)
    used = sorted({c.app for c in world.log.since(mark)})
    totals = Totals(
        model_calls=usage.calls,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        actions=sum(1 for s in attempt.steps if s.action.tool != "finish"),
        wall_s=round(time.time() - started, 3),
    )
    ok = attempt.status == "finished"
    status = "succeeded" if ok else "failed"
    record = RunRecord(
        run_id=run_id,
        instruction=instruction,
        status="succeeded" if ok else "failed",
        subtasks=[
            SubtaskRecord(
                id="single",
                task_token=SINGLE_TOKEN,
                instruction=instruction,
                status="succeeded" if ok else "failed",
                attempts=1,
                result=attempt.result,
                history=[attempt],
                started_at=attempt.started_at,
                ended_at=attempt.ended_at,
                usage=usage,
            )
        ],
        usage=usage,
        started_at=started,
        ended_at=time.time(),
        settings={"agent": "single"},
    )
    return TurnRun(
        run_id=run_id,
        status=status,
        error=None if status == "succeeded" else attempt.status,
        apps_planned=used,
        totals=totals,
        record=record,
        by_purpose=count_calls(attempt.calls),
    )
