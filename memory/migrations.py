"""Ordered schema migrations, recorded in ``_migrations`` (name, applied_at).

Append new migrations to :data:`MIGRATIONS` and bump :data:`SCHEMA_VERSION`; never edit or
reorder one that has shipped. A database that records a migration this code does not know, or
a ``schema_version`` above ours, was written by a newer Steward and is refused, not touched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from sqlite_utils import Database

from memory.errors import MemoryStoreError
from memory.models import now_iso

SCHEMA_VERSION = 2
"""The schema version this code writes and understands."""


def _m0001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE guidelines (
            id INTEGER PRIMARY KEY,
            instruction TEXT NOT NULL,
            norm TEXT NOT NULL,
            graph TEXT NOT NULL,
            guideline TEXT NOT NULL DEFAULT '',
            task_tokens TEXT NOT NULL DEFAULT '[]',
            tokens_key TEXT NOT NULL DEFAULT '',
            outcome TEXT NOT NULL DEFAULT 'success',
            provenance TEXT NOT NULL,
            uses INTEGER NOT NULL DEFAULT 0,
            successes INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX guidelines_tokens_key ON guidelines (tokens_key, norm);
        CREATE INDEX guidelines_usefulness ON guidelines (successes, updated_at);

        CREATE TABLE expertise (
            id INTEGER PRIMARY KEY,
            task_token TEXT NOT NULL,
            subtask TEXT NOT NULL,
            norm TEXT NOT NULL,
            tips TEXT NOT NULL DEFAULT '[]',
            actions TEXT NOT NULL DEFAULT '[]',
            provenance TEXT NOT NULL,
            uses INTEGER NOT NULL DEFAULT 0,
            successes INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX expertise_token ON expertise (task_token, norm);
        CREATE INDEX expertise_usefulness ON expertise (successes, updated_at);
        """
    )
    db.table("guidelines").enable_fts(
        ["instruction", "guideline"], create_triggers=True, tokenize="porter unicode61"
    )
    db.table("expertise").enable_fts(
        ["subtask", "tips"], create_triggers=True, tokenize="porter unicode61"
    )


def _m0002_embeddings(db: Database) -> None:
    # Sentence vectors for embedding retrieval, filled lazily (``memory.embedding.index``).
    # The triggers drop an entry's vectors when it is deleted (delete, clear, prune, eviction)
    # or its embedded text changes, so a vector never outlives what it describes.
    script = """
        CREATE TABLE embeddings (
            kind TEXT NOT NULL,
            entry_id INTEGER NOT NULL,
            model TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (kind, entry_id, model)
        );
        """
    for kind, table, column in (
        ("guideline", "guidelines", "instruction"),
        ("expertise", "expertise", "subtask"),
    ):
        drop = f"DELETE FROM embeddings WHERE kind = '{kind}' AND entry_id = old.id;"
        script += f"""
        CREATE TRIGGER {table}_embeddings_delete AFTER DELETE ON {table}
        BEGIN {drop} END;
        CREATE TRIGGER {table}_embeddings_update AFTER UPDATE OF id, {column} ON {table}
        WHEN old.id IS NOT new.id OR old.{column} IS NOT new.{column}
        BEGIN {drop} END;
        """
    db.executescript(script)


MIGRATIONS: list[tuple[str, Callable[[Database], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_embeddings", _m0002_embeddings),
]
"""Every migration, in the order it must run."""


def _table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(r[0]) for r in rows}


def check_schema(conn: sqlite3.Connection, path: str) -> None:
    """Raise :class:`MemoryStoreError` when the database was written by a newer Steward."""
    tables = _table_names(conn)
    known = {name for name, _ in MIGRATIONS}
    unknown: list[str] = []
    if "_migrations" in tables:
        rows = conn.execute("SELECT name FROM _migrations ORDER BY rowid").fetchall()
        unknown = [str(r[0]) for r in rows if r[0] not in known]
    version = 0
    if "_meta" in tables:
        row = conn.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()
        if row is not None:
            try:
                version = int(row[0])
            except (TypeError, ValueError):
                version = SCHEMA_VERSION + 1  # unreadable: assume it is not ours to change
    if unknown or version > SCHEMA_VERSION:
        detail = f"schema version {version}, this Steward knows {SCHEMA_VERSION}"
        if unknown:
            detail += f"; unknown migrations: {', '.join(unknown)}"
        raise MemoryStoreError(
            f"memory database {path} was written by a newer Steward ({detail}); upgrade Steward "
            "or point STEWARD_MEMORY_DB / --db at another file"
        )


def apply_migrations(db: Database, path: str = "") -> list[str]:
    """Apply the pending migrations inside the caller's transaction; return their names."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    # Re-check under the write lock: another process may have upgraded the file meanwhile.
    check_schema(db.conn, path)
    done = {str(r[0]) for r in db.execute("SELECT name FROM _migrations").fetchall()}
    applied: list[str] = []
    for name, migrate in MIGRATIONS:
        if name in done:
            continue
        migrate(db)
        db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [name, now_iso()])
        applied.append(name)
    if applied:
        db.execute(
            "INSERT INTO _meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [str(SCHEMA_VERSION)],
        )
    return applied
