"""The state of a run, kept in memory: statuses, key information, the plan, the steward's calls.

Heavy data (attempt histories, app snapshots) goes to the run store, and durability comes from
the langgraph tasks that produce the updates (``orchestrator.flow``): a resumed run replays
their checkpointed results into a fresh state. Every step returns an update, merged with
:func:`apply`: ``subtasks`` merge by id, the list fields grow, the others are replaced.
"""

from __future__ import annotations

from typing import Any, TypedDict

GROWING = ("steward_calls", "plans", "notes", "fallbacks")
"""Fields whose updates are appended."""


class SubtaskState(TypedDict, total=False):
    id: str
    task_token: str
    instruction: str
    needs: list[str]
    status: str
    attempts: int
    key_info: str
    result: str
    usage: dict[str, Any]
    started_at: float
    ended_at: float


class RunState(TypedDict, total=False):
    """What a run knows as it goes (the run record is built from it)."""

    run_id: str
    instruction: str
    graph: dict[str, Any] | None
    """Current scheduling graph (``SchedulingGraph`` dump)."""
    subtasks: dict[str, SubtaskState]
    """Every subtask of the run by id, including ones replaced by a re-plan."""
    steward_calls: list[dict[str, Any]]
    plans: list[dict[str, Any]]
    notes: list[str]
    fallbacks: list[str]
    """How each plan that fell back was made (see ``RunRecord.fallbacks``)."""
    replans: int
    status: str
    answer: str
    error: str | None


def initial(run_id: str, instruction: str) -> dict[str, Any]:
    """The state of a run before its plan."""
    return {
        "run_id": run_id,
        "instruction": instruction,
        "graph": None,
        "subtasks": {},
        "steward_calls": [],
        "plans": [],
        "notes": [],
        "fallbacks": [],
        "replans": 0,
        "status": "planning",
        "answer": "",
        "error": None,
    }


def apply(state: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``state`` with ``update`` merged in (in place; returned for convenience). A changed
    subtask gets a new dict, so the recorder sees what changed by identity."""
    for key, value in update.items():
        if key == "subtasks":
            state["subtasks"] = {**(state.get("subtasks") or {}), **value}
        elif key in GROWING:
            state[key] = [*(state.get(key) or []), *value]
        else:
            state[key] = value
    return state
