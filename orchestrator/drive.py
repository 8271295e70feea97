"""Driving the run's langgraph entrypoint to its end, and recording how it ended.

The run's steps (``orchestrator.flow``, ``orchestrator.nodes``) become langgraph tasks of one
entrypoint, checkpointed with the SQLite saver (``orchestrator.checkpoint``) as each returns. A
run is driven from its instruction, or, to resume, from its last checkpoint: the apps are first
put back as the last subtask that finished (or waits) on each left it, and the tool calls the
crash interrupted are settled (``orchestrator.interrupted``). However the run ends (its end, an
error, a spent budget or deadline, a wait for a person) the record is saved, with the partial
answer of a run that stopped. ``Orchestrator`` (``orchestrator.runner``) inherits this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.func import entrypoint, task

from agents.budget import BudgetLimits
from agents.records import RunRecord
from apps.base import can_roll_back
from core.errors import BudgetExceededError, RunError, StewardError, UserError
from core.usage import CallRecord
from memory.runs import RunNotFoundError
from orchestrator.approval import ApprovalNeededError, continuing_calls, wait_points
from orchestrator.checkpoint import open_saver
from orchestrator.flow import RunFlow, Tasks
from orchestrator.interrupted import Decision, DecisionNeededError, settle_interrupted

log = logging.getLogger("steward.orchestrator")


class RunDriver(RunFlow):
    """Runs the entrypoint and saves the record; the attributes are set by ``Orchestrator``."""

    limits: BudgetLimits
    checkpoints: str
    """The SQLite file of the langgraph checkpoints."""

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


def _async(fn: Callable[[Any], Awaitable[Any]]) -> Any:
    """A plain async function calling the bound method ``fn`` (a task needs a function)."""

    async def step(value: Any) -> Any:
        return await fn(value)

    step.__name__ = getattr(fn, "__name__", "step").lstrip("_")
    return step
