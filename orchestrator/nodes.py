"""The steps of a run that are not a subtask's work: plan, re-plan, finish.

Each runs as a langgraph task (``orchestrator.flow``), so its result is checkpointed and a
resumed run does not do it again. A step reads the run's state and returns an update of it
(see ``orchestrator.state.apply``); heavy data goes to the run store, not the state.
``Orchestrator`` (``orchestrator.runner``) inherits them.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.plan import SchedulingGraph
from memory.journal import JournalEntry
from orchestrator.record import full_subtask
from orchestrator.state import SubtaskState, apply
from orchestrator.work import SubtaskWork

log = logging.getLogger("steward.orchestrator")

LEARNED = "memory.learn"
"""The journal entry that says this run's memory write was made (or begun): at most once."""


class RunNodes(SubtaskWork):
    """Step implementations; the attributes they use are set by ``Orchestrator``."""

    async def _plan(self, instruction: str) -> dict[str, Any]:
        """Dynamic Recruitment: the scheduling graph, after every app's state is saved."""
        # inside the run: a failing snapshot ends the run with its record, like any error
        states = {name: self.world.get(name).snapshot() for name in self.world.names}
        self.store.save_snapshots(self._run_id, "initial", states)
        guidelines = self._guidelines_for(instruction)
        result = await self.steward.plan(
            instruction, guidelines=guidelines, templates=self._templates_for(instruction)
        )
        graph = result.graph.model_dump()
        self._emit(
            "plan", data={"graph": graph, "notes": result.notes, "fallback": result.fallback}
        )
        return {
            "graph": graph,
            "plans": [graph],
            "subtasks": {n.id: pending(n.model_dump()) for n in result.graph.nodes},
            "steward_calls": [c.model_dump(mode="json") for c in result.calls],
            "notes": result.notes,
            "fallbacks": [result.fallback] if result.fallback else [],
            "status": "running",
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

    def _templates_for(self, instruction: str) -> list[Any]:
        """Verified plans memory offers, for the steward to fall back to; best effort."""
        offer = getattr(self.experience, "templates_for", None)
        if offer is None:
            return []
        try:
            return list(offer(instruction))
        except Exception as exc:
            log.warning("memory templates not read: %s", exc)
            return []

    async def _replan(self, replans: int) -> dict[str, Any]:
        """Re-plan number ``replans``: the part of the graph that has not succeeded."""
        state = self._state
        subtasks = state["subtasks"]
        graph = SchedulingGraph.model_validate(state["graph"])
        details = self.recorder.details

        def with_status(status: str) -> list[Any]:
            return [
                full_subtask(subtasks[n.id], details.get(n.id))
                for n in graph.nodes
                if subtasks[n.id]["status"] == status
            ]

        result = await self.steward.replan(
            state["instruction"], with_status("succeeded"), with_status("failed"),
            with_status("pending"),
        )  # fmt: skip
        renames = {n.id: f"{n.id}_r{replans}" for n in result.graph.nodes if n.id in subtasks}
        new_nodes = [
            n.model_copy(
                update={
                    "id": renames.get(n.id, n.id),
                    "needs": [renames.get(d, d) for d in n.needs],
                }
            )
            for n in result.graph.nodes
        ]
        kept = [n for n in graph.nodes if subtasks[n.id]["status"] == "succeeded"]
        merged = SchedulingGraph(nodes=kept + new_nodes).model_dump()
        update: dict[str, Any] = {n.id: pending(n.model_dump()) for n in new_nodes}
        for n in graph.nodes:
            if subtasks[n.id]["status"] == "pending":
                update[n.id] = {**subtasks[n.id], "status": "skipped"}
        self._emit(
            "replan", data={"graph": merged, "replans": replans, "fallback": result.fallback}
        )
        return {
            "graph": merged,
            "plans": [merged],
            "subtasks": update,
            "steward_calls": [c.model_dump(mode="json") for c in result.calls],
            "notes": result.notes,
            "fallbacks": [result.fallback] if result.fallback else [],
            "replans": replans,
        }

    async def _finish(self, _: Any = None) -> dict[str, Any]:
        """The answer, the run's status, and memory after a verified success."""
        state = self._state
        subtasks = state["subtasks"]
        graph = SchedulingGraph.model_validate(state["graph"])
        details = self.recorder.details
        update: dict[str, Any] = {}
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
            final = self.recorder.record(apply(dict(state), out))
            out["notes"] = await self._learn(final, out)
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


def pending(node: dict[str, Any]) -> SubtaskState:
    """A subtask of a new plan, not started."""
    return {
        "id": node["id"],
        "task_token": node["task_token"],
        "instruction": node["instruction"],
        "needs": list(node.get("needs", [])),
        "status": "pending",
        "attempts": 0,
        "key_info": "",
    }
