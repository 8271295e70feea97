"""Conversions between stored rows and the pydantic entries."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from memory.models import Entry, ExpertiseEntry, GuidelineEntry, Kind
from memory.text import normalise

TABLES: dict[Kind, str] = {"guideline": "guidelines", "expertise": "expertise"}
"""The table that holds each kind."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def tokens_key(tokens: list[str]) -> str:
    """The lookup key of a set of task tokens (sorted, space separated)."""
    return " ".join(sorted(set(tokens)))


def to_row(entry: Entry) -> dict[str, Any]:
    """The column values for ``entry`` (without ``id``)."""
    if isinstance(entry, GuidelineEntry):
        return {
            "instruction": entry.instruction,
            "norm": normalise(entry.instruction),
            "graph": _dumps(entry.graph),
            "guideline": entry.guideline,
            "task_tokens": _dumps(entry.task_tokens),
            "tokens_key": tokens_key(entry.task_tokens),
            "outcome": entry.outcome,
            "provenance": _dumps(entry.provenance.model_dump(mode="json")),
            "uses": entry.uses,
            "successes": entry.successes,
            "updated_at": entry.updated_at,
        }
    return {
        "task_token": entry.task_token,
        "subtask": entry.subtask,
        "norm": normalise(entry.subtask),
        "tips": _dumps(entry.tips),
        "actions": _dumps([a.model_dump(mode="json") for a in entry.actions]),
        "provenance": _dumps(entry.provenance.model_dump(mode="json")),
        "uses": entry.uses,
        "successes": entry.successes,
        "updated_at": entry.updated_at,
    }


def guideline_from_row(row: dict[str, Any]) -> GuidelineEntry:
    """Rebuild a :class:`GuidelineEntry` from its row."""
    return GuidelineEntry(
        id=row["id"],
        instruction=row["instruction"],
        graph=json.loads(row["graph"]),
        guideline=row["guideline"],
        task_tokens=json.loads(row["task_tokens"]),
        outcome=row["outcome"],
        provenance=json.loads(row["provenance"]),
        uses=row["uses"],
        successes=row["successes"],
        updated_at=row["updated_at"],
    )


def expertise_from_row(row: dict[str, Any]) -> ExpertiseEntry:
    """Rebuild an :class:`ExpertiseEntry` from its row."""
    return ExpertiseEntry(
        id=row["id"],
        task_token=row["task_token"],
        subtask=row["subtask"],
        tips=json.loads(row["tips"]),
        actions=json.loads(row["actions"]),
        provenance=json.loads(row["provenance"]),
        uses=row["uses"],
        successes=row["successes"],
        updated_at=row["updated_at"],
    )


def from_row(kind: Kind, row: dict[str, Any]) -> Entry:
    """Rebuild an entry of ``kind`` from its row."""
    return guideline_from_row(row) if kind == "guideline" else expertise_from_row(row)


def read_stats(db: Database) -> dict[str, Any]:
    """Entries, successes and uses per kind, and entries per task token."""
    out: dict[str, Any] = {}
    for kind, table in TABLES.items():
        row = db.execute(
            f"SELECT count(*), coalesce(sum(successes), 0), coalesce(sum(uses), 0) FROM {table}"
        ).fetchone()
        token_sql = (
            "SELECT task_token, count(*) FROM expertise GROUP BY task_token"
            if kind == "expertise"
            else "SELECT j.value, count(*) FROM guidelines g, json_each(g.task_tokens) j "
            "GROUP BY j.value"
        )
        by_token = {str(r[0]): int(r[1]) for r in db.execute(token_sql + " ORDER BY 1")}
        out[table] = {"count": row[0], "successes": row[1], "uses": row[2], "by_token": by_token}
    return out
