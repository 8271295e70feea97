"""Vectors of the stored entries and the ``embedding`` / ``hybrid`` searches over them.

A vector is kept per (kind, entry id, model) in the ``embeddings`` table as float32 bytes.
It embeds the entry's task text (a guideline's instruction, an expertise entry's subtask:
the text a later query resembles). A store whose retrieval is not ``fts`` writes the vector
when it adds an entry; missing ones (entries written with ``fts`` or imported) are computed at
search time in one batch. Triggers drop them with their entries (migration 0002).

The model runs outside every database transaction, so a long batch never holds the write
lock; a vector is stored only if its entry still has the text that was embedded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlite_utils import Database

from memory import search as fts
from memory.db import Connection
from memory.embedding import Encoder, Retrieval
from memory.models import Entry, Kind
from memory.rows import TABLES, from_row
from memory.text import fts_query

log = logging.getLogger("steward.memory")

TEXT_COLUMNS: dict[Kind, str] = {"guideline": "instruction", "expertise": "subtask"}
"""The column whose text is embedded, per kind."""

MIN_SIMILARITY = 0.2
"""Entries less similar than this (cosine) to the query are not returned. With
all-MiniLM-L6-v2, unrelated task sentences scored below 0.15 in our checks and paraphrases
("book a flight" / "purchase a plane ticket": 0.67) well above."""

RRF_K = 60
"""The constant of reciprocal-rank fusion: score = sum over rankings of 1 / (RRF_K + rank)."""

Vectors = npt.NDArray[np.float32]
Candidate = tuple[int, str, bytes | None]


def to_blob(vector: Vectors) -> bytes:
    """A vector as little-endian float32 bytes."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blobs(blobs: Sequence[bytes], dimensions: int) -> Vectors:
    """Stored vectors as a ``(len(blobs), dimensions)`` float32 matrix."""
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dimensions)
    return matrix.astype(np.float32)


def _candidates(
    db: Database,
    kind: Kind,
    model: str,
    where: str = "",
    params: dict[str, Any] | None = None,
    ids: Collection[int] | None = None,
) -> list[Candidate]:
    """``(id, text, vector bytes or None)`` of the entries of ``kind`` that pass the filter."""
    table, column = TABLES[kind], TEXT_COLUMNS[kind]
    args: dict[str, Any] = {**(params or {}), "kind": kind, "model": model}
    if ids is not None:
        wanted = sorted({int(i) for i in ids})
        where += f" AND t.id IN ({', '.join(f':id{n}' for n in range(len(wanted)))})"
        args.update({f"id{n}": i for n, i in enumerate(wanted)})
    sql = (
        f"SELECT t.id, t.{column}, v.vector FROM {table} t LEFT JOIN embeddings v "
        "ON v.kind = :kind AND v.entry_id = t.id AND v.model = :model "
        f"WHERE 1{where} ORDER BY t.id"
    )
    return [(int(r[0]), str(r[1]), r[2]) for r in db.execute(sql, args).fetchall()]


def missing_ids(db: Database, kind: Kind, model: str) -> list[int]:
    """Ids of the entries of ``kind`` without a vector of ``model``, oldest first."""
    return [entry_id for entry_id, _, blob in _candidates(db, kind, model) if blob is None]


def _save(db: Database, kind: Kind, model: str, computed: Sequence[tuple[int, str, bytes]]) -> int:
    """Store vectors whose entry still exists with the embedded text; return how many."""
    table, column = TABLES[kind], TEXT_COLUMNS[kind]
    saved = 0
    for entry_id, text, blob in computed:
        row = db.execute(f"SELECT {column} FROM {table} WHERE id = ?", [entry_id]).fetchone()
        if row is None or row[0] != text:
            continue  # deleted or changed since it was read: a later search embeds it again
        db.execute(
            "INSERT OR REPLACE INTO embeddings (kind, entry_id, model, vector) VALUES (?, ?, ?, ?)",
            [kind, entry_id, model, blob],
        )
        saved += 1
    return saved


def _usable(blob: bytes | None, dimensions: int) -> bool:
    return blob is not None and len(blob) == 4 * dimensions


def embed_entries(conn: Connection, encoder: Encoder, kind: Kind, ids: Collection[int]) -> int:
    """Compute and store the missing vectors of the entries ``ids``; return how many."""
    rows = conn.read(lambda db: _candidates(db, kind, encoder.name, ids=ids))
    todo = [(entry_id, text) for entry_id, text, blob in rows if blob is None]
    if not todo:
        return 0
    vectors = encoder.encode([text for _, text in todo])
    computed = [(i, text, to_blob(v)) for (i, text), v in zip(todo, vectors, strict=True)]
    return conn.write(lambda db: _save(db, kind, encoder.name, computed))


_backfill_lock = threading.Lock()


def _backfill(
    conn: Connection,
    encoder: Encoder,
    kind: Kind,
    rows: list[Candidate],
    dimensions: int,
    where: str,
    params: dict[str, Any] | None,
) -> list[Candidate]:
    """``rows`` with every missing vector computed and stored. One backfill at a time: threads
    that search meanwhile wait for it and then find the vectors, instead of all computing them."""
    if all(_usable(blob, dimensions) for _, _, blob in rows):
        return rows
    with _backfill_lock:
        rows = conn.read(lambda db: _candidates(db, kind, encoder.name, where, params))
        todo = [(i, text) for i, text, blob in rows if not _usable(blob, dimensions)]
        if not todo:
            return rows
        started = time.perf_counter()
        vectors = encoder.encode([text for _, text in todo])
        computed = [(i, text, to_blob(v)) for (i, text), v in zip(todo, vectors, strict=True)]
        saved = conn.write(lambda db: _save(db, kind, encoder.name, computed))
        log.info(
            "memory: embedded %d %s entries in %.1f s (%d stored)",
            len(todo),
            kind,
            time.perf_counter() - started,
            saved,
        )
    fresh = {i: blob for i, _, blob in computed}
    return [(i, text, fresh.get(i, blob)) for i, text, blob in rows]


def rank(
    conn: Connection,
    encoder: Encoder,
    kind: Kind,
    query: str,
    where: str = "",
    params: dict[str, Any] | None = None,
) -> list[tuple[int, float]]:
    """Every entry of ``kind`` that passes the filter as ``(id, cosine similarity)``, most
    similar first. Missing vectors are computed in one batch and stored."""
    rows = conn.read(lambda db: _candidates(db, kind, encoder.name, where, params))
    if not rows:
        return []
    query_vector = encoder.encode([query])[0]
    dimensions = int(query_vector.shape[0])
    rows = _backfill(conn, encoder, kind, rows, dimensions, where, params)
    ids = [entry_id for entry_id, _, _ in rows]
    similarities = from_blobs([blob or b"" for _, _, blob in rows], dimensions) @ query_vector
    order = np.argsort(-similarities, kind="stable")  # ties: lower id first
    return [(ids[i], float(similarities[i])) for i in order]


def _entries(db: Database, kind: Kind, ids: Sequence[int]) -> dict[int, Entry]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = db.query(f"SELECT * FROM {TABLES[kind]} WHERE id IN ({marks})", list(ids))
    return {int(row["id"]): from_row(kind, row) for row in rows}


def fuse(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of id rankings (best first): ``(id, score)``, best first.

    Ties keep the order in which the ids first appear (the earlier ranking wins).
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for position, entry_id in enumerate(ranking, 1):
            scores[entry_id] = scores.get(entry_id, 0.0) + 1.0 / (k + position)
    return sorted(scores.items(), key=lambda item: -item[1])


def search(
    conn: Connection,
    encoder: Encoder,
    mode: Retrieval,
    kind: Kind,
    query: str,
    k: int,
    where: str = "",
    params: dict[str, Any] | None = None,
) -> list[tuple[Entry, float]]:
    """The ``k`` entries of ``kind`` most relevant to ``query``, best first, with scores.

    ``embedding``: cosine similarity (at least :data:`MIN_SIMILARITY`). ``hybrid``:
    reciprocal-rank fusion of the BM25 ranking and that similarity ranking, each cut to the
    same depth as an ``fts`` search re-scores. Higher is better. An empty query finds nothing.
    """
    if fts_query(query) is None or k <= 0:
        return []
    ranked = rank(conn, encoder, kind, query, where, params)
    similar = [(i, s) for i, s in ranked if s >= MIN_SIMILARITY]
    if mode == "embedding":
        best = similar[:k]
        found = conn.read(lambda db: _entries(db, kind, [i for i, _ in best]))
        return [(found[i], s) for i, s in best if i in found]
    depth = max(4 * k, fts.CANDIDATES)
    lexical = conn.read(lambda db: fts.search(db, kind, query, depth, where, params))
    known: dict[int, Entry] = {e.id: e for e, _ in lexical if e.id is not None}
    # The similarity ranking goes first: it wins ties (in a small memory BM25 often ranks an
    # entry first for sharing one common word).
    fused = fuse([[i for i, _ in similar[:depth]], list(known)])[:k]
    missing = [i for i, _ in fused if i not in known]
    known.update(conn.read(lambda db: _entries(db, kind, missing)))
    return [(known[i], s) for i, s in fused if i in known]
