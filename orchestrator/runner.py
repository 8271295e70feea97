"""The orchestrator: runs an instruction on langgraph (``orchestrator.flow``), keeps its record.

One langgraph entrypoint per run: plan -> every subtask started the moment its inputs are ready
-> re-plan what failed -> finish. Each step is a langgraph task checkpointed with the SQLite
saver as it returns; ``resume`` continues a killed run, skipping every step that finished,
with the apps restored from the snapshots of the subtasks that finished on them. A run that
stopped for approvals (``orchestrator.approval``) is continued the same way, after the
decisions are written (``resume(run_id, approvals=...)``). Building and driving the entrypoint,
and saving the record however the run ends, is ``orchestrator.drive``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents.budget import Budget, BudgetLimits
from agents.experience import Experience
from agents.fallback import tool_lines
from agents.records import RunRecord
from agents.registry import Registry
from agents.settings import AgentSettings, ApprovalSettings
from agents.steward import ModelFor, StewardAgent
from apps.world import World
from core.errors import UserError
from core.paths import data_dir
from core.usage import Usage
from memory.journal import ActionJournal
from memory.runs import RunStore
from orchestrator.approval import ApprovalDecision, ApprovalRecorder, record_decisions
from orchestrator.drive import RunDriver
from orchestrator.events import Event, EventCallback, EventKind
from orchestrator.interrupted import Decision
from orchestrator.record import RunRecorder
from orchestrator.state import initial as initial_state


class Orchestrator(RunDriver):
    """Runs instructions on a world of apps with a steward and its staff agents."""

    def __init__(
        self,
        *,
        registry: Registry,
        models: ModelFor,
        world: World,
        settings: AgentSettings | None = None,
        limits: BudgetLimits | None = None,
        store: RunStore | None = None,
        checkpoints: Path | str | None = None,
        experience: Experience | None = None,
        on_event: EventCallback | None = None,
        run_settings: dict[str, Any] | None = None,
        resources: list[Any] | None = None,
        approval: ApprovalSettings | None = None,
    ) -> None:
        """``resources`` are closed by ``aclose`` (e.g. the model pool's HTTP clients).
        ``approval``: which calls need a person's approval and the policy (default ``deny``:
        no one can answer a library call, so sensitive calls are refused and the agent is
        told; the benchmarks pass ``auto``, ``steward run`` ``ask``)."""
        self.registry = registry
        self.models = models
        self.world = world
        self.settings = settings or AgentSettings()
        self.limits = limits or BudgetLimits()
        self.store = store or RunStore()
        self.checkpoints = str(checkpoints or data_dir() / "checkpoints.db")
        self.experience = experience
        self.on_event = on_event
        self.run_settings = dict(run_settings or {})
        self.resources = list(resources or [])
        self.approval = approval or ApprovalSettings()
        self.agents = {
            registry.get(name).token: registry.get(name).description for name in world.names
        }
        self.tools = {registry.get(n).token: tool_lines(world.get(n).tools) for n in world.names}
        """Each agent's tools (``name: description``), for recruiting without the model."""
        self._begin("")

    def _begin(self, run_id: str, *, spent: Usage | None = None) -> None:
        """Fresh per-run state, so one orchestrator can run again (and in another event loop)."""
        self._run_id = run_id
        self.budget = Budget(self.limits, spent=spent)  # the deadline counts from here
        self.steward = StewardAgent(
            self.models, self.agents, self.settings, budget=self.budget, tools=self.tools
        )
        self.journal = ActionJournal(self.store if run_id else None, run_id)
        self._started = time.time()
        self._retrieved: dict[str, Any] = {}
        self._recorder: RunRecorder | None = None
        self._held = {}
        self._waits = {}

    # -- public -------------------------------------------------------------------------------

    async def run(self, instruction: str, *, run_id: str | None = None) -> RunRecord:
        """Plan and carry out ``instruction``; returns the run record (also stored).

        ``run_id`` must be new: a run that already has a record is continued with ``resume``.
        """
        if run_id is not None and self.store.has_run(run_id):
            raise UserError(
                f"run id {run_id!r} is taken by an earlier run; continue it with "
                f"`steward resume {run_id}` or give a new id"
            )
        self._begin(run_id or uuid.uuid4().hex[:12])
        self._state = initial_state(self._run_id, instruction)
        self._emit("run_started", data={"instruction": instruction})
        self._recorder = self._new_recorder()
        return await self._drive({"instruction": instruction})

    async def resume(
        self,
        run_id: str,
        *,
        decisions: Mapping[str, Decision] | None = None,
        approvals: Mapping[str, ApprovalDecision] | None = None,
    ) -> RunRecord:
        """Continue a run from its last checkpoint; finished subtasks are not run again.

        The tool calls the crash interrupted are settled first (``orchestrator.interrupted``);
        ``decisions`` says, by journal id, whether calls that only a person can settle
        happened (``done``) or not (``not_done``). Without them such a run stops again with
        status ``waiting`` (:class:`DecisionNeededError`).

        ``approvals`` decides, by journal id, calls that wait for approval (written before
        the run goes on; a ``UserError``, with nothing written, for a bad one: see
        :func:`orchestrator.approval.record_decisions`). Subtasks that stopped for an
        approval go on from where they stopped; one still undecided stops the run again
        (:class:`ApprovalNeededError`).
        """
        saved = self.store.load_run(run_id)
        spent = saved.get("usage") or {}
        # a resumed run keeps what it spent, and gets its deadline again
        self._begin(saved["run_id"], spent=Usage.model_validate(spent) if spent else None)
        self._started = float(saved.get("started_at") or time.time())
        self._retrieved = dict(saved.get("retrieved") or {})
        self._state = initial_state(self._run_id, saved.get("instruction", ""))
        self.journal.load()
        if approvals:
            record_decisions(self.journal, self.world, approvals)
        self._recorder = self._new_recorder()
        self._recorder.load()
        return await self._drive(None, decisions=decisions)

    def _new_recorder(self) -> RunRecorder:
        return ApprovalRecorder(
            self.store,
            self._run_id,
            started_at=self._started,
            settings=self.run_settings,
            retrieved=self._retrieved,
            journal=self.journal,
        )

    @property
    def recorder(self) -> RunRecorder:
        assert self._recorder is not None, "no run in progress"
        return self._recorder

    async def aclose(self) -> None:
        """Close what the orchestrator was given to close (HTTP clients)."""
        for resource in self.resources:
            await resource.aclose()

    async def run_and_close(self, instruction: str) -> RunRecord:
        try:
            return await self.run(instruction)
        finally:
            await self.aclose()

    async def resume_and_close(
        self,
        run_id: str,
        *,
        decisions: Mapping[str, Decision] | None = None,
        approvals: Mapping[str, ApprovalDecision] | None = None,
    ) -> RunRecord:
        try:
            return await self.resume(run_id, decisions=decisions, approvals=approvals)
        finally:
            await self.aclose()

    def _emit(
        self, kind: EventKind, subtask_id: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        if self.on_event is not None:
            self.on_event(
                Event(kind=kind, run_id=self._run_id, subtask_id=subtask_id, data=data or {})
            )
