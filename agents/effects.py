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
"""

from __future__ import annotations

import time
from typing import Any

from apps.base import Tool
from memory.journal import ActionJournal, JournalEntry, Outcome, canonical


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
