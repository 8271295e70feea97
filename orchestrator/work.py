"""One subtask's work: Assigned Execution and Adjusted Evaluation, with its side effects once.

The staff agent attempts the subtask, the steward judges the attempt, a failure is retried with
the verdict's tips. Every tool call goes through the run's action journal (``agents.effects``):
a failed attempt on a restorable app is rolled back to the state the subtask started from; on
any other app its effects stay, and later attempts are told about them and never repeat them.
A call that waits for a person's approval stops the subtask, keeping its attempt and its app,
until a resume goes on from there (``orchestrator.approval``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agents.effects import ApprovalPending, SubtaskEffects
from agents.records import Attempt, Step, SubtaskRecord
from agents.settings import ApprovalSettings
from agents.staff import StaffAgent
from apps.base import App, can_roll_back
from apps.diff import diff_states, render_changes
from core.errors import BudgetExceededError
from core.usage import Usage
from orchestrator.approval import SubtaskBlocked, WaitPoint
from orchestrator.context import RunContext
from orchestrator.state import SubtaskState

log = logging.getLogger("steward.orchestrator")


class SubtaskWork(RunContext):
    """The ``work`` node (mixed into ``RunNodes``)."""

    approval: ApprovalSettings
    """Which calls need a person's approval, and the policy (set by ``Orchestrator``)."""
    _held: dict[str, str]
    """App name -> the subtask that stopped on it for an approval (it keeps the app)."""
    _waits: dict[str, WaitPoint]
    """Subtask id -> where it stopped for an approval (found by the resume)."""

    async def _work(self, item: dict[str, Any]) -> dict[str, Any]:
        """One subtask, started the moment everything it needs has succeeded.

        ``item`` holds the ``subtask`` and, when subtasks run one at a time (the
        ``parallel=False`` ablation), the id of the one to wait for first (``after``). A
        subtask whose needs did not all succeed is not started (it stays pending, for the
        re-plan); one that the run store says finished before a crash is not run again; one
        that stopped for an approval goes on from there (``orchestrator.approval``). One that
        needs a waiting subtask, or whose app a waiting subtask keeps, raises
        ``SubtaskBlocked``: it starts on the resume.
        """
        sub: SubtaskState = item["subtask"]
        sid = sub["id"]
        needs = list(sub.get("needs", []))
        statuses = [await self._ready[need] for need in needs]
        if item.get("after"):
            await self._ready[item["after"]]
        if "waiting" in statuses:
            raise SubtaskBlocked(f"{sid} needs work that waits for approval")
        if any(status != "succeeded" for status in statuses):
            return {}
        stored = self.recorder.details.get(sid)
        if stored is not None and stored.status in ("succeeded", "failed"):
            return {"subtasks": {stored.id: summary(stored)}}
        spec = self.registry.get(sub["task_token"])
        holder = self._held.get(spec.name)
        if holder not in (None, sid) and await self._ready[str(holder)] == "waiting":
            raise SubtaskBlocked(f"{sid}: {spec.name} is kept by {holder}, which waits")
        inputs = {d: self._state["subtasks"][d].get("key_info", "") for d in needs}
        point = self._waits.pop(sid, None)
        record = (
            stored
            if point is not None and stored is not None
            else SubtaskRecord(
                id=sid, task_token=sub["task_token"], instruction=sub["instruction"],
                needs=sub.get("needs", []),
            )
        )  # fmt: skip
        record.status = "running"
        app: App = self.world.get(spec.name)
        async with self.world.lock(spec.name):  # one driver per app instance
            if self._held.get(spec.name) not in (None, sid):  # it stopped while we queued
                raise SubtaskBlocked(f"{sid}: {spec.name} is kept by a subtask that waits")
            self._apply({"subtasks": {sid: {**sub, "status": "running"}}})
            record.started_at = record.started_at or time.time()
            self._emit("subtask_started", sid, {"task_token": spec.token, "app": spec.name})
            effects = SubtaskEffects(self.journal, sid, spec.name, restorable=can_roll_back(app))
            staff = StaffAgent(
                spec, app, self.models(spec.token), self.settings, budget=self.budget,
                on_step=lambda step: self._emit("step", sid, _step_event(step)),
                effects=effects, approval=self.approval,
            )  # fmt: skip
            before: dict[str, Any] = {}
            try:
                expertise = self._expertise_for(spec.token, sub)
                before = (
                    self.store.load_snapshot(self._run_id, f"start:{sid}", spec.name)
                    if point is not None
                    else app.snapshot()
                )
                judged = [a for a in record.history if a.verdict is not None]
                tips = judged[-1].verdict.tips if judged and judged[-1].verdict else ""
                waiting = record.history[-1] if point is not None else None
                if waiting is not None and point is not None and not point.continuable:
                    waiting.status, waiting = "interrupted", None  # killed after it went on
                for _ in range(self.settings.max_retries + 1 - len(judged)):
                    if waiting is not None:
                        attempt = await staff.resume(
                            waiting, sub["instruction"], tips=tips, expertise=expertise
                        )
                        waiting = None
                    else:
                        attempt = await staff.attempt(
                            sub["instruction"], inputs=inputs, tips=tips, expertise=expertise
                        )
                        record.history.append(attempt)
                    attempt.changes = _changes(before, app, self.settings.observation_chars)
                    attempt.verdict = await self.steward.evaluate(
                        record, attempt, earlier=effects.earlier()
                    )
                    self._emit("verdict", sid, _verdict_event(attempt))
                    if attempt.verdict.success:
                        effects.settle(True)
                        break
                    if effects.restorable:  # put the app back before the journal says so
                        app.restore(before)
                        attempt.rolled_back = True
                    effects.settle(False)
                    tips = attempt.verdict.tips
                self.store.save_snapshot(self._run_id, f"after:{sid}", spec.name, app.snapshot())
            except ApprovalPending:
                self._held[spec.name] = sid  # kept until the subtask goes on and ends
                self._keep(record, staff, "waiting")
                self.store.save_snapshots(self._run_id, f"start:{sid}", {spec.name: before})
                self.store.save_snapshot(self._run_id, f"waiting:{sid}", spec.name, app.snapshot())
                self.recorder.subtask(record)
                raise
            except BaseException as exc:
                # keep what was done so far in the record; a resume runs the subtask again
                self._held.pop(spec.name, None)
                self._keep(record, staff, "budget" if isinstance(exc, BudgetExceededError) else "")
                self.recorder.subtask(record)
                raise
        self._held.pop(spec.name, None)
        last = record.history[-1]
        assert last.verdict is not None
        record.status = "succeeded" if last.verdict.success else "failed"
        record.attempts = len(record.history)
        record.key_info = last.verdict.key_info if last.verdict.success else ""
        record.result = last.result
        record.ended_at = time.time()
        record.usage = Usage.total(a.usage for a in record.history)
        self.recorder.subtask(record)
        self._emit("subtask_done", sid, {"status": record.status, "attempts": record.attempts})
        return {"subtasks": {record.id: summary(record)}}

    @staticmethod
    def _keep(record: SubtaskRecord, staff: StaffAgent, status: str) -> None:
        """Put the attempt under way (if any) in ``record`` as it stopped: ``waiting`` for an
        approval, else interrupted (``budget``: a spent budget)."""
        current = staff.current
        kept = current is not None and any(a is current for a in record.history)
        if current is not None and (not kept or not current.ended_at):  # it was under way
            if status != "waiting":  # a waiting attempt says so itself
                current.status = "budget" if status == "budget" else "interrupted"
            current.ended_at = current.ended_at or time.time()
            if not kept:
                record.history.append(current)
        if status == "waiting":
            record.status = "waiting"
            record.ended_at = time.time()  # when the app was left (the resume restores it)
        record.attempts = len(record.history)
        record.usage = Usage.total(a.usage for a in record.history)

    def _expertise_for(self, token: str, sub: SubtaskState) -> str:
        """The app expertise memory offers for the subtask; memory is best effort."""
        if self.experience is None:
            return ""
        try:
            expertise, found = self.experience.expertise_for(token, sub["instruction"])
        except Exception as exc:
            log.warning("memory not read for %s: %s", sub["id"], exc)
            self._retrieved.setdefault("errors", []).append(f"expertise for {sub['id']}: {exc}")
            return ""
        self._retrieved.setdefault("expertise", {})[sub["id"]] = found
        return str(expertise)


def _changes(before: dict[str, Any], app: App, limit: int) -> list[str]:
    """How the app differs from ``before``, as a few readable lines."""
    return render_changes(diff_states(before, app.snapshot()), limit=limit)


def summary(record: SubtaskRecord) -> SubtaskState:
    """What the graph state keeps of a finished subtask (its history goes to the run store)."""
    return {
        "id": record.id,
        "task_token": record.task_token,
        "instruction": record.instruction,
        "needs": record.needs,
        "status": record.status,
        "attempts": record.attempts,
        "key_info": record.key_info,
        "result": record.result[:2000],
        "usage": record.usage.model_dump(),
        "started_at": record.started_at,
        "ended_at": record.ended_at,
    }


def _step_event(step: Step) -> dict[str, Any]:
    return {
        "tool": step.action.tool,
        "error": step.error,
        "repeated": step.repeated,
        "refused": step.refused,
        "reused": step.reused,
        "approval": step.approval,
        "action_id": step.action_id,
    }


def _verdict_event(attempt: Attempt) -> dict[str, Any]:
    v = attempt.verdict
    assert v is not None
    return {
        "attempt": attempt.number,
        "success": v.success,
        "failure_kind": v.failure_kind,
        "tips": v.tips,
        "key_info": v.key_info,
        "steps": len(attempt.steps),
        "status": attempt.status,
        "rolled_back": attempt.rolled_back,
    }
