"""Where the model calls go: counts by purpose, re-asks, retries and plan fallbacks.

A run record keeps every model call as a ``CallRecord`` with a ``purpose``: the steward's
``plan``, ``replan`` and ``answer`` (and ``summarize`` when memory learns) in
``steward_calls``, each staff action (``act``) in its attempt's ``calls`` and each verdict
(``evaluate``) in ``attempt.verdict.call``. A record's ``usage.calls`` counts the requests it
took, so each record beyond its first request adds re-asks. Counted per turn, per task, per
benchmark run: the purposes plus the re-asks add up to the run's model calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from agents.records import RunRecord
from core.usage import CallRecord

PURPOSES: tuple[str, ...] = ("plan", "replan", "act", "evaluate", "answer", "summarize")
"""The purposes counted on their own; any other goes to ``other``."""


def _add_maps(first: Mapping[str, int], second: Mapping[str, int]) -> dict[str, int]:
    return {k: first.get(k, 0) + second.get(k, 0) for k in sorted({*first, *second})}


class CallCounts(BaseModel):
    """Model calls by purpose, with their re-asks, subtask retries and plan fallbacks."""

    model_config = ConfigDict(extra="forbid")

    plan: int = 0
    """Planning calls (a plan's repair rounds included)."""
    replan: int = 0
    """Re-planning calls."""
    act: int = 0
    """Staff actions (the single agent's calls too)."""
    evaluate: int = 0
    """The steward's verdicts on attempts."""
    answer: int = 0
    """The steward's final answers."""
    summarize: int = 0
    """Summaries of verified runs written into memory."""
    other: int = 0
    """Calls with any other purpose."""
    reasks: int = 0
    """Requests beyond the first inside those calls (``usage.calls - 1`` per call record):
    structured-output repairs and empty answers asked again."""
    retries: int = 0
    """Subtask attempts beyond the first."""
    fallbacks: dict[str, int] = Field(default_factory=dict)
    """Plans or re-plans that fell back, by kind (``template``, ``apps``)."""

    @property
    def calls(self) -> int:
        """Call records counted (every purpose)."""
        by_purpose = (self.plan, self.replan, self.act, self.evaluate, self.answer)
        return sum(by_purpose) + self.summarize + self.other

    @property
    def requests(self) -> int:
        """Requests sent: the calls and their re-asks (a run's ``usage.calls``)."""
        return self.calls + self.reasks

    def __add__(self, other: CallCounts) -> CallCounts:
        fields = {p: getattr(self, p) + getattr(other, p) for p in (*PURPOSES, "other")}
        return CallCounts(
            **fields,
            reasks=self.reasks + other.reasks,
            retries=self.retries + other.retries,
            fallbacks=_add_maps(self.fallbacks, other.fallbacks),
        )

    @classmethod
    def total(cls, items: Iterable[CallCounts]) -> CallCounts:
        """The sum of ``items``."""
        out = cls()
        for item in items:
            out = out + item
        return out


class CallMeans(BaseModel):
    """:class:`CallCounts` averaged over tasks."""

    model_config = ConfigDict(extra="forbid")

    plan: float = 0.0
    replan: float = 0.0
    act: float = 0.0
    evaluate: float = 0.0
    answer: float = 0.0
    summarize: float = 0.0
    other: float = 0.0
    reasks: float = 0.0
    retries: float = 0.0
    fallbacks: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def of(cls, total: CallCounts, tasks: int) -> CallMeans:
        """``total`` divided by ``tasks`` (zeros for no task), to two decimals."""
        n = max(tasks, 1)
        data = total.model_dump(exclude={"fallbacks"})
        means = {k: round(v / n, 2) if tasks else 0.0 for k, v in data.items()}
        fallbacks = {k: round(v / n, 2) if tasks else 0.0 for k, v in total.fallbacks.items()}
        return cls(**means, fallbacks=fallbacks)


def count_calls(calls: Iterable[CallRecord]) -> CallCounts:
    """Call records counted by purpose, with their re-asks."""
    counts: dict[str, int] = {}
    reasks = 0
    for call in calls:
        key = call.purpose if call.purpose in PURPOSES else "other"
        counts[key] = counts.get(key, 0) + 1
        reasks += max(0, call.usage.calls - 1)
    return CallCounts.model_validate({**counts, "reasks": reasks})


def record_calls(record: RunRecord) -> list[CallRecord]:
    """Every call record of a run: the steward's, each attempt's actions and verdict."""
    calls = list(record.steward_calls)
    for sub in record.subtasks:
        for attempt in sub.history:
            calls.extend(attempt.calls)
            if attempt.verdict is not None and attempt.verdict.call is not None:
                calls.append(attempt.verdict.call)
    return calls


def count_record(record: RunRecord) -> CallCounts:
    """A run's calls by purpose, re-asks, subtask retries and plan fallbacks by kind."""
    counts = count_calls(record_calls(record))
    counts.retries = sum(max(0, len(sub.history) - 1) for sub in record.subtasks)
    fallbacks: dict[str, int] = {}
    for entry in record.fallbacks:
        kind = entry.split(":", 1)[0].strip() or "other"
        fallbacks[kind] = fallbacks.get(kind, 0) + 1
    counts.fallbacks = fallbacks
    return counts
