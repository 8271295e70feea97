"""The langgraph state of a run. Kept small: statuses, key information and references.

Heavy data (attempt histories, app snapshots) goes to the run store once, so a checkpoint does
not grow with everything that happened before it.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Dict reducer: later writes win key by key."""
    return {**(left or {}), **(right or {})}


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
    """Channels of the run graph."""

    run_id: str
    instruction: str
    graph: dict[str, Any] | None
    """Current scheduling graph (``SchedulingGraph`` dump)."""
    subtasks: Annotated[dict[str, SubtaskState], merge]
    """Every subtask of the run by id, including ones replaced by a re-plan."""
    apps: Annotated[dict[str, str], merge]
    """App name -> reference of its latest snapshot in the run store."""
    steward_calls: Annotated[list[dict[str, Any]], operator.add]
    plans: Annotated[list[dict[str, Any]], operator.add]
    notes: Annotated[list[str], operator.add]
    replans: int
    status: str
    answer: str
    error: str | None


class WorkItem(TypedDict):
    """What ``Send`` hands to one ``work`` task."""

    subtask: SubtaskState
    inputs: dict[str, str]
