"""What a run changed in its apps (in words, as ``steward show --diff`` says it) and which
memory entries went into its prompts."""

from __future__ import annotations

from typing import Any

from agents.records import RunRecord
from apps.diff import diff_states
from cli.diff_view import describe

MAX_CHANGES = 200
"""Changes listed per app; the rest are counted."""


def _inner(snapshot: dict[str, Any]) -> Any:
    """An app's own data: the ``state`` of the BFCL and Python apps' snapshots."""
    return snapshot.get("state", snapshot)


def app_changes(record: RunRecord) -> list[dict[str, Any]]:
    """One entry per app: ``changed``, ``unchanged`` or ``unknown`` (a state not saved), with
    the changes as lines (``added tweets[2]: id=2, content='hello'``)."""
    out = []
    for name, states in sorted(record.apps.items()):
        if states.before is None or states.after is None:
            missing = "before" if states.before is None else "after"
            out.append(
                {
                    "app": name,
                    "state": "unknown",
                    "note": f"its state {missing} the run was not saved",
                    "changes": [],
                    "more": 0,
                }
            )
            continue
        changes = diff_states(_inner(states.before), _inner(states.after))
        out.append(
            {
                "app": name,
                "state": "changed" if changes else "unchanged",
                "note": "",
                "changes": [describe(c, 160) for c in changes[:MAX_CHANGES]],
                "more": max(0, len(changes) - MAX_CHANGES),
            }
        )
    return out


def memory_used(retrieved: dict[str, Any]) -> list[dict[str, Any]]:
    """The memory lookups of the run that found entries: what for (``plan`` or a subtask id),
    which kind, the query, and the entries' ids with their scores."""
    out: list[dict[str, Any]] = []
    for found in retrieved.get("guidelines") or []:
        out.append(_lookup("plan", found))
    for subtask_id, lookups in (retrieved.get("expertise") or {}).items():
        for found in lookups or []:
            out.append(_lookup(str(subtask_id), found))
    return [row for row in out if row["ids"]] + [
        {"for": "errors", "kind": "error", "query": str(e), "ids": [], "scores": []}
        for e in retrieved.get("errors") or []
    ]


def _lookup(what: str, found: Any) -> dict[str, Any]:
    if not isinstance(found, dict):
        return {"for": what, "kind": "", "query": "", "ids": [], "scores": []}
    return {
        "for": what,
        "kind": str(found.get("kind") or ""),
        "query": str(found.get("query") or "")[:300],
        "ids": [int(i) for i in found.get("ids") or [] if isinstance(i, int)],
        "scores": [float(s) for s in found.get("scores") or [] if isinstance(s, int | float)],
    }
