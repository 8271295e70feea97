"""Several processes creating the same new ``runs.db`` at the same moment."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from memory.runs import RunStore

PROCESSES, ROUNDS = 8, 6


def _open_store(path: str, start: Any, results: Any) -> None:
    """Wait for the others, then create the store; report "ok" or the error."""
    start.wait(timeout=30)
    try:
        RunStore(path).close()
    except Exception as exc:
        results.put(f"{type(exc).__name__}: {exc}")
    else:
        results.put("ok")


def test_processes_creating_one_new_file_at_once(tmp_path: Path) -> None:
    """Every process gets a working store: none fails with "database is locked"."""
    ctx = multiprocessing.get_context("fork")
    for n in range(ROUNDS):
        path = str(tmp_path / f"runs{n}.db")
        start, results = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [
            ctx.Process(target=_open_store, args=(path, start, results)) for _ in range(PROCESSES)
        ]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert outcomes == ["ok"] * PROCESSES, f"round {n}"
        store = RunStore(path)
        assert {"runs", "details", "snapshots"} <= set(store.db.table_names())
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.close()


def test_an_older_file_gets_the_missing_columns(tmp_path: Path) -> None:
    """A file from before ``progress``, ``status`` and ``retrieved`` existed opens and gains them."""
    path = tmp_path / "runs.db"
    old = sqlite3.connect(path)
    old.execute("create table runs (run_id text primary key, instruction text, record text)")
    old.execute("create table details (run_id text, subtask_id text, record text)")
    old.execute("insert into runs values ('r1', 'old run', '{}')")
    old.commit()
    old.close()
    store = RunStore(path)
    assert "progress" in store.db["runs"].columns_dict
    assert {"status", "retrieved"} <= set(store.db["details"].columns_dict)
    assert store.load_run("r1")["run_id"] == "r1"
    store.close()
