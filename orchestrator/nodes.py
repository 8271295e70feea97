"""The nodes of the run graph: plan, schedule, route, work, replan, finish.

``Orchestrator`` (``orchestrator.runner``) inherits them; they use its agents, world, stores and
settings. Each node returns a state update; heavy data goes to the run store, not the state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from typing import Any

from langgraph.types import Send

from agents.budget import Budget
from agents.experience import Experience
from agents.plan import SchedulingGraph
from agents.records import Attempt, SubtaskRecord
from agents.registry import Registry
from agents.settings import AgentSettings
from agents.staff import StaffAgent
from agents.steward import ModelFor, StewardAgent
from apps.world import World
from core.errors import BudgetExceededError, StewardError
from core.usage import Usage
from memory.runs import RunStore
from orchestrator.events import EventKind
from orchestrator.record import RunRecorder, full_subtask
from orchestrator.state import RunState, SubtaskState, WorkItem

log = logging.getLogger("steward.orchestrator")


class RunNodes:
    """Node implementations; the attributes below are set by ``Orchestrator.__init__``."""

    registry: Registry
    models: ModelFor
    world: World
    settings: AgentSettings
    store: RunStore
    experience: Experience | None
    budget: Budget
    steward: StewardAgent
    _run_id: str
    _started: float
    _retrieved: dict[str, Any]

    @property
    def recorder(self) -> RunRecorder:
        raise NotImplementedError

    def _emit(
        self, kind: EventKind, subtask_id: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        raise NotImplementedError

    # -- nodes --------------------------------------------------------------------------------

    async def _plan(self, state: RunState) -> dict[str, Any]:
        guidelines = ""
        if self.experience is not None:
            guidelines, found = self.experience.guidelines_for(state["instruction"])
            self._retrieved["guidelines"] = found
        result = await self.steward.plan(state["instruction"], guidelines=guidelines)
        self._emit("plan", data={"graph": result.graph.model_dump(), "notes": result.notes})
        return {
            "graph": result.graph.model_dump(),
            "plans": [result.graph.model_dump()],
            "subtasks": {n.id: _pending(n.model_dump()) for n in result.graph.nodes},
            "steward_calls": [c.model_dump(mode="json") for c in result.calls],
            "notes": result.notes,
            "status": "running",
        }

    async def _schedule(self, state: RunState) -> dict[str, Any]:
        """Mark the subtasks whose needs have all succeeded as running."""
        subtasks = state.get("subtasks", {})
        graph = state.get("graph") or {"nodes": []}
        update: dict[str, SubtaskState] = {}
        for node in graph["nodes"]:
            sub = subtasks[node["id"]]
            if sub["status"] == "pending" and all(
                subtasks.get(d, {}).get("status") == "succeeded" for d in node["needs"]
            ):
                update[node["id"]] = {**sub, "status": "running"}
                if not self.settings.parallel:
                    break
        return {"subtasks": update} if update else {}

    async def _route(self, state: RunState) -> list[Hashable] | str:
        subtasks = state.get("subtasks", {})
        graph = state.get("graph") or {"nodes": []}
        current = [subtasks[n["id"]] for n in graph["nodes"]]
        running = [s for s in current if s["status"] == "running"]
        if running:
            return [Send("work", WorkItem(subtask=s, inputs=_inputs(s, subtasks))) for s in running]
        if (
            any(s["status"] == "failed" for s in current)
            and state.get("replans", 0) < self.settings.max_replans
        ):
            return "replan"
        return "finish"

    async def _work(self, item: WorkItem) -> dict[str, Any]:
        sub = item["subtask"]
        spec = self.registry.get(sub["task_token"])
        app = self.world.get(spec.name)
        model = self.models(spec.token)
        record = SubtaskRecord(
            id=sub["id"],
            task_token=sub["task_token"],
            instruction=sub["instruction"],
            needs=sub.get("needs", []),
            status="running",
        )
        async with self.world.lock(spec.name):
            record.started_at = time.time()
            self._emit("subtask_started", sub["id"], {"task_token": spec.token, "app": spec.name})
            staff = StaffAgent(
                spec,
                app,
                model,
                self.settings,
                budget=self.budget,
                on_step=lambda step: self._emit(
                    "step",
                    sub["id"],
                    {"tool": step.action.tool, "error": step.error, "repeated": step.repeated},
                ),
            )
            expertise = ""
            if self.experience is not None:
                expertise, found = self.experience.expertise_for(spec.token, sub["instruction"])
                self._retrieved.setdefault("expertise", {})[sub["id"]] = found
            tips = ""
            try:
                for number in range(1, self.settings.max_retries + 2):
                    attempt = await staff.attempt(
                        sub["instruction"],
                        number=number,
                        inputs=item["inputs"],
                        tips=tips,
                        expertise=expertise,
                    )
                    record.history.append(attempt)
                    attempt.verdict = await self.steward.evaluate(record, attempt)
                    self._emit("verdict", sub["id"], _verdict_event(attempt))
                    if attempt.verdict.success:
                        break
                    tips = attempt.verdict.tips
            except BaseException as exc:
                # keep what was done so far in the record; a resume runs the subtask again
                current = staff.current
                if current is not None and all(a is not current for a in record.history):
                    if isinstance(exc, BudgetExceededError):
                        current.status = "budget"
                    record.history.append(current)
                record.attempts = len(record.history)
                record.usage = Usage.total(a.usage for a in record.history)
                self.recorder.subtask(record)
                raise
            ref = f"after:{sub['id']}"
            self.store.save_snapshot(self._run_id, ref, spec.name, app.snapshot())
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
        return {"subtasks": {record.id: _summary(record)}, "apps": {spec.name: ref}}

    async def _replan(self, state: RunState) -> dict[str, Any]:
        subtasks = state["subtasks"]
        graph = SchedulingGraph.model_validate(state["graph"])
        details = self.recorder.details
        done = [
            full_subtask(subtasks[n.id], details.get(n.id))
            for n in graph.nodes
            if subtasks[n.id]["status"] == "succeeded"
        ]
        failed = [
            full_subtask(subtasks[n.id], details.get(n.id))
            for n in graph.nodes
            if subtasks[n.id]["status"] == "failed"
        ]
        replans = state.get("replans", 0) + 1
        result = await self.steward.replan(state["instruction"], done, failed)
        taken = set(subtasks)
        renames = {n.id: f"{n.id}_r{replans}" for n in result.graph.nodes if n.id in taken}
        new_nodes = []
        for n in result.graph.nodes:
            new_nodes.append(
                n.model_copy(
                    update={
                        "id": renames.get(n.id, n.id),
                        "needs": [renames.get(d, d) for d in n.needs],
                    }
                )
            )
        kept = [n for n in graph.nodes if subtasks[n.id]["status"] == "succeeded"]
        merged = SchedulingGraph(nodes=kept + new_nodes)
        update: dict[str, SubtaskState] = {n.id: _pending(n.model_dump()) for n in new_nodes}
        for n in graph.nodes:
            if subtasks[n.id]["status"] == "pending":
                update[n.id] = {**subtasks[n.id], "status": "skipped"}
        self._emit("replan", data={"graph": merged.model_dump(), "replans": replans})
        return {
            "graph": merged.model_dump(),
            "plans": [merged.model_dump()],
            "subtasks": update,
            "steward_calls": [c.model_dump(mode="json") for c in result.calls],
            "notes": result.notes,
            "replans": replans,
        }

    async def _finish(self, state: RunState) -> dict[str, Any]:
        subtasks = state["subtasks"]
        graph = SchedulingGraph.model_validate(state["graph"])
        details = self.recorder.details
        update: dict[str, SubtaskState] = {}
        for n in graph.nodes:
            if subtasks[n.id]["status"] in ("pending", "running"):
                update[n.id] = {**subtasks[n.id], "status": "skipped"}
        merged = {**subtasks, **update}
        records = [full_subtask(merged[n.id], details.get(n.id)) for n in graph.nodes]
        ok = all(r.status == "succeeded" for r in records)
        answer, call = await self.steward.answer(state["instruction"], graph, records)
        self._emit("answer", data={"answer": answer, "success": ok})
        out: dict[str, Any] = {
            "subtasks": update,
            "answer": answer,
            "status": "succeeded" if ok else "failed",
            "steward_calls": [call.model_dump(mode="json")] if call else [],
        }
        if ok and self.experience is not None:
            final = self.recorder.record({**state, **out, "subtasks": merged})
            try:
                learned = await self.experience.learn(final)
                out["steward_calls"] += [c.model_dump(mode="json") for c in learned]
            except StewardError as exc:  # learning is best effort; the run itself succeeded
                out["notes"] = [f"memory not written: {exc}"]
        return out


def _pending(node: dict[str, Any]) -> SubtaskState:
    return {
        "id": node["id"],
        "task_token": node["task_token"],
        "instruction": node["instruction"],
        "needs": list(node.get("needs", [])),
        "status": "pending",
        "attempts": 0,
        "key_info": "",
    }


def _inputs(sub: SubtaskState, subtasks: dict[str, SubtaskState]) -> dict[str, str]:
    """Deliver the key information of what ``sub`` needs."""
    return {d: subtasks[d].get("key_info", "") for d in sub.get("needs", [])}


def _summary(record: SubtaskRecord) -> SubtaskState:
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
    }
