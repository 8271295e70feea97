"""A person approves sensitive actions before they happen, and the run waits for them durably.

Which calls need approval: tools declared ``sensitive`` (or MCP ``destructive``), and the
``[approval] tools`` patterns of the config (``agents.settings.ApprovalSettings``). Under the
policy ``ask`` such a call stops the run (``steward run``'s default); ``auto`` runs it (what
the benchmarks use); ``deny`` refuses it at once and the staff agent adapts (the default where
no one can answer: the library, ``steward mcp-serve``, ``steward replay`` of a run that asked).

How a run waits (no blocking prompt inside a worker, see the design notes):

1. The staff agent journals the call as ``proposed`` (``memory.journal``) and raises
   ``ApprovalPending``; the subtask's work keeps the attempt so far in its partial record
   (status ``waiting``), with the app's state at the subtask's start (``start:<id>``) and at the
   stop (``waiting:<id>``), and keeps its app: no other subtask acts on it meanwhile.
2. The other subtasks go on: independent ones run to their end (each a checkpointed langgraph
   task), those that need the waiting one, or its app, do not start (``SubtaskBlocked``). Then
   the run stops with :class:`ApprovalNeededError`: status ``waiting``, exit code 4, the record
   listing the pending approval(s). The process may exit.
3. A decision (:func:`record_decisions`, ``steward approve``) is written to the journal, and
   the run resumes from its checkpoint: finished steps are not run again; the waiting
   subtask's task runs again from its start, but finds its partial record and goes on from
   the stopped step (:meth:`agents.staff.StaffAgent.resume`): the model is not asked again for
   what it proposed. The approved call runs under the proposal's journal id, once.

langgraph's own ``interrupt()`` was not used: a task that calls it is run again from its start
on resume anyway, several waiting tasks need an id-keyed ``Command(resume=...)``, and the
decision must live in the action journal in any case (it is what keeps a call from running
twice); the journal plus the partial record is the checkpoint that waits.

A kill at any moment stays correct. Before the proposal is journaled nothing ran and the
subtask starts again. While waiting, or after a decision but before the call: the resume goes
on from the stopped step (:func:`wait_points`). During the approved call: the call is an
``intent`` and ``orchestrator.interrupted`` settles it as any other (restored, re-run if
idempotent, or a person says ``--done`` / ``--not-done``), then the step goes on with that.
After the attempt moved past the approved call: the attempt counts as interrupted, as for
any killed attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.effects import decide
from agents.records import ApprovalRecord, RunRecord, SubtaskRecord
from agents.schemas import argument_problems, validator_for
from apps.world import World
from core.errors import RunError, StewardError, UserError
from memory.journal import ActionJournal, JournalEntry
from orchestrator.record import RunRecorder


class SubtaskBlocked(StewardError):
    """A subtask does not start: what it needs, or its app, waits for an approval. Its task
    raises (so nothing is checkpointed for it) and it starts on the resume."""


class ApprovalNeededError(RunError):
    """The run stopped: sensitive calls wait for a person (``steward approve RUN_ID``)."""

    exit_code = 4
    """``steward``'s exit code: waiting for a person."""

    def __init__(self, pending: list[ApprovalRecord], run_id: str) -> None:
        self.pending = pending
        lines = "; ".join(describe(a) for a in pending)
        super().__init__(
            f"waiting for approval of {len(pending)} action(s): {lines}. Approve with "
            f"`steward approve {run_id}` or deny with `steward approve {run_id} --deny REASON`",
            run_id,
        )

    @staticmethod
    def said(message: str | None) -> bool:
        """Whether ``message`` (a run's stored ``error``) is this error's."""
        return bool(message) and str(message).startswith("waiting for approval of ")


class ApprovalDecision(BaseModel):
    """A person's decision on one proposed call."""

    model_config = ConfigDict(extra="forbid")

    approve: bool = True
    reason: str = ""
    """Why (required to deny: it is what the agent is told)."""
    changes: dict[str, Any] = Field(default_factory=dict)
    """Arguments to change before the call runs (checked against the tool's schema)."""


def describe(approval: ApprovalRecord) -> str:
    """``[s1.1.2] messaging.send_message(receiver_id='U2', ...) for s1``."""
    args = ", ".join(f"{k}={v!r}" for k, v in approval.proposed.items())
    return f"[{approval.id}] {approval.app}.{approval.tool}({args[:200]}) for {approval.subtask_id}"


def approval_records(
    journal: ActionJournal, instructions: Mapping[str, str] | None = None
) -> list[ApprovalRecord]:
    """Every call of the run that needed approval, in the order proposed."""
    out = []
    for e in sorted(journal.entries.values(), key=lambda e: e.started_at):
        a = e.approval
        if a is None:
            continue
        approved = dict(e.arguments) if a.decision == "approved" else None
        out.append(
            ApprovalRecord(
                id=e.id, subtask_id=e.subtask_id,
                instruction=(instructions or {}).get(e.subtask_id, ""), app=e.app, tool=e.tool,
                proposed=a.proposed, approved=approved,
                decision=a.decision or ("withdrawn" if e.outcome else "pending"),
                reason=a.reason, by=a.by, proposed_at=a.proposed_at, decided_at=a.decided_at,
                status=e.status,
            )
        )  # fmt: skip
    return out


def pending_approvals(
    journal: ActionJournal, instructions: Mapping[str, str] | None = None
) -> list[ApprovalRecord]:
    """The calls that wait for a decision."""
    return [a for a in approval_records(journal, instructions) if a.decision == "pending"]


def record_decisions(
    journal: ActionJournal, world: World, decisions: Mapping[str, ApprovalDecision]
) -> list[JournalEntry]:
    """Write decisions on waiting proposals (by journal id), all or none: a ``UserError``
    (and nothing written) for an id that waits for nothing, a denial without a reason, or
    changed arguments that break the tool's schema."""
    waiting = {e.id: e for e in journal.entries.values() if e.awaits_decision}
    unknown = sorted(set(decisions) - set(waiting))
    if unknown:
        listed = ", ".join(sorted(waiting)) or "none"
        raise UserError(
            f"no action {', '.join(unknown)} waits for approval in run {journal.run_id} "
            f"(waiting: {listed})"
        )
    decided = []
    for action_id, decision in decisions.items():
        entry = waiting[action_id]
        if not decision.approve:
            if not decision.reason.strip():
                raise UserError(
                    f"denying {action_id} needs a reason (the agent is told it): --deny REASON"
                )
            decided.append(decide(entry, approve=False, reason=decision.reason.strip()))
            continue
        arguments = {**entry.arguments, **decision.changes} if decision.changes else None
        if arguments is not None:
            tool = next((t for t in world.get(entry.app).tools if t.name == entry.tool), None)
            problems = argument_problems(validator_for(tool), arguments) if tool else ""
            if problems:
                raise UserError(
                    f"the changed arguments of {action_id} ({entry.app}.{entry.tool}) do not "
                    f"fit the tool's schema: {problems}"
                )
        decided.append(
            decide(entry, approve=True, reason=decision.reason.strip(), arguments=arguments)
        )
    return journal.update(decided)


@dataclass(frozen=True)
class WaitPoint:
    """Where a subtask stopped for an approval, as a resume finds it."""

    subtask_id: str
    app: str
    proposal: str
    """The journal id of the call it stopped before."""
    attempt: int
    continuable: bool
    """Nothing happened in the attempt after the proposal, so the attempt goes on from the
    stopped step; otherwise (killed after it went on) it counts as interrupted."""


def wait_points(
    details: Mapping[str, SubtaskRecord], journal: ActionJournal
) -> dict[str, WaitPoint]:
    """The subtasks whose stored record says they stopped for an approval, by id: their last
    step is the ``pending`` call (waiting, or killed while the approved call was under way)."""
    points = {}
    for sid, record in details.items():
        if record.status in ("succeeded", "failed") or not record.history:
            continue
        if not record.history[-1].steps:
            continue
        step = record.history[-1].steps[-1]
        entry = journal.entries.get(step.action_id or "")
        if step.approval != "pending" or entry is None:
            continue
        later = any(
            e.seq > entry.seq for e in journal.of_subtask(sid) if e.attempt == entry.attempt
        )
        points[sid] = WaitPoint(sid, entry.app, entry.id, entry.attempt, continuable=not later)
    return points


def continuing_calls(
    points: Mapping[str, WaitPoint], journal: ActionJournal
) -> tuple[set[str], set[str]]:
    """For the resume's settling of interrupted calls: the calls of attempts that go on
    (their effects are in the app's ``waiting:`` snapshot: left as they are), and the
    proposals they stopped before (settled like any call, their attempt still open)."""
    keep: set[str] = set()
    reopen: set[str] = set()
    for point in points.values():
        if not point.continuable:
            continue
        reopen.add(point.proposal)
        keep.update(
            e.id
            for e in journal.of_subtask(point.subtask_id)
            if e.attempt == point.attempt and e.id != point.proposal
        )
    return keep, reopen


class ApprovalRecorder(RunRecorder):
    """The run's recorder, with every approval (from the journal) in the record."""

    def __init__(self, *args: Any, journal: ActionJournal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.journal = journal

    def approvals(self, state: Mapping[str, Any]) -> list[ApprovalRecord]:
        subtasks = state.get("subtasks") or {}
        return approval_records(
            self.journal, {sid: str(sub.get("instruction", "")) for sid, sub in subtasks.items()}
        )

    def _header(self, state: Mapping[str, Any]) -> dict[str, Any]:
        head = super()._header(state)
        head["approvals"] = [a.model_dump(mode="json") for a in self.approvals(state)]
        return head

    def record(self, state: dict[str, Any]) -> RunRecord:
        return super().record(state).model_copy(update={"approvals": self.approvals(state)})
