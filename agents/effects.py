"""Side effects happen once: one subtask's tool calls on one app, through the action journal.

Every call is journaled as an intent before the app sees it and as done after. What happens to
the effects of an attempt that failed depends on the app:

- a restorable app (its snapshot holds every effect, see ``apps.App``) is put back as it was
  before the subtask, and the failed attempt's calls are marked ``undone``;
- any other app keeps them. They are *carried over*: the next attempt, and any later subtask on
  the app (a re-plan), is told about them, and a call identical to one of them (same tool, same
  arguments) is not run again: it gets the earlier call's result instead (``reused``).

A carried-over effect is claimed at most once by an attempt that has not failed, so failed
work that sent one mail lets later work skip exactly one identical mail.

A call that needs a person's approval (``agents.settings.ApprovalSettings``) goes through
:meth:`SubtaskEffects.gate` first: it is journaled as ``proposed`` (the staff agent then raises
:class:`ApprovalPending` and the run stops there, durably), or ``denied`` at once (policy
``deny``, or the very same call denied before on this app: a person is not asked twice). Once
decided, an approved call runs under the proposal's own id (:meth:`SubtaskEffects.run_approved`),
so it is made at most once whatever crashes in between.
"""

from __future__ import annotations

import time
from typing import Any

from apps.base import Tool
from core.errors import StewardError
from memory.journal import ActionJournal, Approval, JournalEntry, Outcome, canonical

DENIED_BY_POLICY = "sensitive actions are not run in this run (approval policy: deny)"


class ApprovalPending(StewardError):
    """A call waits for a person's approval; the attempt stops before it (its journal entry is
    ``entry``, status ``proposed``). The orchestrator keeps the attempt and stops the run."""

    def __init__(self, entry: JournalEntry) -> None:
        self.entry = entry
        super().__init__(f"{entry.app}.{entry.tool} ({entry.id}) waits for approval")


def decide(
    entry: JournalEntry,
    *,
    approve: bool,
    reason: str = "",
    by: str = "user",
    arguments: dict[str, Any] | None = None,
) -> JournalEntry:
    """``entry`` (a proposal) with a decision: ``approved`` (to run with ``arguments``, if
    given: edited) or ``denied`` (never to run). Not written: the caller writes it."""
    approval = (entry.approval or Approval(proposed=dict(entry.arguments))).model_copy(
        update={
            "decision": "approved" if approve else "denied",
            "reason": reason,
            "by": by,
            "decided_at": time.time(),
        }
    )
    update: dict[str, Any] = {"status": "approved" if approve else "denied", "approval": approval}
    if approve and arguments is not None:
        update["arguments"] = dict(arguments)
    return entry.model_copy(update=update)


def denial(entry: JournalEntry) -> str:
    """What the agent is told about a denied call: ``denied by the user: REASON``."""
    approval = entry.approval or Approval()
    who = "denied by the user" if approval.by == "user" else "denied"
    return f"{who}: {approval.reason or 'no reason given'}"


class SubtaskEffects:
    """The journal as seen by one subtask's staff agent on one app."""

    def __init__(
        self, journal: ActionJournal, subtask_id: str, app: str, *, restorable: bool
    ) -> None:
        self.journal = journal
        self.subtask_id = subtask_id
        self.app = app
        self.restorable = restorable
        self.attempt = 0
        self._seq = 0

    def begin(self) -> int:
        """Start the next attempt; returns its number (it continues after a resume)."""
        self.attempt = self.journal.next_attempt(self.subtask_id)
        self._seq = 0
        return self.attempt

    def resume(self, attempt: int) -> None:
        """Go on with attempt ``attempt`` (it stopped for an approval): its next call follows
        the last one it journaled."""
        self.attempt = attempt
        self._seq = max((e.seq for e in self._mine()), default=0)

    # -- calls that need approval --------------------------------------------------------------

    def gate(self, tool: Tool, arguments: dict[str, Any], *, deny: bool) -> JournalEntry:
        """Journal a call that needs approval: ``denied`` at once when ``deny`` (the policy) or
        when a person already denied the very same call on this app, else ``proposed``."""
        entry = self._entry(tool, arguments)
        now = time.time()
        earlier = self._denied_before(entry)
        if earlier is not None and earlier.approval is not None:
            approval = earlier.approval.model_copy(
                update={"proposed": dict(arguments), "proposed_at": now, "decided_at": now}
            )
            note = f"the same call was denied before ({earlier.id}): not asked again"
            return self.journal.write(
                entry.model_copy(update={"status": "denied", "approval": approval, "note": note})
            )
        approval = Approval(proposed=dict(arguments), proposed_at=now)
        if deny:
            approval = approval.model_copy(
                update={"decision": "denied", "reason": DENIED_BY_POLICY, "by": "policy",
                        "decided_at": now}
            )  # fmt: skip
        status = "denied" if deny else "proposed"
        return self.journal.write(entry.model_copy(update={"status": status, "approval": approval}))

    def decide_by_policy(self, entry: JournalEntry, *, approve: bool) -> JournalEntry:
        """Decide a waiting proposal by the run's policy (``auto`` or ``deny``, when the run
        goes on under another policy than the one it stopped under)."""
        reason = "approved by the policy (auto)" if approve else DENIED_BY_POLICY
        return self.journal.write(decide(entry, approve=approve, reason=reason, by="policy"))

    def run_approved(self, entry: JournalEntry) -> JournalEntry:
        """Journal that an approved call (or one a resume undid) is about to run, under its
        own id and with the approved arguments."""
        return self.journal.write(
            entry.model_copy(
                update={"status": "intent", "started_at": time.time(), "ended_at": 0.0,
                        "observation": None, "error": None}
            )
        )  # fmt: skip

    def _denied_before(self, entry: JournalEntry) -> JournalEntry | None:
        wanted = entry.signature()
        for earlier in self.journal.of_app(self.app):
            approval = earlier.approval
            if (
                earlier.status == "denied"
                and approval is not None
                and approval.by == "user"
                and f"{earlier.tool} {canonical(approval.proposed)}" == wanted
            ):
                return earlier
        return None

    # -- one call ------------------------------------------------------------------------------

    def claim(self, tool: Tool, arguments: dict[str, Any]) -> JournalEntry | None:
        """Record and return a carried-over call identical to this one, if there is one to
        claim; the caller then does not run the call."""
        if tool.read_only:
            return None  # reading again changes nothing and may see newer data
        wanted = f"{tool.name} {canonical(arguments)}"
        for entry in self.carried_over():
            if entry.signature() == wanted and entry.id not in self._claimed():
                self.journal.write(
                    self._entry(tool, arguments).model_copy(
                        update={
                            "status": "reused",
                            "reuses": entry.id,
                            "observation": entry.observation,
                            "ended_at": time.time(),
                        }
                    )
                )
                return entry
        return None

    def intent(self, tool: Tool, arguments: dict[str, Any]) -> JournalEntry:
        """Journal a call that is about to run."""
        return self.journal.write(self._entry(tool, arguments))

    def done(self, entry: JournalEntry, observation: Any, error: str | None) -> None:
        """Journal what the app answered."""
        self.journal.write(
            entry.model_copy(
                update={
                    "status": "done",
                    "observation": observation,
                    "error": error,
                    "ended_at": time.time(),
                }
            )
        )

    def _entry(self, tool: Tool, arguments: dict[str, Any]) -> JournalEntry:
        self._seq += 1
        return JournalEntry(
            id=f"{self.subtask_id}.{self.attempt}.{self._seq}",
            subtask_id=self.subtask_id,
            attempt=self.attempt,
            seq=self._seq,
            app=self.app,
            tool=tool.name,
            arguments=dict(arguments),
            idempotent=tool.idempotent or tool.read_only,
            read_only=tool.read_only,
            started_at=time.time(),
        )

    # -- after the verdict ----------------------------------------------------------------------

    def settle(self, succeeded: bool) -> list[JournalEntry]:
        """Record how the attempt ended. A failed attempt on a restorable app is undone (the
        caller restores the app); returns the calls whose effects were undone."""
        mine = self._mine()
        outcome: Outcome = "succeeded" if succeeded else "failed"
        self.journal.update(mine, outcome=outcome)
        if succeeded or not self.restorable:
            return []
        undone = [self.journal.entries[e.id] for e in mine if e.status == "done"]
        return self.journal.update(
            undone, status="undone", note="the failed attempt was rolled back"
        )

    # -- what earlier work did ----------------------------------------------------------------

    def carried_over(self) -> list[JournalEntry]:
        """Calls of failed or interrupted work on this app whose effects are still there."""
        return [
            e
            for e in self.journal.of_app(self.app)
            if e.in_effect and e.outcome in ("failed", "interrupted") and not e.read_only
        ]

    def earlier(self) -> list[JournalEntry]:
        """What the next attempt must be told: this subtask's earlier calls (in effect or
        undone) and failed work's calls on the app still in effect."""
        shown = {
            e.id: e
            for e in self.journal.of_subtask(self.subtask_id)
            if e.attempt < self.attempt and e.status in ("done", "undone", "reused")
        }
        for e in self.carried_over():
            shown.setdefault(e.id, e)
        return sorted(shown.values(), key=lambda e: e.started_at)

    def _mine(self) -> list[JournalEntry]:
        return [e for e in self.journal.of_subtask(self.subtask_id) if e.attempt == self.attempt]

    def _claimed(self) -> set[str]:
        """Carried-over calls already claimed by work that has not failed."""
        return {
            e.reuses
            for e in self.journal.of_app(self.app)
            if e.status == "reused" and e.reuses and e.outcome in ("", "succeeded")
        }
