"""Full-text search over one kind of entry: FTS5 BM25 plus query-word coverage."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlite_utils import Database

from memory.models import Entry, GuidelineEntry, Kind
from memory.rows import TABLES, from_row
from memory.text import coverage, fts_query

CANDIDATES = 20
"""At least this many BM25 candidates are re-scored before the best ``k`` are kept."""


def search_text(entry: Entry) -> str:
    """The text an entry is found by (the columns its FTS index covers)."""
    if isinstance(entry, GuidelineEntry):
        return f"{entry.instruction} {entry.guideline}"
    return " ".join([entry.subtask, *entry.tips])


def filters(
    kind: Kind, *, task_token: str | None = None, task_tokens: Collection[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """SQL (on table alias ``t``) and parameters for the token filters of a search.

    ``task_token``: expertise of that token. ``task_tokens``: guidelines whose graph uses
    only those tokens.
    """
    if kind == "expertise" and task_token is not None:
        return " AND t.task_token = :token", {"token": task_token}
    if kind == "guideline" and task_tokens is not None:
        where = (
            " AND NOT EXISTS (SELECT 1 FROM json_each(t.task_tokens) j "
            "WHERE j.value NOT IN (SELECT value FROM json_each(:allowed)))"
        )
        return where, {"allowed": json.dumps(sorted(task_tokens))}
    return "", {}


def search(
    db: Database,
    kind: Kind,
    query: str,
    k: int,
    where: str = "",
    params: dict[str, Any] | None = None,
) -> list[tuple[Entry, float]]:
    """The ``k`` entries of ``kind`` most relevant to ``query``, best first, with scores.

    Score = FTS5 BM25 (the first column weighted twice) + the share of the query's words the
    entry contains. The second term keeps ranking sensible in a small memory, where BM25's
    IDF is near zero for words that half the entries share. Higher is better.
    """
    match = fts_query(query)
    if match is None or k <= 0:
        return []
    table = TABLES[kind]
    fts = f"{table}_fts"
    sql = (
        f"SELECT t.*, bm25({fts}, 2.0, 1.0) AS rank FROM {fts} JOIN {table} t "
        f"ON t.id = {fts}.rowid WHERE {fts} MATCH :match{where} ORDER BY rank, t.id "
        "LIMIT :limit"
    )
    args = {**(params or {}), "match": match, "limit": max(4 * k, CANDIDATES)}
    scored = [(from_row(kind, row), -float(row["rank"])) for row in db.query(sql, args)]
    ranked = [(e, bm25 + coverage(query, search_text(e))) for e, bm25 in scored]
    ranked.sort(key=lambda hit: -hit[1])  # stable: BM25 order breaks ties
    return ranked[:k]
