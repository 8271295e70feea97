"""The nodes of the run graph: plan, schedule, route, replan, finish (``work`` is in
``orchestrator.work``).

``Orchestrator`` (``orchestrator.runner``) inherits them; they use its agents, world, stores and
settings. Each node returns a state update; heavy data goes to the run store, not the state.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from langgraph.types import Send

from agents.plan import SchedulingGraph
from memory.journal import JournalEntry
from orchestrator.record import full_subtask
from orchestrator.state import RunState, SubtaskState, WorkItem
from orchestrator.work import SubtaskWork

log = logging.getLogger("steward.orchestrator")

LEARNED = "memory.learn"
"""The journal entry that says this run's memory write was made (or begun): at most once."""


class RunNodes(SubtaskWork):
    """Node implementations; the attributes they use are set by ``Orchestrator``."""

    # -- nodes --------------------------------------------------------------------------------

    async def _plan(self, state: RunState) -> dict[str, Any]:
        # every app's state before anything acts on it (inside the graph: a failing snapshot
        # ends the run with its record, like any other error)
        states = {name: self.world.get(name).snapshot() for name in self.world.names}
        self.store.save_snapshots(self._run_id, "initial", states)
        result = await self.steward.plan(
            state["instruction"], guidelines=self._guidelines_for(state["instruction"])
        )
        self._emit(
            "plan",
            data={
                "graph": result.graph.model_dump(),
                "notes": result.notes,
                "fallback": result.fallback,
            },
        )
        return {
            "graph": result.graph.model_dump(),
            "plans": [result.graph.model_dump()],
            "subtasks": {n.id: _pending(n.model_dump()) for n in result.graph.nodes},
            "steward_calls": [c.model_dump(mode="json") for c in result.calls],
            "notes": result.notes,
            "fallbacks": [result.fallback] if result.fallback else [],
            "status": "running",
            "apps": dict.fromkeys(states, "initial"),
        }

    def _guidelines_for(self, instruction: str) -> str:
        """The task guidelines memory offers; memory is best effort."""
        if self.experience is None:
            return ""
        try:
            guidelines, found = self.experience.guidelines_for(instruction)
        except Exception as exc:
            log.warning("memory not read: %s", exc)
            self._retrieved.setdefault("errors", []).append(f"guidelines: {exc}")
            return ""
        self._retrieved["guidelines"] = found
        return str(guidelines)

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
        waiting = [
            full_subtask(subtasks[n.id], details.get(n.id))
            for n in graph.nodes
            if subtasks[n.id]["status"] == "pending"
        ]
        replans = state.get("replans", 0) + 1
        result = await self.steward.replan(state["instruction"], done, failed, waiting)
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
        self._emit(
            "replan",
            data={"graph": merged.model_dump(), "replans": replans, "fallback": result.fallback},
        )
        return {
            "graph": merged.model_dump(),
            "plans": [merged.model_dump()],
            "subtasks": update,
            "steward_calls": [c.model_dump(mode="json") for c in result.calls],
            "notes": result.notes,
            "fallbacks": [result.fallback] if result.fallback else [],
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
            out["notes"] = await self._learn(
                self.recorder.record({**state, **out, "subtasks": merged}), out
            )
        return out

    async def _learn(self, final: Any, out: dict[str, Any]) -> list[str]:
        """Write memory from a successful run, at most once: a resume after a crash during
        or after the write does not write again."""
        earlier = self.journal.entries.get(LEARNED)
        if earlier is not None:
            how = "wrote it" if earlier.status == "done" else "stopped while writing it"
            return [f"memory not written again: an earlier process of this run {how}"]
        marker = JournalEntry(
            id=LEARNED, subtask_id="", attempt=0, seq=0, app="memory", tool="learn",
            outcome="succeeded",
        )  # fmt: skip
        self.journal.write(marker)
        assert self.experience is not None
        try:
            learned = await self.experience.learn(final)
        except Exception as exc:  # learning is best effort; the run itself succeeded
            log.warning("memory not written: %s", exc)
            return [f"memory not written: {exc}"]
        out["steward_calls"] += [c.model_dump(mode="json") for c in learned]
        self.journal.write(marker.model_copy(update={"status": "done"}))
        return []


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
