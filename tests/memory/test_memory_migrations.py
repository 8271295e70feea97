from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memory import SCHEMA_VERSION, MemoryStore, MemoryStoreError
from memory.migrations import MIGRATIONS
from tests.memory.factories import guideline


def _migrations(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def test_migrations_recorded_and_idempotent(db_file: Path) -> None:
    with MemoryStore(db_file) as store:
        store.add_guideline(guideline("send hello to alice"))
    assert _migrations(db_file) == [name for name, _ in MIGRATIONS]
    for _ in range(2):
        with MemoryStore(db_file) as store:
            assert len(store.list()) == 1
    assert _migrations(db_file) == [name for name, _ in MIGRATIONS]
    with sqlite3.connect(db_file) as conn:
        applied_at = conn.execute("SELECT applied_at FROM _migrations").fetchone()[0]
        version = conn.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert applied_at.startswith("20")
    assert version == (str(SCHEMA_VERSION),)
    assert mode == "wal"


def test_default_path_is_in_data_dir(tmp_path: Path) -> None:
    with MemoryStore() as store:
        assert Path(store.path) == tmp_path / "home" / "steward" / "memory.db"


def test_env_var_points_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_MEMORY_DB", str(tmp_path / "sub" / "other.db"))
    with MemoryStore() as store:
        assert store.path == str(tmp_path / "sub" / "other.db")
    assert (tmp_path / "sub" / "other.db").exists()


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO _migrations (name, applied_at) VALUES ('9999_from_the_future', 'x')",
        f"UPDATE _meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'",
    ],
)
def test_newer_schema_is_refused_and_untouched(db_file: Path, sql: str) -> None:
    with MemoryStore(db_file) as store:
        store.add_guideline(guideline("send hello to alice"))
    conn = sqlite3.connect(db_file)
    conn.execute(sql)
    conn.commit()
    conn.close()
    before = _snapshot(db_file)
    with pytest.raises(MemoryStoreError, match="newer Steward"):
        MemoryStore(db_file)
    assert _snapshot(db_file) == before


@pytest.mark.parametrize(
    "content", [b"this is not a database\n" * 200, b"SQLite format 3\x00" + b"\xff" * 5000]
)
def test_corrupt_file_is_refused_and_untouched(db_file: Path, content: bytes) -> None:
    db_file.write_bytes(content)
    with pytest.raises(MemoryStoreError, match="not a readable sqlite database") as info:
        MemoryStore(db_file)
    assert "\n" not in str(info.value)
    assert db_file.read_bytes() == content
    assert sorted(p.name for p in db_file.parent.iterdir()) == ["home", "memory.db"]


def test_directory_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MemoryStoreError, match="is a directory"):
        MemoryStore(tmp_path)
