"""Run records: one row per run, one row per subtask, and app snapshots.

A run's record is written in parts, so that saving after every step costs what changed, not
the whole run: the ``runs`` row holds the run's header (plan, steward calls, settings) and its
progress (status, usage, answer) in separate columns; each subtask has a ``details`` row with
its status and its record, whose history is written once, when the subtask ends. A run's
storage therefore grows linearly with its steps. ``load_run`` puts the parts back together.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlite_utils

from core.errors import UserError
from core.paths import data_dir
from memory.db import retry_busy

SubtaskRow = tuple[str, str, dict[str, Any] | None]
"""(subtask id, status, record); ``None`` as the record updates only the status."""

_PROGRESS = (
    "status",
    "answer",
    "error",
    "replans",
    "usage",
    "usage_by_agent",
    "ended_at",
    "wall_s",
)


class RunNotFoundError(UserError):
    """No run with that id in the run store."""


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


_TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...]]] = {
    "runs": (
        {
            "run_id": str,
            "instruction": str,
            "status": str,
            "created_at": float,
            "updated_at": float,
            "record": str,
            "progress": str,
        },
        "run_id",
    ),
    "details": (
        {"run_id": str, "subtask_id": str, "record": str, "status": str, "retrieved": str},
        ("run_id", "subtask_id"),
    ),
    "snapshots": (
        {"run_id": str, "ref": str, "app": str, "state": str},
        ("run_id", "ref", "app"),
    ),
}
"""Table -> (columns, primary key). A column missing from an older version's file is added
when the store opens it; a new table is created."""


class RunStore:
    """sqlite-utils store of run records, in ``runs.db`` under the data folder by default.

    Several processes may create and write the same file at once (WAL, a busy timeout, one
    ``BEGIN IMMEDIATE`` transaction per save, and the set-up retried while sqlite answers
    "database is locked").
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else str(data_dir() / "runs.db")
        self._lock = threading.Lock()
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        try:
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if self.path != ":memory:":
                retry_busy(self._enable_wal, what=f"switch {self.path} to WAL")
            retry_busy(self._create, what=f"create the tables of {self.path}")
        except BaseException:
            conn.close()
            raise

    def _table(self, name: str) -> sqlite_utils.db.Table:
        return self.db.table(name)

    def _enable_wal(self) -> None:
        with self._lock:
            self.db.execute("PRAGMA journal_mode=WAL")

    def _create(self) -> None:
        """Create the tables and add missing columns, in one transaction."""
        with self._transaction():
            for name, (columns, pk) in _TABLES.items():
                table = self._table(name)
                table.create(columns, pk=pk, if_not_exists=True)
                existing = table.columns_dict
                for column, kind in columns.items():
                    if column not in existing:  # an older version's file
                        table.add_column(column, kind)

    # -- writing ------------------------------------------------------------------------------

    def save_run(self, record: dict[str, Any]) -> None:
        """Insert or replace a whole run record (header, progress and every subtask)."""
        subtasks = [(s["id"], s.get("status", ""), s) for s in record.get("subtasks") or []]
        self.save_step(record["run_id"], header=record, progress=record, subtasks=subtasks)

    def save_step(
        self,
        run_id: str,
        *,
        header: dict[str, Any] | None = None,
        progress: dict[str, Any] | None = None,
        subtasks: Iterable[SubtaskRow] = (),
    ) -> None:
        """Write what changed in one transaction.

        ``header`` is the run record without its subtasks (the plan, steward calls, settings;
        its ``subtasks`` are ignored); ``progress`` its changing fields (status, usage, answer,
        error...); ``subtasks`` the subtask rows that changed.
        """
        now = time.time()
        rows = list(subtasks)
        with self._transaction():
            if header is not None:
                head = {k: v for k, v in header.items() if k not in _PROGRESS}
                head["subtasks"] = []
                self.db.execute(
                    "INSERT INTO runs (run_id, instruction, status, created_at, updated_at, "
                    "record) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET "
                    "instruction = excluded.instruction, record = excluded.record, "
                    "updated_at = excluded.updated_at",
                    [
                        run_id,
                        header.get("instruction", ""),
                        header.get("status", ""),
                        header.get("started_at") or now,
                        now,
                        _dumps(head),
                    ],
                )
            if progress is not None:
                part = {k: progress[k] for k in _PROGRESS if k in progress}
                self.db.execute(
                    "UPDATE runs SET status = ?, progress = ?, updated_at = ? WHERE run_id = ?",
                    [part.get("status", ""), _dumps(part), now, run_id],
                )
            for subtask_id, status, record in rows:
                self._put_subtask(run_id, subtask_id, status, record)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``: no lock upgrade can deadlock)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _put_subtask(
        self, run_id: str, subtask_id: str, status: str, record: dict[str, Any] | None
    ) -> None:
        if record is None:
            self.db.execute(
                "UPDATE details SET status = ? WHERE run_id = ? AND subtask_id = ?",
                [status, run_id, subtask_id],
            )
            return
        self.db.execute(
            "INSERT INTO details (run_id, subtask_id, record, status) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(run_id, subtask_id) DO UPDATE SET record = excluded.record, "
            "status = excluded.status",
            [run_id, subtask_id, _dumps(record), status],
        )

    def save_detail(
        self,
        run_id: str,
        subtask_id: str,
        record: dict[str, Any],
        status: str | None = None,
        *,
        retrieved: Any = None,
    ) -> None:
        """Insert or replace one subtask's record (``status`` defaults to the record's), with
        what memory returned for its prompts (``retrieved``, shown under the run record's
        ``retrieved.expertise``)."""
        with self._transaction():
            self._put_subtask(run_id, subtask_id, status or record.get("status", ""), record)
            if retrieved is not None:
                self.db.execute(
                    "UPDATE details SET retrieved = ? WHERE run_id = ? AND subtask_id = ?",
                    [_dumps(retrieved), run_id, subtask_id],
                )

    def save_snapshot(self, run_id: str, ref: str, app: str, state: dict[str, Any]) -> None:
        """Keep one app's state under ``ref`` (e.g. ``after:s1``)."""
        self.save_snapshots(run_id, ref, {app: state})

    def save_snapshots(self, run_id: str, ref: str, states: Mapping[str, dict[str, Any]]) -> None:
        """Keep several apps' states under ``ref``, in one transaction."""
        with self._transaction():
            for app, state in states.items():
                self.db.execute(
                    "INSERT OR REPLACE INTO snapshots (run_id, ref, app, state) "
                    "VALUES (?, ?, ?, ?)",
                    [run_id, ref, app, _dumps(state)],
                )

    # -- reading ------------------------------------------------------------------------------

    def load_run(self, run_id: str) -> dict[str, Any]:
        """The whole run record (a unique prefix of the id is enough)."""
        rows = list(self.db.query("select record, progress from runs where run_id = ?", [run_id]))
        if not rows:
            matches = list(
                self.db.query("select run_id from runs where run_id like ? limit 2", [run_id + "%"])
            )
            if len(matches) == 1:
                return self.load_run(matches[0]["run_id"])
            raise RunNotFoundError(f"no run {run_id!r}; `steward runs` lists the runs")
        record = dict(json.loads(rows[0]["record"] or "{}"))
        if rows[0]["progress"]:
            record.update(json.loads(rows[0]["progress"]))
        subtasks = []
        expertise: dict[str, Any] = {}
        for r in self.db.query(
            "select subtask_id, record, status, retrieved from details "
            "where run_id = ? and status is not null order by rowid",
            [run_id],
        ):
            subtasks.append({**json.loads(r["record"]), "status": r["status"]})
            if r["retrieved"] is not None:
                expertise[r["subtask_id"]] = json.loads(r["retrieved"])
        if subtasks:  # records written before subtasks had rows of their own keep theirs
            record["subtasks"] = subtasks
        if expertise:
            retrieved = record.setdefault("retrieved", {})
            retrieved["expertise"] = {**retrieved.get("expertise", {}), **expertise}
        record.setdefault("run_id", run_id)
        record["apps"] = self.app_states(record["run_id"])
        return record

    def app_states(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Each app's state before the run (snapshot ``initial``) and after it (``final``,
        taken when the run stopped, whatever stopped it), by app name."""
        out: dict[str, dict[str, Any]] = {}
        for row in self.db.query(
            "select ref, app, state from snapshots where run_id = ? and ref in "
            "('initial', 'final') order by rowid",
            [run_id],
        ):
            when = "before" if row["ref"] == "initial" else "after"
            out.setdefault(row["app"], {"before": None, "after": None})[when] = json.loads(
                row["state"]
            )
        return out

    def has_run(self, run_id: str) -> bool:
        """Whether a run with exactly this id has a record."""
        rows = self.db.execute("select 1 from runs where run_id = ? limit 1", [run_id])
        return rows.fetchone() is not None

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "select run_id, instruction, status, created_at, updated_at from runs "
                "order by created_at desc limit ?",
                [limit],
            )
        )

    def details(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Subtask id -> its stored record, with its current status."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.db.query(
            "select subtask_id, record, status from details where run_id = ? order by rowid",
            [run_id],
        ):
            record = json.loads(r["record"])
            if r["status"]:
                record["status"] = r["status"]
            out[r["subtask_id"]] = record
        return out

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
