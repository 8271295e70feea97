"""On resume: settle the tool calls of the attempts a crash interrupted.

A killed process leaves attempts without an outcome. Their calls are settled before the run
goes on:

- on a restorable app the resume puts back the state from before the interrupted subtask, so
  its calls are ``undone``;
- on any other app a finished call stays in effect: its attempt counts as failed work, so the
  next attempt is told about it and does not repeat it;
- a call journaled as an intent but never answered may or may not have happened. It is
  re-run when its tool is idempotent (or only reads); for any other tool the run stops with
  :class:`DecisionNeededError` until a person says what happened
  (``steward resume RUN_ID --done ID`` or ``--not-done ID``).

An attempt that stopped for an approval and goes on from there (``orchestrator.approval``) is
not interrupted: its calls are left as they are (``keep``), and the call it stopped before is
settled like any other if it was under way, its attempt left open (``reopen``). A proposal
(``proposed``, ``approved``, ``denied``) never ran: it is left as it is, its attempt's outcome
recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from typing import Literal

from apps.base import can_roll_back
from apps.world import World
from core.errors import RunError, ToolError, UserError
from memory.journal import ActionJournal, JournalEntry

log = logging.getLogger("steward.orchestrator")

Decision = Literal["done", "not_done"]
"""What a person says about a call that may or may not have happened."""


class DecisionNeededError(RunError):
    """A resumed run cannot tell whether some calls happened; a person must say."""

    exit_code = 4
    """``steward``'s exit code: waiting for a person."""

    def __init__(self, entries: list[JournalEntry], run_id: str) -> None:
        self.entries = entries
        lines = "; ".join(describe(e) for e in entries)
        flags = " ".join(f"--done {e.id}" for e in entries)
        super().__init__(
            f"the run was killed while {len(entries)} call(s) were under way and they may or "
            f"may not have happened: {lines}. Check the app(s), then continue with "
            f"`steward resume {run_id} {flags}` if it happened, or with --not-done instead of "
            "--done if it did not",
            run_id,
        )


def describe(entry: JournalEntry) -> str:
    """``[s1.1.1] mail.send({...})``."""
    args = ", ".join(f"{k}={v!r}" for k, v in entry.arguments.items())
    return f"[{entry.id}] {entry.app}.{entry.tool}({args[:200]})"


def open_calls(journal: ActionJournal) -> list[JournalEntry]:
    """Calls of attempts that have no outcome (interrupted, or still running)."""
    return [e for e in journal.entries.values() if e.outcome == "" and e.subtask_id]


def settle_interrupted(
    journal: ActionJournal,
    world: World,
    decisions: Mapping[str, Decision] | None = None,
    *,
    keep: Collection[str] = (),
    reopen: Collection[str] = (),
) -> None:
    """Settle every call of an interrupted attempt (see the module docs); raises
    :class:`DecisionNeededError` for the intents only a person can settle (the others are
    settled all the same). Calls in ``keep`` are left alone; those in ``reopen`` are settled
    but their attempt stays open (it goes on after an approval)."""
    decisions = dict(decisions or {})
    calls = [e for e in open_calls(journal) if e.id not in keep]
    pending = {e.id for e in calls if e.status == "intent"}
    unknown = sorted(set(decisions) - pending)
    if unknown:
        listed = ", ".join(sorted(pending)) or "none"
        raise UserError(
            f"no call {', '.join(unknown)} is waiting for a decision in this run "
            f"(waiting: {listed})"
        )
    undecided: list[JournalEntry] = []
    for entry in calls:
        settled = _settle(entry, world, decisions.get(entry.id))
        if settled is None:
            undecided.append(entry)
            continue
        if entry.id not in reopen:
            settled = settled.model_copy(update={"outcome": "interrupted"})
        if settled != entry:
            journal.write(settled)
    if undecided:
        raise DecisionNeededError(undecided, journal.run_id)


def _settle(entry: JournalEntry, world: World, decision: Decision | None) -> JournalEntry | None:
    app = world.get(entry.app)
    if can_roll_back(app):
        if entry.status in ("intent", "done"):
            return entry.model_copy(
                update={"status": "undone", "note": "the resume restored the app to before it"}
            )
        return entry
    if entry.status != "intent":
        return entry  # done calls stay in effect; reused ones claimed nothing that lasts
    if decision == "done":
        return entry.model_copy(
            update={"status": "done", "note": "a person said it happened; its result is unknown"}
        )
    if decision == "not_done":
        return entry.model_copy(
            update={"status": "undone", "note": "a person said it did not happen"}
        )
    if entry.read_only:
        return entry.model_copy(update={"status": "undone", "note": "a read: nothing to settle"})
    if not entry.idempotent:
        return None
    log.info("re-running idempotent call %s after the crash", entry.id)
    try:
        observation, error = app.call(entry.tool, entry.arguments), None
    except ToolError as exc:
        observation, error = None, str(exc)
    return entry.model_copy(
        update={
            "status": "done",
            "observation": observation,
            "error": error,
            "ended_at": time.time(),
            "note": "re-run on resume: the tool is idempotent",
        }
    )
