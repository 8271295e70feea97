"""The orchestrator: runs an instruction on langgraph (``orchestrator.flow``), keeps its record.

One langgraph entrypoint per run: plan -> every subtask started the moment its inputs are ready
-> re-plan what failed -> finish. Each step is a langgraph task checkpointed with the SQLite
saver as it returns; ``resume`` continues a killed run, skipping every step that finished,
with the apps restored from the snapshots of the subtasks that finished on them. A run that
stopped for approvals (``orchestrator.approval``) is continued the same way, after the
decisions are written (``resume(run_id, approvals=...)``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.func import entrypoint, task

from agents.budget import Budget, BudgetLimits
from agents.experience import Experience
from agents.fallback import tool_lines
from agents.records import RunRecord
from agents.registry import Registry
from agents.settings import AgentSettings, ApprovalSettings
from agents.steward import ModelFor, StewardAgent
from apps.base import can_roll_back
from apps.world import World
from core.errors import BudgetExceededError, RunError, StewardError, UserError
from core.paths import data_dir
from core.usage import CallRecord, Usage
from memory.journal import ActionJournal
from memory.runs import RunNotFoundError, RunStore
from orchestrator.approval import (
    ApprovalDecision,
    ApprovalNeededError,
    ApprovalRecorder,
    continuing_calls,
    record_decisions,
    wait_points,
)
from orchestrator.checkpoint import open_saver
from orchestrator.events import Event, EventCallback, EventKind
from orchestrator.flow import RunFlow, Tasks
from orchestrator.interrupted import Decision, DecisionNeededError, settle_interrupted
from orchestrator.record import RunRecorder
from orchestrator.state import initial as initial_state

log = logging.getLogger("steward.orchestrator")


class Orchestrator(RunFlow):
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

    # -- graph --------------------------------------------------------------------------------

    def _build(self, saver: BaseCheckpointSaver[Any]) -> Any:
        """The run's langgraph entrypoint, its steps as tasks."""
        tasks = Tasks(
            plan=task(name="plan")(_async(self._plan)),
            work=task(name="work")(_async(self._work)),
            replan=task(name="replan")(_async(self._replan)),
            finish=task(name="finish")(_async(self._finish)),
        )

        async def run(inputs: dict[str, Any]) -> dict[str, Any]:
            return await self._flow(tasks)

        return entrypoint(checkpointer=saver)(run)

    async def _drive(
        self, inputs: dict[str, Any] | None, *, decisions: Mapping[str, Decision] | None = None
    ) -> RunRecord:
        """Run the entrypoint with ``inputs`` (``None``: continue from the checkpoint, to
        resume). Whatever happens, the record is saved; an error is raised as a ``RunError``
        (or the ``UserError`` it was) carrying the run id."""
        config: dict[str, Any] = {"configurable": {"thread_id": self._run_id}}
        state = self._state
        error: StewardError | None = None
        with open_saver(self.checkpoints) as saver:
            graph = self._build(saver)
            if inputs is None:
                snapshot = await graph.aget_state(config)
                if not snapshot.next:  # never started, or already ended
                    if snapshot.values:
                        return RunRecord.model_validate(self.store.load_run(self._run_id))
                    raise RunError(f"run {self._run_id} has no checkpoint to resume", self._run_id)
            deadline: asyncio.Timeout | None = None
            try:
                if inputs is None:
                    self._waits = wait_points(self.recorder.details, self.journal)
                    self._held = {p.app: sid for sid, p in self._waits.items()}
                    self._restore_apps()
                    keep, reopen = continuing_calls(self._waits, self.journal)
                    settle_interrupted(
                        self.journal, self.world, decisions, keep=keep, reopen=reopen
                    )
                deadline = asyncio.timeout(self._deadline())
                async with deadline:
                    await graph.ainvoke(inputs, config, durability="sync")
            except TimeoutError as exc:
                if deadline is not None and deadline.expired():
                    error = BudgetExceededError(self.budget.exceeded() or "the deadline passed")
                    self._stopped(state, "budget_exceeded", error)
                else:  # a TimeoutError from inside (an app, a library): an error like others
                    error = self._unexpected(exc, state)
            except StewardError as exc:
                error = exc
                status = (
                    "budget_exceeded"
                    if isinstance(exc, BudgetExceededError)
                    else "waiting"
                    if isinstance(exc, DecisionNeededError | ApprovalNeededError)
                    else "error"
                )
                self._stopped(state, status, exc)
                self._keep_lost_calls(state, exc)
            except Exception as exc:  # a bug in a node, an app, memory or langgraph
                error = self._unexpected(exc, state)
            finally:
                if error is None and state.get("status") not in ("succeeded", "failed"):
                    state["error"] = state.get("error") or "interrupted before the run finished"
                record = self._save(state)
                self._emit(
                    "run_finished",
                    data={"status": record.status, "error": record.error, "record": record},
                )
        if error is not None:
            if isinstance(error, RunError | UserError):
                error.run_id = self._run_id  # type: ignore[union-attr]
                raise error
            raise RunError(str(error), self._run_id) from error
        return record

    def _keep_lost_calls(self, state: dict[str, Any], exc: StewardError) -> None:
        """The calls of the node that failed (a plan's repair rounds, the failing call) are
        in no subtask record and no state update yet: keep them with the steward's calls."""
        lost = [*exc.calls, *([exc.record] if exc.record is not None else [])]
        kept = self._recorded_calls()
        state["steward_calls"] = [
            *state.get("steward_calls", []),
            *(
                c.model_dump(mode="json")
                for c in lost
                if isinstance(c, CallRecord) and id(c) not in kept
            ),
        ]

    def _unexpected(self, exc: BaseException, state: dict[str, Any]) -> RunError:
        """An error Steward did not raise on purpose ends the run with status ``error``."""
        log.exception("run %s: unexpected error", self._run_id)
        error = RunError(f"{type(exc).__name__}: {exc}", self._run_id)
        error.__cause__ = exc
        self._stopped(state, "error", error)
        return error

    def _recorded_calls(self) -> set[int]:
        """Ids of the call records the subtask records already hold (not to count twice)."""
        return {
            id(call)
            for record in self.recorder.details.values()
            for attempt in record.history
            for call in attempt.calls
        }

    def _deadline(self) -> float | None:
        """Seconds left before the run's wall-clock deadline, if it has one."""
        limit = self.limits.deadline_s
        if limit is None:
            return None
        return max(0.0, limit - (time.monotonic() - self.budget.started))

    def _stopped(self, state: dict[str, Any], status: str, exc: StewardError) -> None:
        """Mark a run that an error or a spent budget stopped, keeping its partial result."""
        state["status"] = status
        state["error"] = str(exc)
        if not state.get("answer"):
            # a subtask that succeeded in the step the error stopped is not in ``state`` yet,
            # but its record was stored when it finished
            finished = {
                sid: sub
                for sid, sub in (state.get("subtasks") or {}).items()
                if sub.get("status") == "succeeded"
            }
            for sid, detail in self.recorder.details.items():
                if detail.status == "succeeded":
                    finished.setdefault(sid, {"key_info": detail.key_info, "result": detail.result})
            done = [
                f"{sid}: {sub.get('key_info') or sub.get('result') or 'done'}"
                for sid, sub in finished.items()
            ]
            state["answer"] = (
                f"Stopped before the end ({exc}). Finished so far: " + "; ".join(done)
                if done
                else f"Stopped before any subtask finished ({exc})."
            )

    def _save(self, state: dict[str, Any]) -> RunRecord:
        """Save the record, with every app's state as the run leaves it (``final``)."""
        states: dict[str, dict[str, Any]] = {}
        for name, app in self.world.items():
            try:
                states[name] = app.snapshot()
            except Exception as exc:  # an app whose state cannot be saved: the record says so
                log.warning("run %s: state of %s not saved: %s", self._run_id, name, exc)
                note = f"the final state of {name} was not saved: {type(exc).__name__}: {exc}"
                state["notes"] = [*state.get("notes", []), note]
        self.store.save_snapshots(self._run_id, "final", states)
        self.recorder.step(state, final=True)
        return self.recorder.record(state)

    def _restore_apps(self) -> None:
        """Put every app back as the last subtask that finished on it left it (subtasks on
        one app take turns, so that is the one that ended last), else as it was at the start."""
        last: dict[str, tuple[float, str]] = {}
        for sid, record in self.recorder.details.items():
            point = self._waits.get(sid)
            ref = f"after:{sid}"
            if point is not None:  # it keeps its app: as it left it, or as it found it
                ref = f"waiting:{sid}" if point.continuable else f"start:{sid}"
            elif record.status not in ("succeeded", "failed"):
                continue
            if record.task_token in self.registry:
                app = self.registry.get(record.task_token).name
                if record.ended_at >= last.get(app, (-1.0, ""))[0]:
                    last[app] = (record.ended_at, ref)
        kept = [name for name, app in self.world.items() if not can_roll_back(app)]
        if kept:  # their state is outside Steward: as the killed run left it
            note = (
                f"resume: the state of {', '.join(kept)} could not be restored (not restorable: "
                "they act on the outside world), so they are as the killed run left them"
            )
            self._state["notes"] = [*self._state.get("notes", []), note]
        for name in self.world.names:
            ref = last.get(name, (0.0, "initial"))[1]
            try:
                state = self.store.load_snapshot(self._run_id, ref, name)
            except RunNotFoundError:
                continue  # the run stopped before its first snapshot: the apps are as built
            self.world.get(name).restore(state)

    def _emit(
        self, kind: EventKind, subtask_id: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        if self.on_event is not None:
            self.on_event(
                Event(kind=kind, run_id=self._run_id, subtask_id=subtask_id, data=data or {})
            )


def _async(fn: Callable[[Any], Awaitable[Any]]) -> Any:
    """A plain async function calling the bound method ``fn`` (a task needs a function)."""

    async def step(value: Any) -> Any:
        return await fn(value)

    step.__name__ = getattr(fn, "__name__", "step").lstrip("_")
    return step
