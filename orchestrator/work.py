"""One subtask's work: Assigned Execution and Adjusted Evaluation, with its side effects once.

The staff agent attempts the subtask, the steward judges the attempt, a failure is retried with
the verdict's tips. Every tool call goes through the run's action journal (``agents.effects``):
a failed attempt on a restorable app is rolled back to the state the subtask started from; on
any other app its effects stay, and later attempts are told about them and never repeat them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agents.effects import SubtaskEffects
from agents.records import Attempt, SubtaskRecord
from agents.staff import StaffAgent
from apps.base import App, can_roll_back
from apps.diff import diff_states, render_changes
from core.errors import BudgetExceededError
from core.usage import Usage
from orchestrator.context import RunContext
from orchestrator.state import SubtaskState

log = logging.getLogger("steward.orchestrator")


class SubtaskWork(RunContext):
    """The ``work`` node (mixed into ``RunNodes``)."""

    async def _work(self, item: dict[str, Any]) -> dict[str, Any]:
        """One subtask, started the moment everything it needs has succeeded.

        ``item`` holds the ``subtask`` and, when subtasks run one at a time (the
        ``parallel=False`` ablation), the id of the one to wait for first (``after``). A
        subtask whose needs did not all succeed is not started (it stays pending, for the
        re-plan); one that the run store says finished before a crash is not run again.
        """
        sub: SubtaskState = item["subtask"]
        needs = list(sub.get("needs", []))
        statuses = [await self._ready[need] for need in needs]
        if item.get("after"):
            await self._ready[item["after"]]
        if any(status != "succeeded" for status in statuses):
            return {}
        stored = self.recorder.details.get(sub["id"])
        if stored is not None and stored.status in ("succeeded", "failed"):
            return {"subtasks": {stored.id: summary(stored)}}
        inputs = {d: self._state["subtasks"][d].get("key_info", "") for d in needs}
        self._apply({"subtasks": {sub["id"]: {**sub, "status": "running"}}})
        spec = self.registry.get(sub["task_token"])
        app: App = self.world.get(spec.name)
        record = SubtaskRecord(
            id=sub["id"],
            task_token=sub["task_token"],
            instruction=sub["instruction"],
            needs=sub.get("needs", []),
            status="running",
        )
        async with self.world.lock(spec.name):  # one driver per app instance
            record.started_at = time.time()
            self._emit("subtask_started", sub["id"], {"task_token": spec.token, "app": spec.name})
            effects = SubtaskEffects(
                self.journal, sub["id"], spec.name, restorable=can_roll_back(app)
            )
            staff = StaffAgent(
                spec,
                app,
                self.models(spec.token),
                self.settings,
                budget=self.budget,
                on_step=lambda step: self._emit(
                    "step",
                    sub["id"],
                    {
                        "tool": step.action.tool,
                        "error": step.error,
                        "repeated": step.repeated,
                        "refused": step.refused,
                        "reused": step.reused,
                    },
                ),
                effects=effects,
            )
            ref = f"after:{sub['id']}"
            try:
                expertise = self._expertise_for(spec.token, sub)
                before = app.snapshot()
                tips = ""
                for _ in range(self.settings.max_retries + 1):
                    attempt = await staff.attempt(
                        sub["instruction"], inputs=inputs, tips=tips, expertise=expertise
                    )
                    record.history.append(attempt)
                    attempt.changes = _changes(before, app, self.settings.observation_chars)
                    attempt.verdict = await self.steward.evaluate(
                        record, attempt, earlier=effects.earlier()
                    )
                    self._emit("verdict", sub["id"], _verdict_event(attempt))
                    if attempt.verdict.success:
                        effects.settle(True)
                        break
                    if effects.restorable:  # put the app back before the journal says so
                        app.restore(before)
                        attempt.rolled_back = True
                    effects.settle(False)
                    tips = attempt.verdict.tips
                self.store.save_snapshot(self._run_id, ref, spec.name, app.snapshot())
            except BaseException as exc:
                # keep what was done so far in the record; a resume runs the subtask again
                current = staff.current
                if current is not None and all(a is not current for a in record.history):
                    current.status = (
                        "budget" if isinstance(exc, BudgetExceededError) else "interrupted"
                    )
                    current.ended_at = current.ended_at or time.time()
                    record.history.append(current)
                record.attempts = len(record.history)
                record.usage = Usage.total(a.usage for a in record.history)
                self.recorder.subtask(record)
                raise
        last = record.history[-1]
        assert last.verdict is not None
        record.status = "succeeded" if last.verdict.success else "failed"
        record.attempts = len(record.history)
        record.key_info = last.verdict.key_info if last.verdict.success else ""
        record.result = last.result
        record.ended_at = time.time()
        record.usage = Usage.total(a.usage for a in record.history)
        self.recorder.subtask(record)
        self._emit(
            "subtask_done", sub["id"], {"status": record.status, "attempts": record.attempts}
        )
        return {"subtasks": {record.id: summary(record)}}

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
