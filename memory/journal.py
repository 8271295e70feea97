"""The action journal: every tool call of a run, written before it runs and after it returns.

A tool call is first written as an ``intent``; once the app has answered it becomes ``done``
with the observation (or the tool's error). Later events change its status without deleting
it: ``undone`` when the app was put back to a state from before the call (a failed attempt
rolled back, a resume restoring a snapshot, or the user saying it did not happen), ``reused``
for a call that was not run because an identical call of failed work had already done it.
``outcome`` says how the attempt that made the call ended. An ``intent`` still without a
result after a crash is the one case nobody can answer from the journal alone: did it happen?

A call that needs a person's approval (``apps.Tool.sensitive``) is journaled first as
``proposed``, with its ``approval`` (the arguments as proposed, and later the decision). A
person's decision turns it into ``approved`` (not run yet) or ``denied`` (never run); an
approved call then goes ``intent`` -> ``done`` like any other, under the same id, so a resume
can tell a proposal waiting for a decision, an approved call not yet made, and a call under way
apart. Rows written before approvals existed have no ``approval`` and read as before.

Rows live in the run store's file (table ``actions``), one transaction per write, so a killed
process loses at most the call it was making, and that call is still an ``intent``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memory.runs import RunStore

ActionStatus = Literal["intent", "done", "undone", "reused", "proposed", "approved", "denied"]
Outcome = Literal["", "succeeded", "failed", "interrupted"]
Verdict = Literal["", "approved", "denied"]

_COLUMNS = (
    "subtask_id",
    "attempt",
    "seq",
    "app",
    "tool",
    "arguments",
    "status",
    "observation",
    "error",
    "reuses",
    "idempotent",
    "read_only",
    "outcome",
    "note",
    "started_at",
    "ended_at",
    "approval",
)


class Approval(BaseModel):
    """A person's (or the policy's) say on a call that needed approval."""

    model_config = ConfigDict(extra="forbid")

    proposed: dict[str, Any] = Field(default_factory=dict)
    """The arguments as the agent proposed them (the entry's ``arguments`` are the ones that
    run: the same, or as a person edited them)."""
    decision: Verdict = ""
    """Empty while it waits."""
    reason: str = ""
    """Why it was denied (or a note on the approval)."""
    by: str = ""
    """Who decided: ``user`` (a person) or ``policy`` (the run's ``--approve`` policy, or an
    identical call denied before)."""
    proposed_at: float = 0.0
    decided_at: float = 0.0


class JournalEntry(BaseModel):
    """One tool call of a run."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """``<subtask id>.<attempt>.<seq>``, unique within the run."""
    subtask_id: str
    attempt: int
    seq: int
    app: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    status: ActionStatus = "intent"
    observation: Any = None
    error: str | None = None
    """The tool's error, when it failed (the app saw the call)."""
    reuses: str | None = None
    """For a ``reused`` call: the id of the earlier call whose result it returned."""
    idempotent: bool = False
    """The tool may run twice with the effect of once (from the tool's declaration)."""
    read_only: bool = False
    """The tool changes nothing (from the tool's declaration)."""
    outcome: Outcome = ""
    """How the attempt that made the call ended; empty while it runs (or if it was killed)."""
    note: str = ""
    """Why the status changed (e.g. who decided that an unknown call happened)."""
    started_at: float = 0.0
    ended_at: float = 0.0
    approval: Approval | None = None
    """Set for a call that needed approval (see the module docs)."""

    @property
    def in_effect(self) -> bool:
        """The call ran, did not fail, and nothing put the app back to before it."""
        return self.status == "done" and self.error is None

    def signature(self) -> str:
        """What makes two calls the same call: the tool and its arguments."""
        return f"{self.tool} {canonical(self.arguments)}"

    @property
    def awaits_decision(self) -> bool:
        """A proposal no one has decided on, in an attempt that has not ended."""
        return self.status == "proposed" and self.outcome == ""


def canonical(arguments: dict[str, Any]) -> str:
    """Arguments as canonical JSON (sorted keys), to compare calls."""
    return json.dumps(arguments, sort_keys=True, default=str, separators=(",", ":"))


class ActionJournal:
    """One run's journal: an in-memory copy, written through to the run store (if any)."""

    def __init__(self, store: RunStore | None, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.entries: dict[str, JournalEntry] = {}
        if store is not None:
            _create(store)

    def load(self) -> ActionJournal:
        """Read what earlier processes journaled for this run."""
        if self.store is None:
            return self
        rows = self.store.db.query(
            "select * from actions where run_id = ? order by rowid", [self.run_id]
        )
        for row in rows:
            entry = _from_row(row)
            self.entries[entry.id] = entry
        return self

    def write(self, entry: JournalEntry) -> JournalEntry:
        """Insert or replace ``entry`` (one transaction)."""
        self._put([entry])
        return entry

    def update(self, entries: Iterable[JournalEntry], **fields: Any) -> list[JournalEntry]:
        """Change ``fields`` of several entries, in one transaction; returns the new entries."""
        changed = [e.model_copy(update=fields) for e in entries]
        self._put(changed)
        return changed

    def _put(self, entries: list[JournalEntry]) -> None:
        for entry in entries:
            self.entries[entry.id] = entry
        if self.store is None or not entries:
            return
        rows = [_to_row(self.run_id, e) for e in entries]
        sql = (
            f"INSERT OR REPLACE INTO actions ({', '.join(rows[0])}) "
            f"VALUES ({', '.join('?' for _ in rows[0])})"
        )
        with self.store._transaction():
            for row in rows:
                self.store.db.execute(sql, list(row.values()))

    def of_subtask(self, subtask_id: str) -> list[JournalEntry]:
        return [e for e in self.entries.values() if e.subtask_id == subtask_id]

    def of_app(self, app: str) -> list[JournalEntry]:
        return [e for e in self.entries.values() if e.app == app]

    def next_attempt(self, subtask_id: str) -> int:
        """The number of the subtask's next attempt (continues after a resume)."""
        return max((e.attempt for e in self.of_subtask(subtask_id)), default=0) + 1


def _create(store: RunStore) -> None:
    with store._transaction():
        store.db.execute(
            "CREATE TABLE IF NOT EXISTS actions (run_id TEXT NOT NULL, id TEXT NOT NULL, "
            "subtask_id TEXT, attempt INTEGER, seq INTEGER, app TEXT, tool TEXT, "
            "arguments TEXT, status TEXT, observation TEXT, error TEXT, reuses TEXT, "
            "idempotent INTEGER, read_only INTEGER, outcome TEXT, note TEXT, "
            "started_at REAL, ended_at REAL, approval TEXT, PRIMARY KEY (run_id, id))"
        )
        columns = {row[1] for row in store.db.execute("PRAGMA table_info(actions)").fetchall()}
        if "approval" not in columns:  # a file from before approvals
            store.db.execute("ALTER TABLE actions ADD COLUMN approval TEXT")


def _to_row(run_id: str, entry: JournalEntry) -> dict[str, Any]:
    data = entry.model_dump()
    row: dict[str, Any] = {"run_id": run_id, "id": entry.id}
    for column in _COLUMNS:
        value = data[column]
        if column in ("arguments", "observation"):
            value = json.dumps(value, default=str)
        elif column == "approval":
            value = None if value is None else json.dumps(value, default=str)
        elif column in ("idempotent", "read_only"):
            value = int(value)
        row[column] = value
    return row


def _from_row(row: dict[str, Any]) -> JournalEntry:
    data = {column: row[column] for column in _COLUMNS}
    data["arguments"] = json.loads(row["arguments"] or "{}")
    data["observation"] = json.loads(row["observation"]) if row["observation"] else None
    data["idempotent"] = bool(row["idempotent"])
    data["read_only"] = bool(row["read_only"])
    data["approval"] = json.loads(row["approval"]) if row["approval"] else None
    return JournalEntry(id=row["id"], **data)
