"""The run on langgraph's functional API: plan -> subtasks as soon as their inputs are ready
-> re-plan what failed -> finish.

Every step is a langgraph ``task``: its result is checkpointed the moment it returns, so a
killed run resumes without doing any finished step again, including a subtask that finished
while a sibling was still running. There are no waves: all subtasks of a plan are started at
once, in a fixed (topological) order, and each waits only for what it ``needs``
(``orchestrator.work``), so one slow branch never holds back another branch's next subtask.

The order in which tasks are *started* depends only on the plan and on earlier tasks'
results, never on timing. That matters: langgraph matches a resumed run's task calls to the
checkpointed results by the order of the calls.

A subtask that stops for a person's approval raises out of its task, so nothing is
checkpointed for it (langgraph runs a task that failed again on resume), and so do the
subtasks it holds back; the others run to their end. Then the run stops with
``ApprovalNeededError`` (status ``waiting``); see ``orchestrator.approval``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agents.effects import ApprovalPending
from agents.plan import SchedulingGraph, topological_order
from orchestrator.approval import ApprovalNeededError, SubtaskBlocked, pending_approvals
from orchestrator.nodes import RunNodes

Step = Callable[[Any], Awaitable[dict[str, Any]]]
"""A step wrapped as a langgraph task: call it, await its (checkpointed) result."""

FINISHED = ("succeeded", "failed")


@dataclass(frozen=True)
class Tasks:
    """The run's steps as langgraph tasks."""

    plan: Step
    work: Step
    replan: Step
    finish: Step


class RunFlow(RunNodes):
    """The body of the run's entrypoint (``Orchestrator`` inherits it)."""

    async def _flow(self, tasks: Tasks) -> dict[str, Any]:
        self._ready = {}
        self._apply(await tasks.plan(self._state["instruction"]))
        while True:
            await self._dispatch(tasks.work)
            if not self._replan_due():
                break
            self._apply(await tasks.replan(self._state.get("replans", 0) + 1))
        self._apply(await tasks.finish(None))
        return {"run_id": self._run_id, "status": self._state["status"]}

    async def _dispatch(self, work: Step) -> None:
        """Start every subtask of the current graph that has not run, and wait for them all."""
        graph = SchedulingGraph.model_validate(self._state["graph"])
        subtasks = self._state["subtasks"]
        order = topological_order(graph.nodes) or graph.ids
        loop = asyncio.get_running_loop()
        for sid in order:
            if sid not in self._ready:
                self._ready[sid] = loop.create_future()
            status = subtasks[sid]["status"]
            if status in FINISHED and not self._ready[sid].done():
                self._ready[sid].set_result(status)
        todo = [sid for sid in order if subtasks[sid]["status"] == "pending"]
        started: dict[str, Any] = {}
        previous: str | None = None
        for sid in todo:  # a fixed order (see the module docs)
            after = None if self.settings.parallel else previous
            started[sid] = work({"subtask": subtasks[sid], "after": after})
            previous = sid
        waiting: list[str] = []
        try:
            async with asyncio.TaskGroup() as group:
                for sid, result in started.items():
                    group.create_task(self._settle(sid, result, waiting))
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        if waiting:  # the others have ended: stop, durably, until someone decides
            pending = pending_approvals(
                self.journal,
                {s: str(sub.get("instruction", "")) for s, sub in subtasks.items()},
            )
            raise ApprovalNeededError(pending, self._run_id)

    async def _settle(
        self, sid: str, result: Awaitable[dict[str, Any]], waiting: list[str]
    ) -> None:
        """Take in one subtask's result and release what waits for it. A subtask that stops
        for an approval (or cannot start because of one) releases its dependents as
        ``waiting``: they do not start, and the others go on."""
        try:
            update = await result
        except (ApprovalPending, SubtaskBlocked) as stop:
            if isinstance(stop, ApprovalPending):
                waiting.append(sid)
                sub = self._state["subtasks"][sid]
                self._apply({"subtasks": {sid: {**sub, "status": "waiting"}}})
            self._ready[sid].set_result("waiting")
            return
        self._apply(update)
        self._ready[sid].set_result(self._state["subtasks"][sid]["status"])

    def _replan_due(self) -> bool:
        graph = self._state["graph"] or {"nodes": []}
        failed = any(self._state["subtasks"][n["id"]]["status"] == "failed" for n in graph["nodes"])
        return failed and self._state.get("replans", 0) < self.settings.max_replans
