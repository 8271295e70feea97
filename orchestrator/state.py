"""The langgraph state of a run. Kept small: statuses, key information and references.

Heavy data (attempt histories, app snapshots) goes to the run store once, so a checkpoint does
not grow with everything that happened before it. The channels that grow with the plan are
``DeltaChannel``s: a checkpoint stores only what a step wrote to them (plus a full copy every
``_SNAPSHOT_EVERY`` updates), so a run's checkpoints grow linearly with its steps, not with
their square.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langgraph.channels.delta import DeltaChannel

_SNAPSHOT_EVERY = 100


def merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Dict reducer: later writes win key by key."""
    return {**(left or {}), **(right or {})}


def merge_all(
    left: dict[str, Any] | None, writes: Sequence[dict[str, Any] | None]
) -> dict[str, Any]:
    """``merge`` over a batch of writes (the form a ``DeltaChannel`` reducer takes)."""
    out = dict(left or {})
    for write in writes:
        out.update(write or {})
    return out


def concat_all(left: list[Any] | None, writes: Sequence[list[Any] | None]) -> list[Any]:
    """List concatenation over a batch of writes."""
    out = list(left or [])
    for write in writes:
        out.extend(write or [])
    return out


def last_of(left: Any, writes: Sequence[Any]) -> Any:
    """The last write wins."""
    return writes[-1] if writes else left


def _merged() -> DeltaChannel[Any]:
    return DeltaChannel(merge_all, dict, snapshot_frequency=_SNAPSHOT_EVERY)


def _concat() -> DeltaChannel[Any]:
    return DeltaChannel(concat_all, list, snapshot_frequency=_SNAPSHOT_EVERY)


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
    instruction: Annotated[str, DeltaChannel(last_of, str, snapshot_frequency=_SNAPSHOT_EVERY)]
    graph: Annotated[
        dict[str, Any], DeltaChannel(last_of, dict, snapshot_frequency=_SNAPSHOT_EVERY)
    ]
    """Current scheduling graph (``SchedulingGraph`` dump)."""
    subtasks: Annotated[dict[str, SubtaskState], _merged()]
    """Every subtask of the run by id, including ones replaced by a re-plan."""
    apps: Annotated[dict[str, str], _merged()]
    """App name -> reference of its latest snapshot in the run store."""
    steward_calls: Annotated[list[dict[str, Any]], _concat()]
    plans: Annotated[list[dict[str, Any]], _concat()]
    notes: Annotated[list[str], _concat()]
    fallbacks: Annotated[list[str], _concat()]
    """How each plan that fell back was made (see ``RunRecord.fallbacks``)."""
    replans: int
    status: str
    answer: str
    error: str | None


class WorkItem(TypedDict):
    """What ``Send`` hands to one ``work`` task."""

    subtask: SubtaskState
    inputs: dict[str, str]
