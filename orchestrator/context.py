"""What the run graph's nodes share: the orchestrator's agents, world, stores and settings.

``Orchestrator`` (``orchestrator.runner``) sets these attributes; the node mixins
(``orchestrator.nodes``, ``orchestrator.work``) only read them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents.budget import Budget
from agents.experience import Experience
from agents.registry import Registry
from agents.settings import AgentSettings
from agents.steward import ModelFor, StewardAgent
from apps.world import World
from memory.journal import ActionJournal
from memory.runs import RunStore
from orchestrator.events import EventKind
from orchestrator.record import RunRecorder
from orchestrator.state import apply


class RunContext:
    """The attributes every node uses; set by ``Orchestrator``."""

    registry: Registry
    models: ModelFor
    world: World
    settings: AgentSettings
    store: RunStore
    experience: Experience | None
    budget: Budget
    steward: StewardAgent
    journal: ActionJournal
    """The run's action journal (every tool call, see ``memory.journal``)."""
    _run_id: str
    _started: float
    _retrieved: dict[str, Any]
    _state: dict[str, Any]
    """The run's state (``orchestrator.state.RunState``), in memory."""
    _ready: dict[str, asyncio.Future[str]]
    """Subtask id -> its final status, once its work has ended (what dependents wait for)."""

    @property
    def recorder(self) -> RunRecorder:
        raise NotImplementedError

    def _emit(
        self, kind: EventKind, subtask_id: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        raise NotImplementedError

    def _apply(self, update: dict[str, Any]) -> None:
        """Merge a step's update into the state and save what changed."""
        apply(self._state, update)
        self.recorder.step(self._state)
