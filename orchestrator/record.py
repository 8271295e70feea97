"""The run record: built from the graph state and the subtask details, saved as the run goes.

``RunRecorder`` writes after every step only what the step changed (subtask statuses, a
finished subtask's record, the run's progress; the header when the plan or the steward's calls
change), so the cost of saving stays flat however long the run; ``build_record`` makes the
complete ``RunRecord`` once, at the end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agents.plan import SchedulingGraph
from agents.records import AppStates, RunRecord, SubtaskRecord
from core.usage import CallRecord, Usage
from memory.runs import RunStore, SubtaskRow

_SUMMARY_FIELDS = tuple(SubtaskRecord.model_fields)


def subtask_usage(record: SubtaskRecord) -> dict[str, Usage]:
    """Usage of one subtask by agent: its staff calls, and the steward's verdicts."""
    by_agent: dict[str, Usage] = {}
    for attempt in record.history:
        for call in attempt.calls:
            key = call.role or record.task_token
            by_agent[key] = by_agent.get(key, Usage()) + call.usage
        if attempt.verdict is not None and attempt.verdict.call is not None:
            by_agent["steward"] = by_agent.get("steward", Usage()) + attempt.verdict.call.usage
    return by_agent


def full_subtask(
    sub: Mapping[str, Any], detail: SubtaskRecord | Mapping[str, Any] | None
) -> SubtaskRecord:
    """The subtask's stored record (or its summary from the state) with its current status."""
    if detail is None:
        return SubtaskRecord.model_validate({k: v for k, v in sub.items() if k in _SUMMARY_FIELDS})
    full = detail if isinstance(detail, SubtaskRecord) else SubtaskRecord.model_validate(detail)
    return full.model_copy(update={"status": sub.get("status", full.status)})


def build_record(
    state: dict[str, Any],
    details: Mapping[str, SubtaskRecord | Mapping[str, Any]],
    *,
    started_at: float,
    settings: dict[str, Any] | None = None,
    retrieved: dict[str, Any] | None = None,
) -> RunRecord:
    """A complete record: subtask summaries from ``state``, their histories from ``details``."""
    subtasks = [
        full_subtask(sub, details.get(sub_id))
        for sub_id, sub in (state.get("subtasks") or {}).items()
    ]
    steward_calls = [CallRecord.model_validate(c) for c in state.get("steward_calls") or []]
    by_agent: dict[str, Usage] = {}
    for call in steward_calls:
        by_agent["steward"] = by_agent.get("steward", Usage()) + call.usage
    for sub in subtasks:
        for key, usage in subtask_usage(sub).items():
            by_agent[key] = by_agent.get(key, Usage()) + usage
    now = time.time()
    graph = state.get("graph")
    return RunRecord(
        run_id=state.get("run_id", ""),
        instruction=state.get("instruction", ""),
        status=state.get("status") or "planning",
        graph=SchedulingGraph.model_validate(graph) if graph else None,
        subtasks=subtasks,
        answer=state.get("answer") or "",
        error=state.get("error"),
        replans=state.get("replans") or 0,
        notes=list(state.get("notes") or []),
        fallbacks=list(state.get("fallbacks") or []),
        steward_calls=steward_calls,
        plans=[SchedulingGraph.model_validate(p) for p in state.get("plans") or []],
        retrieved=dict(retrieved or {}),
        usage=Usage.total(by_agent.values()),
        usage_by_agent=by_agent,
        started_at=started_at,
        ended_at=now,
        wall_s=round(now - started_at, 3) if started_at else 0.0,
        settings=dict(settings or {}),
    )


class RunRecorder:
    """Keeps one run's record in a ``RunStore`` up to date, step by step."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        *,
        started_at: float,
        settings: dict[str, Any],
        retrieved: dict[str, Any],
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.started_at = started_at
        self.settings = settings
        self.retrieved = retrieved
        self.details: dict[str, SubtaskRecord] = {}
        """Subtask records with their histories, as written to the store."""
        self._status: dict[str, str] = {}
        self._seen: dict[str, Any] = {}
        self._usage: dict[str, dict[str, Usage]] = {}
        self._sub_total: dict[str, Usage] = {}
        self._usage_version = 0
        self._header_key: tuple[Any, ...] | None = None
        self._progress_key: tuple[Any, ...] | None = None

    def load(self) -> None:
        """Read back what a previous process stored for this run (to resume it)."""
        for sub_id, data in self.store.details(self.run_id).items():
            record = SubtaskRecord.model_validate(data)
            self.details[sub_id] = record
            self._status[sub_id] = record.status
            self._set_usage(sub_id, subtask_usage(record))

    def subtask(self, record: SubtaskRecord) -> None:
        """Store a subtask's record (finished, or partial when its work was interrupted)."""
        self.details[record.id] = record
        self._status[record.id] = record.status
        self._set_usage(record.id, subtask_usage(record))
        found = (self.retrieved.get("expertise") or {}).get(record.id)
        self.store.save_detail(
            self.run_id, record.id, record.model_dump(mode="json"), retrieved=found
        )

    def step(self, state: Mapping[str, Any], *, final: bool = False) -> None:
        """Save what changed since the last step (everything when ``final``)."""
        rows: list[SubtaskRow] = []
        for sub_id, sub in (state.get("subtasks") or {}).items():
            if self._seen.get(sub_id) is sub:
                continue
            self._seen[sub_id] = sub
            status = sub.get("status", "")
            if sub_id not in self._status:
                summary = {k: v for k, v in sub.items() if k in _SUMMARY_FIELDS}
                rows.append((sub_id, status, summary))
            elif self._status[sub_id] != status:
                rows.append((sub_id, status, None))
            self._status[sub_id] = status
        header_key = (
            state.get("instruction"),
            len(state.get("plans") or ()),
            len(state.get("steward_calls") or ()),
            len(state.get("notes") or ()),
            len(state.get("fallbacks") or ()),
            len(self.retrieved.get("guidelines") or ()),  # expertise goes with each subtask
        )
        header = self._header(state) if final or header_key != self._header_key else None
        progress = self._progress(state, final=final)
        if header is None and progress is None and not rows:
            return
        self.store.save_step(self.run_id, header=header, progress=progress, subtasks=rows)
        self._header_key = header_key

    def record(self, state: dict[str, Any]) -> RunRecord:
        """The complete run record, with the apps' states before and after (as stored)."""
        record = build_record(
            state,
            self.details,
            started_at=self.started_at,
            settings=self.settings,
            retrieved=self.retrieved,
        )
        apps = self.store.app_states(self.run_id)
        return record.model_copy(
            update={"apps": {k: AppStates.model_validate(v) for k, v in apps.items()}}
        )

    def _header(self, state: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "instruction": state.get("instruction", ""),
            "graph": state.get("graph") or None,
            "notes": list(state.get("notes") or []),
            "fallbacks": list(state.get("fallbacks") or []),
            "steward_calls": list(state.get("steward_calls") or []),
            "plans": list(state.get("plans") or []),
            "retrieved": {k: v for k, v in self.retrieved.items() if k != "expertise"},
            "started_at": self.started_at,
            "settings": self.settings,
        }

    def _progress(self, state: Mapping[str, Any], *, final: bool) -> dict[str, Any] | None:
        calls = state.get("steward_calls") or []
        key = (
            state.get("status"),
            state.get("answer"),
            state.get("error"),
            state.get("replans"),
            len(calls),
            self._usage_version,
        )
        if not final and key == self._progress_key:
            return None
        self._progress_key = key
        by_agent = dict(self._sub_total)
        for call in calls:
            usage = Usage.model_validate(call.get("usage") or {})
            by_agent["steward"] = by_agent.get("steward", Usage()) + usage
        now = time.time()
        return {
            "status": state.get("status") or "planning",
            "answer": state.get("answer") or "",
            "error": state.get("error"),
            "replans": state.get("replans") or 0,
            "usage": Usage.total(by_agent.values()).model_dump(),
            "usage_by_agent": {k: v.model_dump() for k, v in by_agent.items()},
            "ended_at": now,
            "wall_s": round(now - self.started_at, 3) if self.started_at else 0.0,
        }

    def _set_usage(self, sub_id: str, by_agent: dict[str, Usage]) -> None:
        old = self._usage.get(sub_id, {})
        for key in set(old) | set(by_agent):
            total = self._sub_total.get(key, Usage())
            total = _minus(total, old[key]) if key in old else total
            self._sub_total[key] = total + by_agent[key] if key in by_agent else total
        self._usage[sub_id] = by_agent
        self._usage_version += 1


def _minus(a: Usage, b: Usage) -> Usage:
    return Usage(
        prompt_tokens=a.prompt_tokens - b.prompt_tokens,
        completion_tokens=a.completion_tokens - b.completion_tokens,
        calls=a.calls - b.calls,
        latency_s=a.latency_s - b.latency_s,
    )
