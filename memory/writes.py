"""Writing entries: near-duplicate merging, size caps, pruning. Run inside a write transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlite_utils import Database

from memory.models import Entry, ExpertiseEntry, GuidelineEntry, Kind, kind_of, now_iso
from memory.rows import TABLES, from_row, to_row, tokens_key
from memory.text import NEAR_DUPLICATE, jaccard_sets, normalise

MergeMode = Literal["confirm", "import"]
"""``confirm``: a new verified success re-confirms the entry (successes + 1).
``import``: the same entry arrives from a file (counts take the maximum, so re-importing a
file changes nothing)."""

MAX_TIPS = 20
"""Tips kept per expertise entry after merges (newest first)."""


def _scope(entry: Entry) -> tuple[str, str]:
    """The column and value that limit near-duplicate candidates."""
    if isinstance(entry, GuidelineEntry):
        return "tokens_key", tokens_key(entry.task_tokens)
    return "task_token", entry.task_token


def _text(entry: Entry) -> str:
    return entry.instruction if isinstance(entry, GuidelineEntry) else entry.subtask


_SCRIPTED = "(coalesce(json_extract(provenance, '$.source'), '') = 'scripted')"


def find_near_duplicate(db: Database, entry: Entry) -> Entry | None:
    """The stored entry in the same scope whose text is near-identical to ``entry``'s, if any.

    Entries of scripted models (``source == "scripted"``) and the others never merge, so a
    replay's graph cannot reach a model under another entry's provenance."""
    kind = kind_of(entry)
    table = TABLES[kind]
    column, value = _scope(entry)
    scope = f"{column} = ? AND {_SCRIPTED} = ?"
    args = [value, int(entry.provenance.source == "scripted")]
    norm = normalise(_text(entry))
    exact = list(
        db.query(
            f"SELECT * FROM {table} WHERE {scope} AND norm = ? ORDER BY successes DESC, id LIMIT 1",
            [*args, norm],
        )
    )
    if exact:
        return from_row(kind, exact[0])
    best_id, best = None, NEAR_DUPLICATE
    mine = set(norm.split())  # ``norm`` is already words joined by single spaces
    for row in db.query(f"SELECT id, norm FROM {table} WHERE {scope}", args):
        score = jaccard_sets(mine, set(row["norm"].split()))
        if score >= best:
            best_id, best = row["id"], score
    if best_id is None:
        return None
    rows = list(db.query(f"SELECT * FROM {table} WHERE id = ?", [best_id]))
    return from_row(kind, rows[0])


def _union_tips(first: list[str], second: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for tip in [*first, *second]:
        key = normalise(tip)
        if tip.strip() and key not in seen:
            seen.add(key)
            out.append(tip)
    return out[:MAX_TIPS]


def merge(old: Entry, new: Entry, mode: MergeMode) -> Entry:
    """``old`` updated with what ``new`` brings (see :data:`MergeMode`)."""
    if mode == "confirm":
        newer, older = new, old
        counts: dict[str, Any] = {"successes": old.successes + 1, "uses": old.uses}
        updated_at = now_iso()
    else:
        newer, older = (new, old) if new.updated_at >= old.updated_at else (old, new)
        counts = {
            "successes": max(old.successes, new.successes),
            "uses": max(old.uses, new.uses),
        }
        updated_at = newer.updated_at
    common = {**counts, "id": old.id, "provenance": old.provenance, "updated_at": updated_at}
    if isinstance(old, GuidelineEntry):
        assert isinstance(newer, GuidelineEntry) and isinstance(older, GuidelineEntry)
        return old.model_copy(
            update={
                **common,
                "graph": newer.graph,
                "guideline": newer.guideline or older.guideline,
                "task_tokens": newer.task_tokens,
            }
        )
    assert isinstance(newer, ExpertiseEntry) and isinstance(older, ExpertiseEntry)
    return old.model_copy(
        update={
            **common,
            "tips": _union_tips(newer.tips, older.tips),
            "actions": newer.actions or older.actions,
        }
    )


def add(db: Database, entry: Entry, mode: MergeMode = "confirm") -> tuple[int, bool]:
    """Store ``entry`` or merge it into its near-duplicate; return ``(id, merged)``."""
    kind = kind_of(entry)
    table = db.table(TABLES[kind])
    existing = find_near_duplicate(db, entry)
    if existing is not None and existing.id is not None:
        merged = merge(existing, entry, mode)
        table.update(existing.id, to_row(merged))
        return existing.id, True
    if mode == "confirm":
        entry = entry.model_copy(update={"updated_at": now_iso()})
    table.insert(to_row(entry))
    assert table.last_rowid is not None
    return table.last_rowid, False


def evict(
    db: Database,
    kind: Kind,
    cap: int | None,
    task_token: str | None = None,
    keep_id: int | None = None,
) -> int:
    """Delete the least useful entries (fewest successes, then oldest) above ``cap``.

    For expertise the cap is per ``task_token``. ``keep_id`` (the entry just written) is never
    evicted. Returns how many rows were deleted.
    """
    if cap is None:
        return 0
    table = TABLES[kind]
    where, params = ("task_token = ?", [task_token]) if kind == "expertise" else ("1", [])
    count = db.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]
    excess = int(count) - cap
    if excess <= 0:
        return 0
    cursor = db.execute(
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} AND id IS NOT ? "
        "ORDER BY successes ASC, updated_at ASC, id ASC LIMIT ?)",
        [*params, keep_id, excess],
    )
    return int(cursor.rowcount)


def prune(
    db: Database,
    kind: Kind,
    *,
    min_successes: int | None = None,
    older_than_days: float | None = None,
    keep: int | None = None,
) -> int:
    """Delete entries of ``kind`` that match every given filter, then all but the ``keep`` most
    useful. ``min_successes``: fewer successes than this; ``older_than_days``: not updated for
    that long. Returns how many rows were deleted."""
    table = TABLES[kind]
    deleted = 0
    clauses: list[str] = []
    params: list[Any] = []
    if min_successes is not None:
        clauses.append("successes < ?")
        params.append(min_successes)
    if older_than_days is not None:
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        clauses.append("updated_at < ?")
        params.append(cutoff.isoformat(timespec="microseconds"))
    if clauses:
        deleted += db.execute(f"DELETE FROM {table} WHERE {' AND '.join(clauses)}", params).rowcount
    if keep is not None:
        deleted += db.execute(
            f"DELETE FROM {table} WHERE id NOT IN (SELECT id FROM {table} "
            "ORDER BY successes DESC, updated_at DESC, id DESC LIMIT ?)",
            [keep],
        ).rowcount
    return deleted
