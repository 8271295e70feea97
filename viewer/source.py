"""What the viewer reads: run records and the action journal, from a run store (read only).

The running process writes the store after every step (and the journal around every tool
call), so reading it again shows a run as it goes, from any process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agents.records import RunRecord
from memory.runs import RunStore


@dataclass
class ToolCall:
    """One tool call from the action journal (``memory.journal``), as the view needs it."""

    id: str
    subtask_id: str
    attempt: int
    app: str
    tool: str
    status: str
    """``intent`` (running, or lost in a crash), ``done``, ``undone`` or ``reused``."""
    started_at: float
    ended_at: float
    error: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


def load_actions(store: RunStore, run_id: str) -> list[ToolCall]:
    """The journal's tool calls of a run, in the order they were written (none when the store
    has no journal yet)."""
    if not store.db["actions"].exists():
        return []
    rows = store.db.query(
        "select id, subtask_id, attempt, app, tool, status, started_at, ended_at, error, "
        "arguments from actions where run_id = ? order by rowid",
        [run_id],
    )
    out = []
    for row in rows:
        if not row["subtask_id"]:  # bookkeeping entries (e.g. memory learning), not calls
            continue
        try:
            arguments = json.loads(row["arguments"] or "{}")
        except ValueError:
            arguments = {}
        out.append(
            ToolCall(
                id=str(row["id"]),
                subtask_id=str(row["subtask_id"]),
                attempt=int(row["attempt"] or 0),
                app=str(row["app"] or ""),
                tool=str(row["tool"] or ""),
                status=str(row["status"] or ""),
                started_at=float(row["started_at"] or 0.0),
                ended_at=float(row["ended_at"] or 0.0),
                error=row["error"],
                arguments=arguments if isinstance(arguments, dict) else {},
            )
        )
    return out


def load_record(store: RunStore, run_id: str) -> RunRecord:
    """A run's record (a unique prefix of its id is enough); ``RunNotFoundError`` (a user
    error, one line) when there is none."""
    return RunRecord.model_validate(store.load_run(run_id))


def version(store: RunStore, run_id: str) -> str:
    """A tag that changes whenever the run's record or journal changes (an HTTP ETag)."""
    rows = list(store.db.query("select updated_at from runs where run_id = ?", [run_id]))
    updated = rows[0]["updated_at"] if rows else None
    actions: Any = None
    if store.db["actions"].exists():
        found = list(
            store.db.query(
                "select count(*) as n, max(ended_at) as last, max(rowid) as r from actions "
                "where run_id = ?",
                [run_id],
            )
        )
        actions = [found[0]["n"], found[0]["last"], found[0]["r"]] if found else None
    details = list(
        store.db.query(
            "select count(*) as n, group_concat(status) as s from details where run_id = ?",
            [run_id],
        )
    )
    return json.dumps([updated, actions, details[0]["n"], details[0]["s"]], default=str)
