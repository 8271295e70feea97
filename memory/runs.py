"""Run records: one row per run, plus per-subtask details and app snapshots.

The orchestrator's checkpoint state stays small (statuses, key information, references); the
heavy parts (every attempt's steps and calls, app snapshots) are written here once each, so a
run's storage grows linearly with its steps.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from core.errors import UserError
from core.paths import data_dir


class RunNotFoundError(UserError):
    """No run with that id in the run store."""


class RunStore:
    """sqlite-utils store of run records, in ``runs.db`` under the data folder by default."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else str(data_dir() / "runs.db")
        self._lock = threading.Lock()
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._create()

    def _create(self) -> None:
        with self._lock:
            if "runs" not in self.db.table_names():
                self.db["runs"].create(
                    {
                        "run_id": str,
                        "instruction": str,
                        "status": str,
                        "created_at": float,
                        "updated_at": float,
                        "record": str,
                    },
                    pk="run_id",
                    if_not_exists=True,
                )
            self.db["details"].create(
                {"run_id": str, "subtask_id": str, "record": str},
                pk=("run_id", "subtask_id"),
                if_not_exists=True,
            )
            self.db["snapshots"].create(
                {"run_id": str, "ref": str, "app": str, "state": str},
                pk=("run_id", "ref", "app"),
                if_not_exists=True,
            )

    def save_run(self, record: dict[str, Any]) -> None:
        """Insert or replace the run's summary record."""
        now = time.time()
        row = {
            "run_id": record["run_id"],
            "instruction": record.get("instruction", ""),
            "status": record.get("status", ""),
            "created_at": record.get("started_at") or now,
            "updated_at": now,
            "record": json.dumps(record, default=str),
        }
        with self._lock:
            self.db["runs"].upsert(row, pk="run_id")

    def load_run(self, run_id: str) -> dict[str, Any]:
        rows = list(self.db.query("select record from runs where run_id = ?", [run_id]))
        if not rows:
            matches = list(
                self.db.query("select run_id from runs where run_id like ? limit 2", [run_id + "%"])
            )
            if len(matches) == 1:
                return self.load_run(matches[0]["run_id"])
            raise RunNotFoundError(f"no run {run_id!r}; `steward runs` lists the runs")
        return dict(json.loads(rows[0]["record"]))

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "select run_id, instruction, status, created_at, updated_at from runs "
                "order by created_at desc limit ?",
                [limit],
            )
        )

    def save_detail(self, run_id: str, subtask_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            self.db["details"].upsert(
                {
                    "run_id": run_id,
                    "subtask_id": subtask_id,
                    "record": json.dumps(record, default=str),
                },
                pk=("run_id", "subtask_id"),
            )

    def details(self, run_id: str) -> dict[str, dict[str, Any]]:
        return {
            r["subtask_id"]: json.loads(r["record"])
            for r in self.db.query(
                "select subtask_id, record from details where run_id = ?", [run_id]
            )
        }

    def save_snapshot(self, run_id: str, ref: str, app: str, state: dict[str, Any]) -> None:
        with self._lock:
            self.db["snapshots"].upsert(
                {"run_id": run_id, "ref": ref, "app": app, "state": json.dumps(state, default=str)},
                pk=("run_id", "ref", "app"),
            )

    def load_snapshot(self, run_id: str, ref: str, app: str) -> dict[str, Any]:
        rows = list(
            self.db.query(
                "select state from snapshots where run_id = ? and ref = ? and app = ?",
                [run_id, ref, app],
            )
        )
        if not rows:
            raise RunNotFoundError(f"run {run_id} has no snapshot {ref!r} of app {app!r}")
        return dict(json.loads(rows[0]["state"]))

    def close(self) -> None:
        self.db.conn.close()
